"""The steady engine against a real lab server: judged by counts, the server's own view and wide ratios."""

from __future__ import annotations

import time

import pytest

from lab.client import httpx
from lab.errors import BurstError
from lab.load.burst import run_burst
from lab.load.fire import run
from lab.load.latency import Second
from lab.load.steady import SteadyLoad, SteadyPlan, error_kind, run_steady


def test_latency_counts_the_queue_a_closed_loop_client_hides(lab_url: str) -> None:
    """20/s at an endpoint that serves 10/s, one at a time: the open loop's p99 is the queue (~3 s),
    where a closed-loop client, waiting for each answer before the next, reports one request (~100 ms)."""
    url = f"{lab_url}/sleep/broken?delay_ms=100"
    closed = run_burst(url, requests=10, concurrency=1).summary.latency
    result = run_steady(SteadyPlan(url, rate=20, duration_s=3))
    assert closed is not None and result.report.latency.p99 is not None
    assert result.report.errors == {} and result.report.answered == 60
    assert result.report.latency.p99 >= 5 * closed.p99  # ideal ~30x
    assert result.server is not None and result.server.peak_in_handler == 1  # the loop was held: a real queue
    # The client kept its schedule, so the latency is the server's queue, not the client being late.
    assert result.behind_s < result.report.latency.p99 / 5


def test_sends_the_planned_count_on_schedule(lab_url: str) -> None:
    seconds: list[Second] = []
    result = run_steady(SteadyPlan(f"{lab_url}/health", rate=40, duration_s=2), on_second=seconds.append)
    r = result.report
    assert (r.sent, r.answered, r.skipped, r.failed) == (80, 80, 0, 0)
    assert sum(row.sent for row in r.timeline) == 80
    assert [row.index for row in r.timeline] == list(range(len(r.timeline)))
    assert seconds == list(r.timeline[: len(seconds)]) and len(seconds) >= 1  # the live rows are the report's
    assert 0.5 * 40 <= result.achieved_rate <= 2 * 40  # the exact figure is the benchmark's: a wide margin here
    assert len(result.sample) == 80 and all(k.outcome == "200" for k in result.sample)


def test_in_flight_cap_skips_and_says_so(lab_url: str) -> None:
    """At the cap, a due send is skipped and counted, never queued in the client or dropped unseen."""
    plan = SteadyPlan(f"{lab_url}/sleep/async?delay_ms=600", rate=50, duration_s=1, max_in_flight=5)
    result = run_steady(plan)
    r = result.report
    assert r.sent + r.skipped == 50
    assert r.skipped >= 25  # 5 out for 0.6 s each: about 10 of the 50 can leave in 1 s
    assert sum(row.skipped for row in r.timeline) == r.skipped
    assert max(row.in_flight for row in r.timeline) == 5
    assert result.server is not None and result.server.peak_in_flight <= 5
    assert any(f"{r.skipped:,} sends skipped: 5 requests were already in flight" in note for note in result.notes())


def test_timeouts_are_counted_by_kind(lab_url: str) -> None:
    plan = SteadyPlan(f"{lab_url}/sleep/async?delay_ms=2000", rate=10, duration_s=0.5, timeout_s=0.3)
    result = run_steady(plan)
    assert result.report.errors == {"timeout": 5}
    assert result.report.answered == 0


def test_runs_on_a_given_time_axis(lab_url: str) -> None:
    """A prober beside the load shares its clock: send 0 is due at `start_at`, rows count seconds from it."""
    start_at = time.perf_counter() + 0.5
    load = SteadyLoad(SteadyPlan(f"{lab_url}/health", rate=20, duration_s=1), start_at=start_at)
    result = run(load.run())
    assert load.t0 == start_at
    assert result.report.first_send_s is not None and result.report.first_send_s >= 0
    assert min(k.due_s for k in result.sample) == 0.0
    assert load.timeline == list(result.report.timeline)


@pytest.mark.parametrize(
    ("url", "usage", "words"),
    [
        ("http://192.0.2.1/health", True, "only sends to loopback"),
        ("ftp://127.0.0.1/health", True, "not an http(s) URL"),
    ],
)
def test_bad_plans(url: str, usage: bool, words: str) -> None:
    with pytest.raises(BurstError) as caught:
        SteadyPlan(url, rate=10, duration_s=1).check()
    assert caught.value.usage is usage
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (TimeoutError(), "timeout"),
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.ConnectTimeout("slow"), "timeout"),
        (httpx.ConnectError("refused"), "refused"),
        (httpx.RemoteProtocolError("server disconnected"), "reset"),
        (httpx.ReadError("connection reset by peer"), "reset"),
        (ValueError("anything else"), "other"),
    ],
)
def test_error_kinds(error: Exception, kind: str) -> None:
    assert error_kind(error) == kind
