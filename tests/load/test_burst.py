"""The burst engine against a real lab server: judged by the server's own signals, not by the clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from lab.errors import BurstError
from lab.launch.process import ThreadServer
from lab.load.burst import run_burst
from lab.load.verdict import CONCURRENT, SERIALIZED


def test_broken_endpoint_serializes(lab_url: str) -> None:
    result = run_burst(f"{lab_url}/sleep/broken?delay_ms=100", requests=8)
    assert result.summary.ok == 8
    assert result.server is not None
    assert result.server.peak_in_flight == 1  # one handler at a time: the loop was held
    assert result.server.loop_lag_max_s >= 0.05  # the heartbeat was late by at least half a handler
    assert result.verdict.kind == SERIALIZED
    assert result.summary.wall_s >= 0.8 * 8 * 0.1  # the wait is real: the lower bound cannot be beaten


@pytest.mark.parametrize("variant", ["sync", "async"])
def test_fixed_endpoints_overlap(lab_url: str, variant: str) -> None:
    result = run_burst(f"{lab_url}/sleep/{variant}?delay_ms=200", requests=8)
    assert result.summary.ok == 8
    assert result.server is not None
    assert result.server.peak_in_flight >= 6
    assert result.verdict.kind == CONCURRENT, result.verdict.reasons


def test_broken_is_several_times_slower_than_fixed_in_one_run(lab_url: str) -> None:
    fixed = run_burst(f"{lab_url}/sleep/async?delay_ms=100", requests=8)
    broken = run_burst(f"{lab_url}/sleep/broken?delay_ms=100", requests=8)
    assert broken.summary.wall_s / fixed.summary.wall_s > 3  # ideal 8x: a wide margin


def test_samples_share_one_start_and_carry_server_times(lab_url: str) -> None:
    result = run_burst(f"{lab_url}/sleep/async?delay_ms=100", requests=5)
    assert [s.index for s in result.samples] == list(range(5))
    for sample in result.samples:
        assert 0 <= sample.start_s < sample.end_s <= result.summary.wall_s
        assert sample.server_time_s is not None and sample.server_time_s >= 0.09
        assert sample.server_start_s is not None
        assert sample.pid is not None


def test_concurrency_limit_is_respected(lab_url: str) -> None:
    result = run_burst(f"{lab_url}/sleep/async?delay_ms=100", requests=6, concurrency=2)
    assert result.server is not None
    assert result.server.peak_in_flight <= 2
    assert result.concurrency == 2


def test_json_shape(lab_url: str) -> None:
    data = run_burst(
        f"{lab_url}/predict/async?delay_ms=50",
        requests=3,
        method="POST",
        json_body={"feature_1": 1.0, "feature_2": 2.0},
    ).to_json()
    for key in (
        "url",
        "method",
        "requests",
        "concurrency",
        "wall_s",
        "ok",
        "errors",
        "status_counts",
        "latency_s",
        "verdict",
        "samples",
    ):
        assert key in data
    assert set(data["latency_s"]) == {"min", "p50", "p95", "p99", "max", "mean"}
    assert set(data["samples"][0]) >= {"start_s", "end_s", "status", "error"}
    assert data["method"] == "POST" and data["ok"] == 3


@pytest.fixture()
def plain_server() -> Iterator[str]:
    """Any HTTP server, not a lab one: no /lab/stats."""
    app = FastAPI()

    @app.get("/")
    async def root() -> dict[str, str]:
        return {"hello": "world"}

    @app.get("/fail")
    async def fail() -> None:
        raise RuntimeError("boom")

    with ThreadServer(app) as server:
        yield server.url


def test_works_against_any_http_server(plain_server: str) -> None:
    result = run_burst(plain_server + "/", requests=5)
    assert result.server is None
    assert result.summary.ok == 5


def test_server_errors_are_counted_not_hidden(plain_server: str) -> None:
    result = run_burst(plain_server + "/fail", requests=4)
    assert result.summary.ok == 0
    # uvicorn answers 500, then closes the connection: a reused one fails as a read error. Both show.
    assert result.summary.status_counts.get("500", 0) + sum(result.summary.errors.values()) == 4
    assert result.summary.status_counts.get("500", 0) >= 1


@pytest.mark.parametrize(
    ("url", "kwargs", "message"),
    [
        ("localhost:8000/x", {}, "not an http(s) URL"),
        ("http://127.0.0.1:8000/", {"requests": 0}, "requests must be between 1 and 10000"),
        ("http://127.0.0.1:8000/", {"requests": 10_001}, "requests must be between"),
        ("http://127.0.0.1:8000/", {"requests": 5, "concurrency": 6}, "concurrency must be between 1 and 5"),
        ("http://127.0.0.1:8000/", {"method": "BREW"}, "unknown method"),
        ("http://127.0.0.1:8000/", {"timeout": -1}, "timeout must be"),
    ],
)
def test_bad_arguments_get_one_line(url: str, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(BurstError, match="^" + message.replace("(", r"\(").replace(")", r"\)")) as info:
        run_burst(url, **kwargs)
    assert "\n" not in str(info.value)


def test_closed_port_is_a_clear_error() -> None:
    from lab.launch.process import bind_socket

    sock = bind_socket()
    port = sock.getsockname()[1]
    sock.close()  # now nothing listens there
    with pytest.raises(BurstError, match="cannot connect to http://127.0.0.1:"):
        run_burst(f"http://127.0.0.1:{port}/", requests=2)


def test_a_burst_is_bounded_in_time(lab_url: str) -> None:
    """Serialized requests that would take 4 s are cut off at the burst's deadline, and say so."""
    result = run_burst(f"{lab_url}/sleep/broken?delay_ms=400", requests=10, deadline_s=1.0)
    assert result.summary.wall_s < 3.0  # 1 s deadline, plus the in-flight handler the loop was stuck in
    assert result.summary.errors.get("BurstDeadline", 0) >= 5
    assert len(result.samples) == 10  # nothing silently dropped
