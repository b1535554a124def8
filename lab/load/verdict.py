"""Pure verdicts: did a burst run concurrently, one request after another, or in waves?

The ratio k = wall / (one request alone) says it: k ~ 1 concurrent, k ~ N serialized,
k ~ ceil(N / pool size) waves. The server's own counters (peak overlap, loop lag, thread
tokens) say it more robustly when the target is a lab server, and explain *why*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from lab.protocol import ServerStats

CONCURRENT = "concurrent"
SERIALIZED = "serialized"
WAVES = "waves"
INCONCLUSIVE = "inconclusive"
FAILED = "failed"

TOO_FAST_S = 0.005  # below this, scheduler noise is as large as the work: nothing to judge
SERIAL_FRACTION = 0.8  # k >= 0.8 N counts as serialized
CONCURRENT_SLACK = 0.75  # k < ideal + 0.75 counts as concurrent (client launch costs a little)


@dataclass(frozen=True)
class Verdict:
    kind: str
    k: float | None = None  # wall / single-request latency
    wave_size: int | None = None
    reasons: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"waves of ~{self.wave_size}" if self.kind == WAVES else self.kind

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "k": None if self.k is None else round(self.k, 3),
            "wave_size": self.wave_size,
            "reasons": self.reasons,
        }


def judge(
    requests: int,
    concurrency: int,
    wall_s: float,
    single_s: float | None,
    ok: int,
    server: ServerStats | None = None,
    server_max_s: float | None = None,
) -> Verdict:
    """Classify a burst. `single_s` is one request alone, timed before the burst.

    `server_max_s` is the longest time any request spent inside the server's app (its
    X-Process-Time). It includes waiting for a thread or a process, but not the client's own
    cost of opening and reading 100 connections, so at large N it judges waves better than wall time.
    """
    if ok == 0:
        return Verdict(FAILED, reasons=["no request succeeded"])
    if requests < 2 or concurrency < 2:
        return Verdict(INCONCLUSIVE, reasons=["a burst needs at least 2 requests sent at once to show overlap"])
    if single_s is None or single_s < TOO_FAST_S:
        return Verdict(
            INCONCLUSIVE,
            reasons=[f"one request takes under {TOO_FAST_S * 1000:.0f} ms: too fast for overlap to show"],
        )
    k = wall_s / single_s
    ideal = math.ceil(requests / concurrency)
    reasons = [f"{requests} requests took {wall_s:.2f} s = {k:.1f} x one request alone ({single_s * 1000:.0f} ms)"]
    if server is not None:
        reasons += _server_reasons(server, single_s)

    if server is not None and server.peak_in_flight == 1:
        reasons.append("they ran one after another")
        return Verdict(SERIALIZED, k, reasons=reasons)
    if k >= SERIAL_FRACTION * requests:
        if server is not None:
            reasons.append(
                "they overlapped but got no faster: one at a time made progress (the GIL, or one shared resource)"
            )
        else:
            reasons.append("they ran one after another")
        return Verdict(SERIALIZED, k, reasons=reasons)
    # Inside the server, time spent queueing for a thread or a process still shows;
    # the client's own cost of launching a large burst does not.
    k_inside = server_max_s / single_s if server_max_s is not None else k
    if min(k, k_inside) < ideal + CONCURRENT_SLACK:
        reasons.append("they ran at the same time" if ideal == 1 else f"as expected with {concurrency} at a time")
        return Verdict(CONCURRENT, k, reasons=reasons)
    wave_size = _wave_size(requests, min(k, k_inside), server)
    reasons.append(f"they ran in waves of about {wave_size}")
    return Verdict(WAVES, k, wave_size=wave_size, reasons=reasons)


def _wave_size(requests: int, k: float, server: ServerStats | None) -> int:
    if server is not None and server.thread_tokens_total and server.thread_tokens_peak >= server.thread_tokens_total:
        return server.thread_tokens_total  # every thread-pool token was out: the pool size is the wave
    return math.ceil(requests / max(2, round(k)))


def _server_reasons(server: ServerStats, single_s: float) -> list[str]:
    reasons = [f"the server had at most {server.peak_in_flight} request(s) in its handlers at once"]
    if server.loop_lag_max_s >= max(0.05, single_s / 2):
        reasons.append(f"its event loop was blocked for up to {server.loop_lag_max_s * 1000:.0f} ms")
    if server.thread_tokens_total and server.thread_tokens_peak >= server.thread_tokens_total:
        reasons.append(f"all {server.thread_tokens_total} thread-pool tokens were in use")
    return reasons
