"""The wire format between a measured server and the lab: one type, written and read the same way."""

from __future__ import annotations

import pytest

from lab.errors import ProtocolError
from lab.protocol import (
    BlockingSite,
    GaugeReading,
    RequestRecord,
    ServerStats,
    ServerTimes,
    ThreadPool,
    UnawaitedCoroutine,
)


def stats(**overrides: object) -> ServerStats:
    fields: dict[str, object] = {
        "since": 12.5,
        "in_flight": 2,
        "peak_in_flight": 10,
        "loop_lag_max_s": 0.0123456789,
        "loop_lag_last_s": 0.001,
        "heartbeats": 42,
        "thread_tokens_total": 40,
        "thread_tokens_peak": 7,
        "counters": {"model_loads": 1},
        "gauges": {"sdk_in_flight": GaugeReading(0, 5)},
        "requests": (
            RequestRecord("GET", "/sleep/async", 200, 13.0, 13.1, 13.01, 13.09),
            RequestRecord("GET", "/nowhere", 404, 13.2, 13.3),
        ),
        "peak_in_handler": 3,
        "handler_peaks": {"/sleep/async": 3},
        "peak_token_waiters": 60,
        "blocking": (
            BlockingSite("/app.py", 12, "predict", "time.sleep(1)", "time.sleep(...)", 0.9, 0.9, "/deps.py", 4, "user"),
        ),
        "blocking_samples": 300,
        "unawaited": (UnawaitedCoroutine("sleep", "/app.py", 30, "predict", "asyncio.sleep(0.2)", 20),),
        "threadpools": (ThreadPool("openblas", "blas", 1), ThreadPool("openblas", "blas", 1)),
        "workers": 2,
        "loop_lag_own_max_s": 0.002,
        "loop_lag_starved_s": 0.25,
    }
    return ServerStats(**{**fields, **overrides})  # type: ignore[arg-type]


def test_json_round_trip_keeps_every_field() -> None:
    original = stats()
    # Every field is set to something other than its default, so a field the reader forgets shows here.
    defaults = ServerStats(0.0, 0, 0, 0.0, 0.0, 0, 0, 0)
    assert [f for f in original.__dict__ if getattr(original, f) == getattr(defaults, f)] == []
    again = ServerStats.from_json(original.to_json())
    assert again == ServerStats(**{**original.__dict__, "loop_lag_max_s": 0.012346})


def test_json_names_are_the_documented_ones() -> None:
    data = stats().to_json()
    assert set(data) == {
        "since",
        "in_flight",
        "peak_in_flight",
        "loop_lag_max_s",
        "loop_lag_last_s",
        "heartbeats",
        "thread_tokens_total",
        "thread_tokens_peak",
        "counters",
        "gauges",
        "requests",
        "peak_in_handler",
        "handler_peaks",
        "peak_token_waiters",
        "blocking",
        "blocking_samples",
        "unawaited",
        "workers",
        "threadpools",
        "loop_lag_own_max_s",
        "loop_lag_starved_s",
    }
    assert data["gauges"] == {"sdk_in_flight": {"current": 0, "peak": 5}}
    assert "requests" not in stats().to_json(with_requests=False)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([], "not a JSON object"),
        ({"detail": "Not Found"}, "KeyError"),
        ({**stats().to_json(), "peak_in_flight": "ten"}, "peak_in_flight must be an integer"),
        ({**stats().to_json(), "heartbeats": True}, "heartbeats must be an integer"),
        ({**stats().to_json(), "counters": [1]}, "counters must be an object"),
        ({**stats().to_json(), "since": None}, "since must be a number"),
    ],
)
def test_anything_else_is_one_protocol_error(data: object, words: str) -> None:
    with pytest.raises(ProtocolError, match=words):
        ServerStats.from_json(data)


def test_merging_workers_takes_the_worst_and_sums_the_counters() -> None:
    a = stats(peak_in_flight=3, loop_lag_max_s=0.5, counters={"calls": 2}, gauges={"g": GaugeReading(1, 2)}, workers=1)
    b = stats(since=13.0, peak_in_flight=5, loop_lag_max_s=0.1, counters={"calls": 3, "loads": 1}, gauges={}, workers=1)
    merged = ServerStats.merge([a, b])
    assert (merged.peak_in_flight, merged.loop_lag_max_s) == (5, 0.5)
    assert merged.counters == {"calls": 5, "loads": 1}
    assert merged.gauges == {"g": GaugeReading(0, 2)}
    assert merged.workers == 2 and len(merged.requests) == 4
    # The same line blocked in both workers: its time adds up, and it is the whole of the blocking.
    assert [(site.line, site.stalled_s, site.share) for site in merged.blocking] == [(12, 1.8, 1.0)]
    assert merged.blocking_samples == 600
    assert ServerStats.merge([a]) is a


@pytest.mark.parametrize(
    "times",
    [ServerTimes(1234.5, 0.25, 4321), ServerTimes(1234.5, 0.25, 4321, handler_start=1234.6, handler_end=1234.7)],
)
def test_server_times_travel_as_headers(times: ServerTimes) -> None:
    headers = {k.decode(): v.decode() for k, v in times.headers()}
    assert ServerTimes.from_headers(headers) == times


def test_a_handler_stamp_outside_the_request_is_ignored() -> None:
    headers = {k.decode(): v.decode() for k, v in ServerTimes(10.0, 0.5, 1).headers()}
    assert ServerTimes.from_headers({**headers, "x-lab-handler": "9.0,9.5"}) == ServerTimes(10.0, 0.5, 1)
    assert ServerTimes.from_headers({**headers, "x-lab-handler": "garbage"}) == ServerTimes(10.0, 0.5, 1)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-lab-start": "1", "x-process-time": "x", "x-lab-pid": "1"},
        {"x-lab-start": "nan", "x-process-time": "1", "x-lab-pid": "1"},
    ],
)
def test_other_servers_have_no_times(headers: dict[str, str]) -> None:
    assert ServerTimes.from_headers(headers) is None


def test_a_blocking_site_from_an_older_server_has_no_async_caller() -> None:
    site = BlockingSite("/db.py", 11, "fetch", "time.sleep(1)", "time.sleep(...)", 0.9, 1.0, "/deps.py", 4, "get_db")
    assert BlockingSite.from_json(site.to_json()) == site
    older = {k: v for k, v in site.to_json().items() if not k.startswith("async_")}
    assert BlockingSite.from_json(older) == BlockingSite(
        "/db.py", 11, "fetch", "time.sleep(1)", "time.sleep(...)", 0.9, 1.0
    )
