"""The wire format between a measured server and the lab: one type, written and read the same way."""

from __future__ import annotations

import pytest

from lab.errors import ProtocolError
from lab.protocol import GaugeReading, RequestRecord, ServerStats, ServerTimes


def stats(**overrides: object) -> ServerStats:
    fields: dict[str, object] = {
        "since": 12.5,
        "in_flight": 0,
        "peak_in_flight": 10,
        "loop_lag_max_s": 0.0123456789,
        "loop_lag_last_s": 0.001,
        "heartbeats": 42,
        "thread_tokens_total": 40,
        "thread_tokens_peak": 7,
        "counters": {"model_loads": 1},
        "gauges": {"sdk_in_flight": GaugeReading(0, 5)},
        "requests": (RequestRecord("GET", "/sleep/async", 200, 13.0, 13.1),),
    }
    return ServerStats(**{**fields, **overrides})  # type: ignore[arg-type]


def test_json_round_trip_keeps_every_field() -> None:
    original = stats()
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
        "workers",
        "threadpools",
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
    a = stats(peak_in_flight=3, loop_lag_max_s=0.5, counters={"calls": 2}, gauges={"g": GaugeReading(1, 2)})
    b = stats(since=13.0, peak_in_flight=5, loop_lag_max_s=0.1, counters={"calls": 3, "loads": 1}, gauges={})
    merged = ServerStats.merge([a, b])
    assert (merged.peak_in_flight, merged.loop_lag_max_s) == (5, 0.5)
    assert merged.counters == {"calls": 5, "loads": 1}
    assert merged.gauges == {"g": GaugeReading(0, 2)}
    assert merged.workers == 2 and len(merged.requests) == 2
    assert ServerStats.merge([a]) is a


def test_server_times_travel_as_headers() -> None:
    times = ServerTimes(start=1234.5, elapsed_s=0.25, pid=4321)
    headers = {k.decode(): v.decode() for k, v in times.headers()}
    assert ServerTimes.from_headers(headers) == times


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
