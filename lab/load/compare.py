"""`lab compare`: the same burst at the sync, async and broken twins of one scenario, side by side."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from lab.errors import LabError
from lab.launch.process import LAB_APP, ServerProcess
from lab.load.burst import BurstResult, burst
from lab.scenarios import SCENARIOS, VARIANTS, Scenario

MAX_COMPARE_REQUESTS = 1_000


@dataclass(frozen=True)
class Comparison:
    scenario: Scenario
    requests: int
    delay_ms: int
    variants: dict[str, BurstResult]

    def speedup(self, variant: str) -> float | None:
        """How many times faster than the broken twin (wall time against wall time)."""
        broken, this = self.variants.get("broken"), self.variants[variant]
        if broken is None or this.summary.wall_s <= 0:
            return None
        return broken.summary.wall_s / this.summary.wall_s

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "delay_ms": self.delay_ms,
            "scenario": self.scenario.name,
            "variants": {name: result.to_json() for name, result in self.variants.items()},
            "speedup_over_broken": {name: _round(self.speedup(name)) for name in self.variants},
        }

    # Display hooks, as `BurstResult`'s: the view is imported only when the comparison is shown.
    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from lab.view.burst import comparison_report

        yield comparison_report(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, str]:
        from lab.view.jupyter import mimebundle

        return mimebundle(self, include, exclude)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def check_compare_arguments(scenario: str, requests: int, delay_ms: int) -> Scenario:
    """One line for each mistake, saying what is allowed (a usage `LabError`)."""
    if scenario not in SCENARIOS:
        raise LabError(f"unknown scenario {scenario!r}: choose one of {', '.join(SCENARIOS)}", usage=True)
    if not 2 <= requests <= MAX_COMPARE_REQUESTS:
        raise LabError(f"requests must be between 2 and {MAX_COMPARE_REQUESTS}, got {requests}", usage=True)
    limit = SCENARIOS[scenario].max_delay_ms
    if not 1 <= delay_ms <= limit:
        raise LabError(f"delay must be between 1 and {limit} ms for {scenario}, got {delay_ms}", usage=True)
    return SCENARIOS[scenario]


async def compare(base_url: str, scenario: Scenario, requests: int, delay_ms: int) -> Comparison:
    """Fire the same burst at each twin, one twin at a time, on one server."""
    results = {}
    for variant in VARIANTS:
        results[variant] = await burst(
            scenario.url(base_url, variant, delay_ms),
            requests=requests,
            method=scenario.method,
            json_body=scenario.json_body,
        )
    return Comparison(scenario, requests, delay_ms, results)


def require_extra(scenario: Scenario) -> None:
    """A `LabError` line naming the install command when the scenario's optional extra is missing here."""
    if scenario.extra is not None and not scenario.extra.installed():
        raise LabError(scenario.extra.missing(f"the {scenario.name} scenario"))


@contextmanager
def lab_server(url: str | None, scenario: Scenario | None = None) -> Iterator[str]:
    """The given server's base URL, or a fresh lab server of our own, stopped on the way out.

    A server of our own that could not serve `scenario` (its optional extra is not installed) is not
    started: one `LabError` line says which command installs it. A given server answers for itself.
    """
    if url is not None:
        yield url.rstrip("/")
        return
    if scenario is not None:
        require_extra(scenario)
    with ServerProcess(LAB_APP) as server:
        yield server.url
