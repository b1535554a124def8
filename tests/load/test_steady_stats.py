"""The steady run's statistics, fed tables of events with their times: no clock, no server."""

from __future__ import annotations

import tracemalloc

import pytest

from lab.load.latency import Percentiles, Recorder, status_kind


@pytest.mark.parametrize(
    ("status", "kind"),
    [(200, None), (204, None), (302, None), (404, "status_4xx"), (422, "status_4xx"), (500, "status_5xx"),
     (503, "status_5xx")],
)  # fmt: skip
def test_status_kinds(status: int, kind: str | None) -> None:
    assert status_kind(status) == kind


def test_percentiles_of_a_known_distribution() -> None:
    """1..1000 ms, one each: the percentiles are the values themselves, within the histogram's 0.1 %."""
    record = Recorder()
    for ms in range(1, 1001):
        record.sent(0.0, 0.0)
        record.answered(1.5, ms / 1000, 200)
    latency = record.report().latency
    expected = {"p50": 0.500, "p90": 0.900, "p99": 0.990, "p99_9": 0.999, "max": 1.000}
    for name, value in expected.items():
        assert getattr(latency, name) == pytest.approx(value, rel=0.002), name
    assert latency.count == 1000


def test_one_slow_request_in_a_thousand_reaches_p99_9_not_p99() -> None:
    record = Recorder()
    for i in range(1000):
        record.sent(0.0, 0.0)
        record.answered(0.5, 3.0 if i == 999 else 0.010, 200)
    latency = record.report().latency
    assert latency.p99 == pytest.approx(0.010, rel=0.01)
    assert latency.p99_9 == pytest.approx(0.010, rel=0.01)  # 999 of 1000 at or below 10 ms
    assert latency.max == pytest.approx(3.0, rel=0.001)


def test_counts_errors_by_kind_and_in_flight() -> None:
    record = Recorder()
    for t in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5):
        record.sent(t, 0.0)
    assert record.in_flight == 6
    record.answered(0.6, 0.6, 200)
    record.answered(0.7, 0.6, 503)
    record.answered(0.8, 0.6, 404)
    record.failed(1.2, "timeout")
    record.failed(1.3, "refused")
    record.skipped(0.55)
    assert record.in_flight == 1
    report = record.report()
    assert (report.sent, report.answered, report.skipped) == (6, 3, 1)
    assert report.errors == {"timeout": 1, "refused": 1, "status_5xx": 1, "status_4xx": 1}
    assert report.failed == 4
    assert report.latency.count == 3  # answers of any status, from their scheduled sends


def test_timeline_rows_by_the_second_things_happened_in() -> None:
    record = Recorder()
    record.sent(0.1, 0.001)
    record.sent(0.6, 0.001)
    record.answered(0.7, 0.6, 200)  # the 0.1 send
    record.sent(1.1, 0.001)
    record.skipped(1.2)
    record.answered(3.2, 2.6, 200)  # the 0.6 send: nothing came back in seconds 1 and 2
    record.failed(3.5, "timeout")
    closed = record.close_until(2.0)
    assert [r.index for r in closed] == [0, 1]
    assert (closed[0].sent, closed[0].answered, closed[0].in_flight) == (2, 1, 2)
    assert closed[0].p50_s == pytest.approx(0.6, rel=0.01)
    assert (closed[1].sent, closed[1].answered, closed[1].skipped, closed[1].p99_s) == (1, 0, 1, None)
    assert record.close_until(2.5) == []  # second 2 is not over yet
    rows = record.report().timeline
    assert [r.index for r in rows] == [0, 1, 2, 3]
    assert (rows[2].sent, rows[2].answered, rows[2].in_flight) == (0, 0, 2)  # an empty second still has a row
    assert (rows[3].answered, rows[3].errors, rows[3].p99_s) == (1, 1, pytest.approx(2.6, rel=0.01))
    assert rows[3].to_json() == {
        "t": 3, "sent": 0, "answered": 1, "errors": 1, "skipped": 0, "in_flight": 2,
        "p50_ms": rows[3].to_json()["p50_ms"], "p99_ms": rows[3].to_json()["p99_ms"],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("sends", "rate"),
    [([0.0, 0.001, 0.002], 1000.0), ([0.0, 0.5, 1.0, 1.5], 2.0), ([0.0], 0.0), ([], 0.0), ([1.0, 1.0], 0.0)],
)
def test_achieved_rate(sends: list[float], rate: float) -> None:
    record = Recorder()
    for t in sends:
        record.sent(t, 0.0)
    assert record.report().achieved_rate() == pytest.approx(rate)


def test_schedule_lag_percentiles() -> None:
    record = Recorder()
    for i in range(100):
        record.sent(i / 100, 0.0005 if i < 98 else 3.2)  # two sends left 3.2 s late
    lag = record.report().schedule_lag
    assert lag.p50 == pytest.approx(0.0005, rel=0.01)
    assert lag.max == pytest.approx(3.2, rel=0.001)


def test_empty_run_has_no_percentiles() -> None:
    assert Recorder().report().latency == Percentiles()
    assert Percentiles().as_ms(("p50", "max")) == {"p50": None, "max": None}


def test_values_beyond_the_range_are_clamped_not_lost() -> None:
    record = Recorder()
    record.sent(0.0, -0.001)  # a send a hair early (clock jitter) counts as on time
    record.answered(0.1, 10_000.0, 200)
    report = record.report()
    assert report.schedule_lag.count == 1 and report.schedule_lag.max == 0.0
    assert report.latency.count == 1 and report.latency.max == pytest.approx(3600.0, rel=0.001)


def test_memory_does_not_grow_with_requests() -> None:
    """20,000 requests over 20 s cost no more than a few per-second rows beyond 1,000 over 1 s."""

    def peak(requests: int, seconds: int) -> int:
        tracemalloc.start()
        record = Recorder()
        for i in range(requests):
            t = i * seconds / requests
            record.sent(t, 0.0001)
            record.answered(t + 0.002, 0.002, 200)
            record.close_until(t)
        record.report()
        size = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return size

    small, big = peak(1_000, 1), peak(20_000, 20)
    assert (
        big - small < 200 * 1024
    )  # 20 rows of a few hundred bytes; a record or a histogram per request or second would be megabytes
