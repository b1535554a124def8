"""What crosses the socket between a measured server and the lab: `/lab/stats` and the `X-Lab-*` headers.

    stats = ServerStats.from_json(response.json())   # the load side reads it...
    return stats.to_json()                            # ...the server writes it, from the same type

Defined once, here, for the server that writes it (`lab.instruments`) and the one client that
reads it (`lab.load.stats`). Times are `time.perf_counter()` seconds: on Linux that is
CLOCK_MONOTONIC, shared by every process on the machine, so a client on the same host can put a
server's stamps on its own timeline. Pure: imports nothing of the lab but its errors.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lab.errors import ProtocolError

__all__ = [
    "HANDLER_HEADER",
    "HTTP_CLIENTS",
    "INTRA_OP_CHANGES",
    "INTRA_OP_IN_CALLS",
    "PID_HEADER",
    "PROCESSES",
    "PROCESS_POOLS",
    "PROCESS_TIME_HEADER",
    "RESET_PATH",
    "ROUTES_PATH",
    "START_HEADER",
    "STATS_PATH",
    "BlockingSite",
    "GaugeReading",
    "RequestRecord",
    "ServerStats",
    "ServerTimes",
    "ThreadPool",
    "UnawaitedCoroutine",
]

STATS_PATH = "/lab/stats"
RESET_PATH = "/lab/stats/reset"
ROUTES_PATH = "/lab/routes"  # what an OpenAPI schema leaves out: WebSocket routes, mounts, streams (`lab scan`)
PROCESS_TIME_HEADER = "x-process-time"  # seconds from arriving to the first byte of the answer
START_HEADER = "x-lab-start"  # perf_counter when the request arrived
PID_HEADER = "x-lab-pid"  # which worker process answered
HANDLER_HEADER = "x-lab-handler"  # "start,end" perf_counter of the handler functions, when any ran

# Counters and gauges in `/lab/stats` that the judge reads by name (lab.course.grade).
PROCESS_POOLS = "process_pools_made"  # ProcessPoolExecutors made while a request was in the app (lab.server.made)
PROCESSES = "processes_started"  # multiprocessing processes (fork or spawn) started while a request was in the app
HTTP_CLIENTS = "http_clients_made"  # httpx clients (sync or async) made while a request was in the app
INTRA_OP_IN_CALLS = "intra_op_threads_in_calls"  # gauge: the most native threads per call a model call ran with
INTRA_OP_CHANGES = "intra_op_changes"  # counter: how often that setting differed from the previous call's reading


@dataclass(frozen=True)
class ServerTimes:
    """One response's `X-Lab-*` stamps: when it arrived, how long until its answer started, which
    process answered, and when its handler ran (None when no handler function ran)."""

    start: float
    elapsed_s: float
    pid: int
    handler_start: float | None = None
    handler_end: float | None = None

    def headers(self) -> list[tuple[bytes, bytes]]:
        stamps = [
            (PROCESS_TIME_HEADER.encode(), f"{self.elapsed_s:.6f}".encode()),
            (START_HEADER.encode(), f"{self.start:.6f}".encode()),
            (PID_HEADER.encode(), str(self.pid).encode()),
        ]
        if self.handler_start is not None and self.handler_end is not None:
            stamps.append((HANDLER_HEADER.encode(), f"{self.handler_start:.6f},{self.handler_end:.6f}".encode()))
        return stamps

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> ServerTimes | None:
        """The stamps of a lab server's response; None for any other server (or garbled stamps)."""
        try:
            times = cls(float(headers[START_HEADER]), float(headers[PROCESS_TIME_HEADER]), int(headers[PID_HEADER]))
        except (KeyError, ValueError):
            return None
        if not (math.isfinite(times.start) and math.isfinite(times.elapsed_s)):
            return None
        handler = headers.get(HANDLER_HEADER, "")
        try:
            begun, ended = (float(part) for part in handler.split(","))
        except ValueError:
            return times  # no handler ran (a 404, a 422), or an older server
        if math.isfinite(begun) and math.isfinite(ended) and times.start <= begun <= ended:
            return replace(times, handler_start=begun, handler_end=ended)
        return times


@dataclass(frozen=True)
class GaugeReading:
    current: int
    peak: int


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it, from arriving to its last byte sent.

    `handler_start`/`handler_end`: when its endpoint (or first dependency) began running and when
    the last of them returned; None if no handler ran (a 404, a 422 before the endpoint). Before
    `handler_start` the request was queued: waiting for its body, for a thread token, for the loop.
    """

    method: str
    path: str
    status: int
    start: float
    end: float
    handler_start: float | None = None
    handler_end: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "start": self.start,
            "end": self.end,
            "handler_start": self.handler_start,
            "handler_end": self.handler_end,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RequestRecord:
        handler_start, handler_end = data.get("handler_start"), data.get("handler_end")
        return cls(
            str(data["method"]),
            str(data["path"]),
            int(data["status"]),
            float(data["start"]),
            float(data["end"]),
            None if handler_start is None else float(handler_start),
            None if handler_end is None else float(handler_end),
        )


@dataclass(frozen=True)
class BlockingSite:
    """One line that kept the event loop from running, found at run time by the server's watchdog."""

    file: str  # as the code object names it (`co_filename`); "" for the event loop itself
    line: int
    function: str
    code: str  # the stripped source line
    call: str  # the library call the line was in, e.g. `time.sleep(...)`, `lab.workloads.remote_model_call`
    stalled_s: float
    share: float  # of the window's total stalled time, 0..1
    # The outermost `async def` of the user's code on the loop's stack, when the line is in another function
    # (a helper module's `def` called from an `async def` dependency): the function that has to change.
    # "" and 0 when the line is in that `async def` itself; absent from an older server's answer.
    async_file: str = ""
    async_line: int = 0
    async_function: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "function": self.function,
            "code": self.code,
            "call": self.call,
            "stalled_s": round(self.stalled_s, 6),
            "share": round(self.share, 4),
            "async_file": self.async_file,
            "async_line": self.async_line,
            "async_function": self.async_function,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BlockingSite:
        return cls(
            file=str(data["file"]),
            line=int(data["line"]),
            function=str(data["function"]),
            code=str(data["code"]),
            call=str(data["call"]),
            stalled_s=float(data["stalled_s"]),
            share=float(data["share"]),
            async_file=str(data.get("async_file", "")),
            async_line=int(data.get("async_line", 0)),
            async_function=str(data.get("async_function", "")),
        )


@dataclass(frozen=True)
class UnawaitedCoroutine:
    """A coroutine created and never awaited (`asyncio.sleep(1)` without `await`): where, and how often."""

    name: str  # the coroutine function's name, e.g. "sleep"
    file: str
    line: int
    function: str  # the function that created it
    code: str  # the stripped source line
    count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "line": self.line,
            "function": self.function,
            "code": self.code,
            "count": self.count,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UnawaitedCoroutine:
        return cls(
            str(data["name"]),
            str(data["file"]),
            int(data["line"]),
            str(data["function"]),
            str(data["code"]),
            int(data["count"]),
        )


@dataclass(frozen=True)
class ThreadPool:
    """One native thread pool inside a server process, as `threadpoolctl.threadpool_info()` describes it.

    `library` is the implementation (openblas, mkl, libgomp...), `api` what it serves (blas, openmp),
    `threads` how many threads it runs inside one call: the intra-op threads that multiply with the
    server's own threads and with its worker processes.
    """

    library: str
    api: str
    threads: int


@dataclass(frozen=True)
class ServerStats:
    """`GET /lab/stats`: what one server process measured about itself since `since` (its last reset).

    `peak_in_flight` counts requests inside the app (waiting for a body or a thread token included);
    `peak_in_handler` only those whose endpoint or dependency function was running (on the loop or in
    a worker thread); `peak_token_waiters` the most requests waiting for a thread-pool token at once.
    Counters count since the process started (compare two snapshots to count what one burst did).
    `blocking` names the lines that held the event loop, most stalled first (`blocking_samples`:
    how many stack samples that took; none while the loop stayed healthy); `unawaited` the
    coroutines created and never awaited. `loop_lag_own_max_s` is the worst lag over the stalls the
    server's own threads caused: a stall in which no user code was on the loop and the process used
    under half a core (the OS was running other programs: a busy machine) is left out of it and summed
    in `loop_lag_starved_s` instead. `workers` is how many worker processes' snapshots were
    merged into this one. `threadpools` lists the native thread pools loaded in each of them (one
    entry per pool per process; empty when no BLAS/OpenMP library is loaded, and from servers older
    than the field).
    """

    since: float
    in_flight: int
    peak_in_flight: int
    loop_lag_max_s: float
    loop_lag_last_s: float
    heartbeats: int
    thread_tokens_total: int
    thread_tokens_peak: int
    counters: dict[str, int] = field(default_factory=dict)
    gauges: dict[str, GaugeReading] = field(default_factory=dict)
    requests: tuple[RequestRecord, ...] = ()
    peak_in_handler: int = 0
    handler_peaks: dict[str, int] = field(default_factory=dict)  # path -> most of its requests in a handler
    peak_token_waiters: int = 0
    blocking: tuple[BlockingSite, ...] = ()
    blocking_samples: int = 0
    unawaited: tuple[UnawaitedCoroutine, ...] = ()
    workers: int = 1
    threadpools: tuple[ThreadPool, ...] = ()
    loop_lag_own_max_s: float | None = None  # the worst lag leaving out stalls the OS caused (None: not told)
    loop_lag_starved_s: float = 0.0  # lag of stalls in which the OS ran no thread of the server, summed

    @property
    def loop_lag_judged_s(self) -> float:
        """The lag to judge code by: a busy machine that ran none of the server's threads is not its code."""
        return self.loop_lag_max_s if self.loop_lag_own_max_s is None else self.loop_lag_own_max_s

    @property
    def intra_op_threads(self) -> int:
        """The most threads any one native pool runs inside a call, in any process (0: none loaded)."""
        return max((pool.threads for pool in self.threadpools), default=0)

    def to_json(self, *, with_requests: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "since": self.since,
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak_in_flight,
            "loop_lag_max_s": round(self.loop_lag_max_s, 6),
            "loop_lag_last_s": round(self.loop_lag_last_s, 6),
            "heartbeats": self.heartbeats,
            "thread_tokens_total": self.thread_tokens_total,
            "thread_tokens_peak": self.thread_tokens_peak,
            "counters": dict(self.counters),
            "gauges": {name: {"current": g.current, "peak": g.peak} for name, g in self.gauges.items()},
            "peak_in_handler": self.peak_in_handler,
            "handler_peaks": dict(self.handler_peaks),
            "peak_token_waiters": self.peak_token_waiters,
            "blocking": [site.to_json() for site in self.blocking],
            "blocking_samples": self.blocking_samples,
            "unawaited": [coroutine.to_json() for coroutine in self.unawaited],
            "workers": self.workers,
            "threadpools": [{"library": p.library, "api": p.api, "threads": p.threads} for p in self.threadpools],
            "loop_lag_own_max_s": None if self.loop_lag_own_max_s is None else round(self.loop_lag_own_max_s, 6),
            "loop_lag_starved_s": round(self.loop_lag_starved_s, 6),
        }
        if with_requests:
            data["requests"] = [r.to_json() for r in self.requests]
        return data

    @classmethod
    def from_json(cls, data: Any) -> ServerStats:
        """Read a `/lab/stats` answer; a ProtocolError names the first field that is missing or wrong."""
        if not isinstance(data, Mapping):
            raise ProtocolError(f"/lab/stats is not a JSON object (got {type(data).__name__})")
        try:
            return cls(
                since=_number(data, "since"),
                in_flight=_integer(data, "in_flight"),
                peak_in_flight=_integer(data, "peak_in_flight"),
                loop_lag_max_s=_number(data, "loop_lag_max_s"),
                loop_lag_last_s=_number(data, "loop_lag_last_s"),
                heartbeats=_integer(data, "heartbeats"),
                thread_tokens_total=_integer(data, "thread_tokens_total"),
                thread_tokens_peak=_integer(data, "thread_tokens_peak"),
                counters={str(k): int(v) for k, v in _table(data, "counters").items()},
                gauges={
                    str(k): GaugeReading(int(v["current"]), int(v["peak"])) for k, v in _table(data, "gauges").items()
                },
                requests=tuple(RequestRecord.from_json(r) for r in data.get("requests", ())),
                peak_in_handler=int(data.get("peak_in_handler", 0)),
                handler_peaks={str(k): int(v) for k, v in _table(data, "handler_peaks").items()},
                peak_token_waiters=int(data.get("peak_token_waiters", 0)),
                blocking=tuple(BlockingSite.from_json(site) for site in data.get("blocking", ())),
                blocking_samples=int(data.get("blocking_samples", 0)),
                unawaited=tuple(UnawaitedCoroutine.from_json(c) for c in data.get("unawaited", ())),
                workers=int(data.get("workers", 1)),
                threadpools=tuple(
                    ThreadPool(str(p["library"]), str(p["api"]), int(p["threads"])) for p in data.get("threadpools", ())
                ),
                loop_lag_own_max_s=None
                if data.get("loop_lag_own_max_s") is None
                else float(data["loop_lag_own_max_s"]),
                loop_lag_starved_s=float(data.get("loop_lag_starved_s", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"/lab/stats is not the lab's format: {type(exc).__name__}: {exc}") from None

    @classmethod
    def merge(cls, workers: Iterable[ServerStats]) -> ServerStats:
        """One view of a server from its worker processes' snapshots: peaks and lag are the worst
        worker's, counters are summed, gauges keep the highest peak, thread pools are listed per worker."""
        chosen = list(workers)
        if not chosen:
            raise ValueError("merge() needs at least one snapshot")
        if len(chosen) == 1:
            return chosen[0]
        return replace(
            chosen[0],
            **_each(chosen, _WORST, max),
            **_each(chosen, _SUMMED, sum),
            **_each(chosen, _JOINED, _joined),
            handler_peaks=_max_each(s.handler_peaks for s in chosen),
            blocking=_merge_sites(s.blocking for s in chosen),
            loop_lag_own_max_s=max(s.loop_lag_judged_s for s in chosen),
            counters=_sum_each(s.counters for s in chosen),
            gauges=_peak_gauges(s.gauges for s in chosen),
        )


# How `ServerStats.merge` combines the workers' fields that need no more than one function.
_WORST = (
    "peak_in_flight",
    "peak_in_handler",
    "peak_token_waiters",
    "loop_lag_max_s",
    "thread_tokens_total",
    "thread_tokens_peak",
)
_SUMMED = ("blocking_samples", "loop_lag_starved_s", "workers")
_JOINED = ("unawaited", "requests", "threadpools")  # every worker's, in worker order
_Combine = Callable[[Iterator[Any]], Any]


def _each(snapshots: list[ServerStats], names: tuple[str, ...], combine: _Combine) -> dict[str, Any]:
    return {name: combine(getattr(s, name) for s in snapshots) for name in names}


def _joined(values: Iterator[tuple[Any, ...]]) -> tuple[Any, ...]:
    return tuple(itertools.chain.from_iterable(values))


def _sum_each(tables: Iterable[dict[str, int]]) -> dict[str, int]:
    summed: dict[str, int] = {}
    for table in tables:
        for key, value in table.items():
            summed[key] = summed.get(key, 0) + value
    return summed


def _peak_gauges(tables: Iterable[dict[str, GaugeReading]]) -> dict[str, GaugeReading]:
    """The highest peak of each gauge; its current value means nothing across workers (0)."""
    peaks: dict[str, GaugeReading] = {}
    for table in tables:
        for name, gauge in table.items():
            peaks[name] = GaugeReading(0, max(gauge.peak, peaks[name].peak if name in peaks else 0))
    return peaks


def _max_each(tables: Iterable[dict[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for table in tables:
        for key, value in table.items():
            merged[key] = max(value, merged.get(key, 0))
    return merged


def _merge_sites(per_worker: Iterable[tuple[BlockingSite, ...]]) -> tuple[BlockingSite, ...]:
    """The workers' blocking sites as one list: the same line's time added up, shares of the total."""
    stalled: dict[tuple[str, int, str, str, str, int], tuple[BlockingSite, float]] = {}
    for sites in per_worker:
        for site in sites:
            key = (site.file, site.line, site.function, site.call, site.async_file, site.async_line)
            seen = stalled.get(key)
            stalled[key] = (site, site.stalled_s + (seen[1] if seen else 0.0))
    total = sum(seconds for _, seconds in stalled.values())
    merged = [
        replace(site, stalled_s=seconds, share=seconds / total if total else 0.0) for site, seconds in stalled.values()
    ]
    return tuple(sorted(merged, key=lambda site: site.stalled_s, reverse=True))


def _number(data: Mapping[str, Any], key: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{key} must be a number, got {value!r}")
    return float(value)


def _integer(data: Mapping[str, Any], key: str) -> int:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{key} must be an integer, got {value!r}")
    return value


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise TypeError(f"{key} must be an object, got {value!r}")
    return value
