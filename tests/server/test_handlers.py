""" "In its handler" means its endpoint or a dependency is running: counted by the server, against a real uvicorn.

The signals here do not move on a busy machine: how many requests were in a handler at once is
fixed by how FastAPI runs the code (one loop thread, 40 thread tokens), not by how fast it runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.launch.process import ServerProcess
from lab.load.burst import run_burst
from lab.protocol import ServerStats

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "handlers"
PREDICT_BODY = {"feature_1": 1.5, "feature_2": 0.3}


def server_view(url: str, requests: int, method: str = "GET", body: object = None) -> ServerStats:
    result = run_burst(url, requests=requests, method=method, json_body=body)
    assert result.summary.ok == requests and result.server is not None
    return result.server


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [("/sleep/broken?delay_ms=50", "GET", None), ("/predict/broken?delay_ms=50", "POST", PREDICT_BODY)],
)
def test_the_broken_twin_has_exactly_one_request_in_a_handler(
    lab_url: str, path: str, method: str, body: object
) -> None:
    stats = server_view(lab_url + path, 10, method, body)
    assert stats.peak_in_handler == 1  # the loop ran one handler at a time, whatever else was in flight


def test_the_async_twin_has_every_request_in_its_handler_at_once(lab_url: str) -> None:
    stats = server_view(lab_url + "/sleep/async?delay_ms=1000", 200)
    # How many got inside at once depends on how fast the client launches them (a busy machine: fewer);
    # but every request inside an `async def` twin is in its handler, none waits for a token.
    assert stats.peak_in_flight >= 50
    assert stats.peak_in_handler >= stats.peak_in_flight - 2
    assert stats.peak_token_waiters == 0


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans], key=lambda e: (e[0], e[1]))
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def test_a_def_route_runs_forty_at_a_time_and_the_rest_wait_for_a_token(lab_url: str) -> None:
    result = run_burst(lab_url + "/sleep/sync?delay_ms=300", requests=100)
    stats = result.server
    assert stats is not None and result.summary.ok == 100
    # How many were inside the app at once, from the server's own stamps of each request: 100 on a quiet
    # machine; fewer where a busy client took longer than one request's 300 ms to send all of them.
    inside = [(s.server_start_s, s.server_start_s + s.server_time_s) for s in result.samples]
    assert all(a is not None for span in inside for a in span)
    at_once = _most_at_once(inside)  # type: ignore[arg-type]
    assert at_once > 40, "the client could not get more requests into the app than there are tokens"
    assert abs(stats.peak_in_flight - at_once) <= 1  # all of them inside the app...
    assert stats.peak_in_handler == 40  # ...but only AnyIO's 40 tokens' worth running
    assert stats.peak_token_waiters >= 1  # the others queued for a token (sampled)


def test_requests_awaiting_the_process_pool_are_counted_as_waiting_for_a_process(lab_url: str) -> None:
    import os

    cores = os.cpu_count() or 1
    requests = cores + 6
    result = run_burst(lab_url + "/cpu/async?delay_ms=400", requests=requests)
    stats = result.server
    assert stats is not None and result.summary.ok == requests
    assert stats.peak_in_handler == requests  # every one awaits in its handler...
    assert stats.gauges["process_pool_busy"].peak == cores  # ...one per process computes...
    assert stats.gauges["process_pool_waiting"].peak == requests - cores  # ...the rest wait for a process
    assert result.verdict.wave_size == cores, result.verdict.reasons
    assert any(f"waited for one of the process pool's {cores} processes" in r for r in result.verdict.reasons)


def test_every_answer_carries_its_handler_phase(lab_url: str) -> None:
    result = run_burst(lab_url + "/sleep/broken?delay_ms=50", requests=5)
    for sample in result.samples:
        assert sample.handler_start_s is not None and sample.handler_end_s is not None
        assert sample.server_start_s is not None
        assert sample.server_start_s <= sample.handler_start_s <= sample.handler_end_s <= sample.end_s
    # Serialized: each handler starts after the one before it ended.
    phases = sorted((s.handler_start_s or 0.0, s.handler_end_s or 0.0) for s in result.samples)
    assert all(later[0] >= earlier[1] for earlier, later in zip(phases, phases[1:], strict=False))


def test_dependencies_count_as_the_handler_and_keep_their_semantics() -> None:
    with ServerProcess(str(FIXTURES / "app_dependencies.py")) as server:
        before = run_burst(server.url + "/sync", requests=2).server
        result = run_burst(server.url + "/r/mixed", requests=10)
    assert before is not None and result.server is not None and result.summary.ok == 10
    assert result.server.peak_in_handler == 10  # the sync dependency ran in threads, the endpoint on the loop
    # The per-request dependency cache still holds: `settings` once per request (12 warm-up and burst
    # requests: two warm-ups each), though three dependencies ask for it.
    calls = result.server.counters["settings_calls"] - before.counters.get("settings_calls", 0)
    assert calls == 12
    # Handler time covers the sync dependency (100 ms) and the endpoint's await (100 ms).
    took = [(s.handler_end_s or 0.0) - (s.handler_start_s or 0.0) for s in result.samples]
    assert min(took) >= 0.18


def test_a_plain_def_route_outside_a_router_is_counted_too() -> None:
    with ServerProcess(str(FIXTURES / "app_dependencies.py")) as server:
        stats = run_burst(server.url + "/sync", requests=10).server
    assert stats is not None and stats.peak_in_handler == 10
