"""The server's own instruments, without a server: gauges, counters, the measurement window, the heartbeat."""

from __future__ import annotations

import asyncio
import threading
import time

from lab.instruments import MAX_RECORD_PATH, Instruments, PeakGauge, heartbeat
from lab.protocol import RequestRecord, ServerStats


def test_a_gauge_remembers_the_most_at_once_across_threads() -> None:
    gauge = PeakGauge()
    inside = threading.Barrier(8)

    def work() -> None:
        with gauge.track():
            inside.wait(timeout=10)  # all eight are inside at the same moment

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert (gauge.current, gauge.peak) == (0, 8)
    gauge.enter()
    gauge.reset()  # a new window starts from what runs now
    assert (gauge.current, gauge.peak) == (1, 1)


def test_reset_opens_a_new_window_but_keeps_counters() -> None:
    instruments = Instruments()
    instruments.count("model_loads")
    instruments.in_flight.enter()
    instruments.in_flight.leave()
    instruments.note_lag(0.4)
    instruments.record(RequestRecord("GET", "/x", 200, 1.0, 2.0))
    before = instruments.snapshot()
    assert (before.peak_in_flight, before.loop_lag_max_s, len(before.requests)) == (1, 0.4, 1)
    instruments.reset()
    after = instruments.snapshot()
    assert (after.peak_in_flight, after.loop_lag_max_s, after.requests) == (0, 0.0, ())
    assert after.counters == {"model_loads": 1}  # since the process started, by design
    assert after.since > before.since


def test_the_snapshot_is_the_wire_format() -> None:
    instruments = Instruments()
    instruments.gauge("sdk_in_flight").enter()
    snapshot = instruments.snapshot()
    assert isinstance(snapshot, ServerStats)
    assert ServerStats.from_json(snapshot.to_json()).gauges["sdk_in_flight"].peak == 1


def test_the_heartbeat_measures_how_long_the_loop_was_blocked() -> None:
    instruments = Instruments()

    async def block_once() -> None:
        beat = asyncio.create_task(heartbeat(instruments))
        await asyncio.sleep(0.05)  # a few healthy beats first
        time.sleep(0.3)  # noqa: ASYNC251 - the point: hold the loop, as a broken handler does
        await asyncio.sleep(0.05)
        beat.cancel()

    asyncio.run(block_once())
    # Whatever the machine's load, the beat that waited behind the block was at least that late.
    assert instruments.lag_max_s >= 0.25
    assert instruments.heartbeats >= 3


def test_a_stall_the_heartbeat_has_not_recorded_yet_is_in_the_snapshot() -> None:
    # A broken burst keeps the loop busy to its last handler; the `/lab/stats` that follows can be served
    # before the overdue heartbeat runs: the snapshot must count the stall all the same.
    instruments = Instruments()

    async def stall_then_read() -> tuple[ServerStats, ServerStats]:
        beat = asyncio.create_task(heartbeat(instruments))
        await asyncio.sleep(0.05)
        healthy = instruments.snapshot()
        time.sleep(0.3)  # noqa: ASYNC251 - the point: hold the loop, as a broken handler does
        stalled = instruments.snapshot()  # still on the loop: the heartbeat has not woken yet
        beat.cancel()
        return healthy, stalled

    healthy, stalled = asyncio.run(stall_then_read())
    assert healthy.loop_lag_max_s < 0.25  # a healthy loop reads healthy (whatever the machine's load, not 0.3 s)
    assert stalled.loop_lag_max_s >= 0.25
    assert instruments.snapshot().loop_lag_max_s == instruments.lag_max_s  # a stopped heartbeat adds nothing


def test_recorded_paths_are_capped_in_length() -> None:
    """10,000 records of 60 KB paths held 600 MB: a record keeps the first 200 characters."""
    instruments = Instruments()
    instruments.record(RequestRecord("GET", "/sleep/async?" + "x" * 60_000, 200, 0.0, 0.1))
    instruments.record(RequestRecord("GET", "/health", 200, 0.0, 0.1))
    long, short = instruments.snapshot().requests
    assert len(long.path) == MAX_RECORD_PATH and long.path.startswith("/sleep/async?xxx") and long.path.endswith("…")
    assert short.path == "/health"
