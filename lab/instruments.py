"""The server's own instruments: requests in flight, work in progress, event-loop lag, thread-pool tokens,
and the native (BLAS/OpenMP) thread pools loaded in the process.

A client can only see when its responses came back. The server can see *why*: whether handlers
overlapped, whether the event loop was late to wake up, and how many thread-pool tokens were out.
These readings do not move when the machine is busy, so verdicts are built on them.

One `Instruments` object lives per process (`INSTRUMENTS`): workload helpers called from any
learner's code report into it without being handed anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Protocol

import anyio.to_thread
from threadpoolctl import ThreadpoolController

from lab.protocol import (
    INTRA_OP_CHANGES,
    INTRA_OP_IN_CALLS,
    BlockingSite,
    GaugeReading,
    RequestRecord,
    ServerStats,
    ThreadPool,
    UnawaitedCoroutine,
)
from lab.run_queue import run_queue_clock

__all__ = [
    "HEARTBEAT_INTERVAL_S",
    "INSTRUMENTS",
    "MAX_RECORD_PATH",
    "Instruments",
    "PeakGauge",
    "RequestRecord",
    "heartbeat",
    "native_thread_pools",
]

HEARTBEAT_INTERVAL_S = 0.010
MAX_RECORDS = 10_000
MAX_UNAWAITED_SITES = 20
MAX_PATHS = 50  # path params make paths many: the counts stay bounded
OTHER_PATHS = "(other paths)"
MAX_RECORD_PATH = 200  # characters kept of each recorded path: records are bounded in bytes, not only in count


class PeakGauge:
    """A count of things happening right now, remembering the most seen at once.

    Thread-safe: `def` handlers enter and leave it from worker threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current = 0
        self.peak = 0

    def enter(self) -> None:
        with self._lock:
            self.current += 1
            self.peak = max(self.peak, self.current)

    def leave(self) -> None:
        with self._lock:
            self.current -= 1

    def reset(self) -> None:
        with self._lock:
            self.peak = self.current

    def note(self, value: int) -> None:
        """A reading, not an entry: the peak keeps the highest value noted (a setting seen, not a count)."""
        with self._lock:
            self.peak = max(self.peak, value)

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        """Count the `with` body as running; works in threads and in coroutines alike."""
        self.enter()
        try:
            yield
        finally:
            self.leave()


class BlockingFinder(Protocol):
    """What the instruments need of the watchdog that names the lines blocking the loop."""

    @property
    def samples(self) -> int: ...

    def sites(self, limit: int = 10) -> list[BlockingSite]: ...

    @property
    def user_samples(self) -> int: ...

    def reset(self) -> None: ...


class Instruments:
    """Everything one server process measures about itself; `snapshot()` is its `/lab/stats`."""

    def __init__(self) -> None:
        self.in_flight = PeakGauge()  # requests inside the app (includes waiting for a body or a thread)
        self.in_handler = PeakGauge()  # requests whose endpoint or dependency function is running
        self.handler_paths: dict[str, PeakGauge] = {}  # the same, per request path (bounded)
        self.gauges: dict[str, PeakGauge] = {}  # named overlaps, e.g. a fake downstream's requests
        self._lock = threading.Lock()
        self.counters: dict[str, int] = {}
        self.records: deque[RequestRecord] = deque(maxlen=MAX_RECORDS)
        self.lag_max_s = 0.0
        self.lag_own_max_s = 0.0  # leaving out the stalls the OS caused (a busy machine ran none of our threads)
        self.lag_starved_s = 0.0
        self.lag_last_s = 0.0
        self.heartbeats = 0
        self.last_beat = time.perf_counter()  # when the heartbeat last woke up (read by the watchdog)
        self.beat_due: float | None = None  # when the running heartbeat should wake next (None: not running)
        self.tokens_total = 0
        self.tokens_peak = 0
        self.token_waiters_peak = 0
        self.unawaited: dict[tuple[str, int, str], UnawaitedCoroutine] = {}  # (file, line, name) -> how often
        self.watchdog: BlockingFinder | None = None  # set while the server's watchdog runs (lab.server.watchdog)
        self.declared_pools: dict[str, ThreadPool] = {}  # pools threadpoolctl cannot see, by library
        self._intra_op_last: int | None = None  # the native threads per call the last model call saw
        self.since = time.perf_counter()

    def count(self, name: str, amount: int = 1) -> None:
        """Add to a named counter (model loads, model calls, downstream calls...)."""
        with self._lock:
            self.counters[name] = self.counters.get(name, 0) + amount

    def declare_thread_pool(self, pool: ThreadPool) -> None:
        """Report a native pool threadpoolctl cannot find (ONNX Runtime's own), as its owner configured it."""
        with self._lock:
            self.declared_pools[pool.library] = pool

    def note_intra_op(self) -> None:
        """Read the native (BLAS/OpenMP) threads per call now: at each model call's start and end.

        The setting is process-wide and must hold for the whole burst. Read only after a burst, a
        setting changed per request (`with threadpool_limits(...)` in a route: each exit restores the
        default while other requests' calls still run) shows whichever value the last exit left. Read at
        every call, it shows the race: the highest value a call ran with (gauge `INTRA_OP_IN_CALLS`) and
        how often a reading differed from the one before it (counter `INTRA_OP_CHANGES`). Reading the
        counts is microseconds (`native_thread_pools`): a model call takes tens of milliseconds.
        """
        threads = max((pool.threads for pool in native_thread_pools()), default=0)
        self.gauge(INTRA_OP_IN_CALLS).note(threads)
        with self._lock:
            changed = self._intra_op_last is not None and threads != self._intra_op_last
            self._intra_op_last = threads
        if changed:
            self.count(INTRA_OP_CHANGES)

    def gauge(self, name: str) -> PeakGauge:
        """The named peak gauge, created on first use."""
        with self._lock:
            return self.gauges.setdefault(name, PeakGauge())

    def handler_gauge(self, path: str) -> PeakGauge:
        """The in-handler gauge of one path; past MAX_PATHS paths, one shared gauge for the rest."""
        with self._lock:
            gauge = self.handler_paths.get(path)
            if gauge is None:
                key = path if len(self.handler_paths) < MAX_PATHS else OTHER_PATHS
                gauge = self.handler_paths.setdefault(key, PeakGauge())
            return gauge

    def record(self, record: RequestRecord) -> None:
        if len(record.path) > MAX_RECORD_PATH:  # 10,000 records of 60 KB paths would hold 600 MB
            record = dataclasses.replace(record, path=record.path[: MAX_RECORD_PATH - 1] + "…")
        self.records.append(record)

    def note_unawaited(self, coroutine: UnawaitedCoroutine) -> None:
        """A coroutine was dropped without being awaited (see lab.server.unawaited)."""
        key = (coroutine.file, coroutine.line, coroutine.name)
        with self._lock:
            seen = self.unawaited.get(key)
            if seen is not None:
                coroutine = replace(seen, count=seen.count + coroutine.count)
            elif len(self.unawaited) >= MAX_UNAWAITED_SITES:
                return
            self.unawaited[key] = coroutine

    def note_lag(self, lag_s: float, *, starved: bool = False) -> None:
        self.last_beat = time.perf_counter()
        self.heartbeats += 1
        self.lag_last_s = lag_s
        self.lag_max_s = max(self.lag_max_s, lag_s)
        if starved:
            self.lag_starved_s += lag_s
        else:
            self.lag_own_max_s = max(self.lag_own_max_s, lag_s)

    def user_samples(self) -> int | None:
        """Stack samples the watchdog has taken at a line of user code, ever (None: no watchdog here)."""
        return None if self.watchdog is None else self.watchdog.user_samples

    def note_tokens(self) -> None:
        """Read AnyIO's default thread limiter: must be called on the event-loop thread."""
        statistics = anyio.to_thread.current_default_thread_limiter().statistics()
        self.tokens_total = int(statistics.total_tokens)
        self.tokens_peak = max(self.tokens_peak, int(statistics.borrowed_tokens))
        self.token_waiters_peak = max(self.token_waiters_peak, statistics.tasks_waiting)

    def reset(self) -> None:
        """Start a new measurement window; the gauges keep what is running now.

        Counters are not reset: they count since the process started (a model loaded at start-up
        must still show as one load), so compare two snapshots to count what one burst did.
        """
        self.in_flight.reset()
        self.in_handler.reset()
        for gauge in list(self.handler_paths.values()):
            gauge.reset()
        for gauge in list(self.gauges.values()):
            gauge.reset()
        self.records.clear()
        self.lag_max_s = 0.0
        self.lag_own_max_s = 0.0
        self.lag_starved_s = 0.0
        self.tokens_peak = 0
        self.token_waiters_peak = 0
        with self._lock:
            self.unawaited.clear()
        if self.watchdog is not None:
            self.watchdog.reset()
        self.since = time.perf_counter()

    def snapshot(self) -> ServerStats:
        """What `GET /lab/stats` serves (as `ServerStats.to_json()`)."""
        with self._lock:
            counters = dict(self.counters)
            unawaited = tuple(self.unawaited.values())
            declared = tuple(self.declared_pools.values())
        watchdog = self.watchdog
        overdue = self.overdue_s()
        return ServerStats(
            since=self.since,
            in_flight=self.in_flight.current,
            peak_in_flight=self.in_flight.peak,
            loop_lag_max_s=max(self.lag_max_s, overdue),
            loop_lag_last_s=self.lag_last_s,
            heartbeats=self.heartbeats,
            thread_tokens_total=self.tokens_total,
            thread_tokens_peak=self.tokens_peak,
            counters=counters,
            gauges={name: GaugeReading(g.current, g.peak) for name, g in list(self.gauges.items())},
            requests=tuple(self.records),
            peak_in_handler=self.in_handler.peak,
            handler_peaks={path: g.peak for path, g in list(self.handler_paths.items()) if g.peak},
            peak_token_waiters=self.token_waiters_peak,
            blocking=tuple(watchdog.sites()) if watchdog else (),
            blocking_samples=watchdog.samples if watchdog else 0,
            unawaited=unawaited,
            threadpools=native_thread_pools() + declared,
            # (an overdue beat is not classified yet: it counts as the code's until it is)
            loop_lag_own_max_s=max(self.lag_own_max_s, overdue),
            loop_lag_starved_s=self.lag_starved_s,
        )

    def overdue_s(self) -> float:
        """How late the running heartbeat is right now: a stall still going on (or just ended) that the
        heartbeat has not recorded yet.

        A burst at a broken twin can keep the loop busy from its first handler to its last without one
        beat in between; the loop then serves the next `/lab/stats` before the overdue heartbeat runs
        (I/O callbacks come first in a loop iteration), so the window's one long stall would be missed.
        """
        due = self.beat_due
        return 0.0 if due is None else max(0.0, time.perf_counter() - max(due, self.since))


INSTRUMENTS = Instruments()

_controller: ThreadpoolController | None = None
_modules_seen = -1
_controller_lock = threading.Lock()


def native_thread_pools() -> tuple[ThreadPool, ...]:
    """The BLAS/OpenMP thread pools loaded in this process and how many threads each runs per call.

    Finding the libraries walks every loaded shared object (0.2-2 ms), too slow for each `/lab/stats`
    on the event loop; reading their thread counts is microseconds. So the scan is redone only when
    the set of imported modules has grown (new native libraries arrive with imports), and the counts
    are read fresh every time: a `threadpool_limits` call shows at once.
    """
    global _controller, _modules_seen
    with _controller_lock:
        if _controller is None or len(sys.modules) != _modules_seen:
            _modules_seen = len(sys.modules)
            _controller = ThreadpoolController()
        pools = _controller.info()
    return tuple(ThreadPool(str(p["internal_api"]), str(p["user_api"]), int(p["num_threads"])) for p in pools)


STARVED_MIN_S = 0.02  # shorter stalls are scheduler noise either way
STARVED_SHARE = 0.5  # of a stall spent runnable, waiting for a CPU: the machine's doing, not the code's


def _starved(lag_s: float, queued_s: float, seen: int | None, instruments: Instruments) -> bool:
    """Was this late beat the machine's doing, not the server's? Only when the watchdog saw no line of
    user code on the loop during it, and the loop thread spent most of the stall runnable, waiting for
    the OS to give it a CPU. (Waiting for the GIL behind busy threads, the loop thread sleeps on a lock:
    that is the server's own doing, and is judged. So is a `time.sleep` on the loop: it is sampled.)"""
    if lag_s < STARVED_MIN_S or seen is None:
        return False
    return instruments.user_samples() == seen and queued_s >= STARVED_SHARE * lag_s


async def heartbeat(
    instruments: Instruments = INSTRUMENTS,
    interval_s: float = HEARTBEAT_INTERVAL_S,
    observe: Callable[[float], None] | None = None,
    queued: Callable[[], float] | None = None,
) -> None:
    """Sleep a little, forever, and record how late each wake-up is.

    While any handler blocks the event-loop thread, this task cannot run, so its lateness
    *is* the time the loop was blocked. It also samples the thread-pool tokens in use.
    """
    own = None if queued is not None else run_queue_clock()  # opened on the loop thread: the loop thread's clock
    queued = queued or own
    try:
        while True:
            before, seen = time.perf_counter(), instruments.user_samples()
            queued_before = queued() if queued else 0.0
            instruments.beat_due = before + interval_s
            await asyncio.sleep(interval_s)
            lag_s = max(0.0, time.perf_counter() - before - interval_s)
            queued_s = queued() - queued_before if queued else 0.0
            starved = queued is not None and _starved(lag_s, queued_s, seen, instruments)
            instruments.note_lag(lag_s, starved=starved)
            instruments.note_tokens()
            if observe is not None:
                observe(lag_s)
    finally:
        instruments.beat_due = None  # a stopped heartbeat is not a blocked loop
        if own is not None:
            own.close()
