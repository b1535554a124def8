"""The one stats client: reading a lab server's own view, one worker or several."""

from __future__ import annotations

import asyncio

from lab.client import httpx
from lab.load.stats import fetch, merge_fresh, read, reset
from lab.protocol import GaugeReading, ServerStats


def snapshot(since: float, lag: float, loads: int, peak: int) -> ServerStats:
    return ServerStats(
        since=since,
        in_flight=0,
        peak_in_flight=peak,
        loop_lag_max_s=lag,
        loop_lag_last_s=0.0,
        heartbeats=10,
        thread_tokens_total=40,
        thread_tokens_peak=peak,
        counters={"model_loads": loads},
        gauges={"store_in_flight": GaugeReading(0, peak)},
    )


def test_worker_snapshots_merge_fresh_ones_only() -> None:
    stale = snapshot(1.0, 2.5, 1, 0)  # a worker the reset missed: its start-up lag is still in there
    a, b = snapshot(10.0, 0.02, 1, 3), snapshot(10.5, 0.05, 1, 2)
    merged = merge_fresh([a, stale, b, a], window_start=5.0)
    assert merged is not None and merged.workers == 2
    assert merged.loop_lag_max_s == 0.05 and merged.peak_in_flight == 3
    assert merged.counters == {"model_loads": 2} and merged.gauges["store_in_flight"].peak == 3
    assert merge_fresh([stale], window_start=5.0) == stale  # better than nothing
    assert merge_fresh([a, a], window_start=5.0) == a  # one worker seen twice
    assert merge_fresh([], window_start=5.0) is None


def test_a_lab_server_is_read_and_reset(lab_url: str) -> None:
    async def go() -> tuple[bool, ServerStats | None, ServerStats]:
        async with httpx.AsyncClient(timeout=10) as client:
            was_reset = await reset(client, lab_url + "/sleep/async")  # any URL on the server will do
            await client.get(lab_url + "/sleep/async?delay_ms=1")
            return was_reset, await read(client, lab_url), await fetch(client, lab_url, records=True)

    was_reset, stats, again = asyncio.run(go())
    assert was_reset and stats is not None
    assert stats.requests == ()  # left out unless asked for: megabytes after a large burst
    assert [r.path for r in again.requests] == ["/sleep/async"]
    assert again.since == stats.since  # reading does not start a new window


def test_a_server_that_is_not_a_lab_server_reads_as_none() -> None:
    from fastapi import FastAPI

    import lab

    app = FastAPI()

    @app.get("/lab/stats")
    async def impostor() -> dict[str, str]:
        return {"detail": "not the lab's stats"}

    with lab.serve(app) as server:

        async def go() -> tuple[bool, ServerStats | None]:
            async with httpx.AsyncClient(timeout=10) as client:
                return await reset(client, server.url), await read(client, server.url)

        assert asyncio.run(go()) == (False, None)
