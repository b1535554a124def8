"""What crosses the socket between a measured server and the lab: `/lab/stats` and the `X-Lab-*` headers.

    stats = ServerStats.from_json(response.json())   # the load side reads it...
    return stats.to_json()                            # ...the server writes it, from the same type

Defined once, here, for the server that writes it (`lab.instruments`) and the one client that
reads it (`lab.load.stats`). Times are `time.perf_counter()` seconds: on Linux that is
CLOCK_MONOTONIC, shared by every process on the machine, so a client on the same host can put a
server's stamps on its own timeline. Pure: imports nothing of the lab but its errors.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lab.errors import ProtocolError

__all__ = [
    "PID_HEADER",
    "PROCESS_TIME_HEADER",
    "RESET_PATH",
    "START_HEADER",
    "STATS_PATH",
    "GaugeReading",
    "RequestRecord",
    "ServerStats",
    "ServerTimes",
    "ThreadPool",
]

STATS_PATH = "/lab/stats"
RESET_PATH = "/lab/stats/reset"
PROCESS_TIME_HEADER = "x-process-time"  # seconds from arriving to the first byte of the answer
START_HEADER = "x-lab-start"  # perf_counter when the request arrived
PID_HEADER = "x-lab-pid"  # which worker process answered


@dataclass(frozen=True)
class ServerTimes:
    """One response's `X-Lab-*` stamps."""

    start: float
    elapsed_s: float
    pid: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (PROCESS_TIME_HEADER.encode(), f"{self.elapsed_s:.6f}".encode()),
            (START_HEADER.encode(), f"{self.start:.6f}".encode()),
            (PID_HEADER.encode(), str(self.pid).encode()),
        ]

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> ServerTimes | None:
        """The stamps of a lab server's response; None for any other server (or garbled stamps)."""
        try:
            times = cls(float(headers[START_HEADER]), float(headers[PROCESS_TIME_HEADER]), int(headers[PID_HEADER]))
        except (KeyError, ValueError):
            return None
        return times if math.isfinite(times.start) and math.isfinite(times.elapsed_s) else None


@dataclass(frozen=True)
class GaugeReading:
    current: int
    peak: int


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it, from arriving to its last byte sent."""

    method: str
    path: str
    status: int
    start: float
    end: float


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
    counters count since the process started (compare two snapshots to count what one burst did).
    `workers` is how many worker processes' snapshots were merged into this one. `threadpools` lists
    the native thread pools loaded in each of them (one entry per pool per process; empty when no
    BLAS/OpenMP library is loaded, and from servers older than the field).
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
    workers: int = 1
    threadpools: tuple[ThreadPool, ...] = ()

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
            "workers": self.workers,
            "threadpools": [{"library": p.library, "api": p.api, "threads": p.threads} for p in self.threadpools],
        }
        if with_requests:
            data["requests"] = [
                {"method": r.method, "path": r.path, "status": r.status, "start": r.start, "end": r.end}
                for r in self.requests
            ]
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
                requests=tuple(
                    RequestRecord(
                        str(r["method"]), str(r["path"]), int(r["status"]), float(r["start"]), float(r["end"])
                    )
                    for r in data.get("requests", ())
                ),
                workers=int(data.get("workers", 1)),
                threadpools=tuple(
                    ThreadPool(str(p["library"]), str(p["api"]), int(p["threads"])) for p in data.get("threadpools", ())
                ),
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
        counters: dict[str, int] = {}
        gauges: dict[str, GaugeReading] = {}
        for snapshot in chosen:
            for name, value in snapshot.counters.items():
                counters[name] = counters.get(name, 0) + value
            for name, gauge in snapshot.gauges.items():
                peak = max(gauge.peak, gauges[name].peak if name in gauges else 0)
                gauges[name] = GaugeReading(0, peak)
        return replace(
            chosen[0],
            peak_in_flight=max(s.peak_in_flight for s in chosen),
            loop_lag_max_s=max(s.loop_lag_max_s for s in chosen),
            thread_tokens_total=max(s.thread_tokens_total for s in chosen),
            thread_tokens_peak=max(s.thread_tokens_peak for s in chosen),
            counters=counters,
            gauges=gauges,
            requests=tuple(r for s in chosen for r in s.requests),
            workers=sum(s.workers for s in chosen),
            threadpools=tuple(p for s in chosen for p in s.threadpools),
        )


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
