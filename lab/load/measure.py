"""Pure measurement: a burst's samples in, statistics out. No I/O, no clocks, no rendering."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    """One request of a burst. Times are seconds from the burst's shared start `t0`."""

    index: int
    start_s: float
    end_s: float
    status: int | None = None  # None when no response came back
    error: str | None = None  # the kind of failure: "ReadTimeout", "ConnectError", ...
    server_start_s: float | None = None  # when the server's timing middleware saw it, same clock
    server_time_s: float | None = None  # the server's own X-Process-Time
    pid: int | None = None  # the server process (worker) that answered
    handler_start_s: float | None = None  # when its endpoint (or a dependency) began running, same clock
    handler_end_s: float | None = None  # when the last of them returned: queued before, answering after

    @property
    def latency_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 400


@dataclass(frozen=True)
class LatencyStats:
    min: float
    p50: float
    p95: float
    p99: float
    max: float
    mean: float

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 6) for k, v in vars(self).items()}


@dataclass(frozen=True)
class Summary:
    requests: int
    wall_s: float
    ok: int
    latency: LatencyStats | None  # None when nothing came back
    status_counts: dict[str, int]
    errors: dict[str, int]
    requests_per_s: float
    pids: int  # distinct server processes that answered

    @property
    def failed(self) -> int:
        return self.requests - self.ok


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); `q` in [0, 100]."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    position = (len(sorted_values) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def latency_stats(latencies: Sequence[float]) -> LatencyStats | None:
    if not latencies:
        return None
    values = sorted(latencies)
    return LatencyStats(
        min=values[0],
        p50=percentile(values, 50),
        p95=percentile(values, 95),
        p99=percentile(values, 99),
        max=values[-1],
        mean=sum(values) / len(values),
    )


def summarize(samples: Sequence[Sample]) -> Summary:
    """Wall time is the last response's end, measured from the shared start."""
    answered = [s for s in samples if s.status is not None]
    wall_s = max((s.end_s for s in samples), default=0.0)
    ok = sum(1 for s in samples if s.ok)
    statuses = Counter(str(s.status) for s in answered)
    errors = Counter(s.error for s in samples if s.error)
    return Summary(
        requests=len(samples),
        wall_s=wall_s,
        ok=ok,
        latency=latency_stats([s.latency_s for s in answered]),
        status_counts=dict(sorted(statuses.items())),
        errors=dict(sorted(errors.items())),
        requests_per_s=ok / wall_s if wall_s > 0 else 0.0,
        pids=len({s.pid for s in answered if s.pid is not None}),
    )
