"""The scenarios: each module holds one pitfall's twins side by side.

Every scenario has three variants at `/<scenario>/<variant>`:

- `sync`: a plain `def` handler. FastAPI runs it in a worker thread (AnyIO's pool, 40 tokens).
- `async`: an `async def` handler that does its waiting the right way.
- `broken`: the classic mistake, `async def` plus a blocking call on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str  # with a `{variant}` placeholder
    summary: str
    json_body: dict[str, float] | None = None

    def url(self, base: str, variant: str, delay_ms: int) -> str:
        return f"{base}{self.path.format(variant=variant)}?delay_ms={delay_ms}"


VARIANTS = ("sync", "async", "broken")

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("sleep", "GET", "/sleep/{variant}", "waiting on I/O (a sleep stands in for any blocking call)"),
        Scenario("cpu", "GET", "/cpu/{variant}", "CPU-bound inference in pure Python (holds the GIL)"),
        Scenario(
            "predict",
            "POST",
            "/predict/{variant}",
            "a /predict endpoint with simulated model latency",
            {"feature_1": 1.5, "feature_2": 0.3},
        ),
        Scenario("pool", "GET", "/pool/{variant}", "thread-pool limits: which pool, and how many threads"),
        Scenario("downstream", "GET", "/downstream/{variant}", "calling a slow downstream feature store"),
    )
}
