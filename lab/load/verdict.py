"""Pure verdicts: did a burst run concurrently, one request after another, or in waves?

The ratio k = wall / (one request alone) says it: k ~ 1 concurrent, k ~ N serialized,
k ~ ceil(N / pool size) waves. The server's own counters (peak overlap, loop lag, thread
tokens) say it more robustly when the target is a lab server, and explain *why*.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lab.durations import counted, duration
from lab.protocol import BlockingSite, ServerStats, UnawaitedCoroutine

CONCURRENT = "concurrent"
SERIALIZED = "serialized"
WAVES = "waves"
INCONCLUSIVE = "inconclusive"
FAILED = "failed"

TOO_FAST_S = 0.005  # below this, scheduler noise is as large as the work: nothing to judge
SERIAL_FRACTION = 0.8  # k >= 0.8 N counts as serialized
CONCURRENT_SLACK = 0.75  # k < ideal + 0.75 counts as concurrent (client launch costs a little)
RETRY_GAP_S = 0.9  # Linux retries a connection a full accept backlog dropped after 1 s
SLOWED_TOGETHER = 0.75  # quickest answer / slowest at or above this: no first wave, all slowed alike


def _base(file: str) -> str:
    return file.rsplit("/", 1)[-1]


def site_text(site: BlockingSite) -> str:
    """`sleep.py:34 time.sleep(...)`: where the server's watchdog found the loop held, short enough for a panel
    (`mydb.py:11 time.sleep(...) from get_db()` when the line is in a `def` an `async def` called)."""
    if not site.file:
        return f"no line of code: {site.call}"
    caller = f" from {site.async_function}()" if site.async_function else ""
    return f"{_base(site.file)}:{site.line} {site.call}{caller}"


def site_sentence(site: BlockingSite) -> str:
    """`app.py:36 `time.sleep(...)` held the event loop 3,900 ms in all (97% of the stalled time), in predict()`.

    The time is summed over every stall of the window: more than the longest single stall (the loop lag)
    whenever the line stalled the loop more than once, and said so.

    A line in a helper the loop reached from the user's `async def` names that coroutine too: the line is
    where the loop waited, the `async def` is what has to change (`def`, or a thread for the helper)."""
    held = f"held the event loop {duration(site.stalled_s)} in all ({site.share:.0%} of the stalled time)"
    if not site.file:
        return f"no line of code ({site.call}) {held}"
    text = f"{_base(site.file)}:{site.line} `{site.call}` {held}, in {site.function}()"
    if site.async_function:
        text += (
            f", called on the event loop from `async def {site.async_function}` "
            f"({_base(site.async_file)}:{site.async_line})"
        )
    return text


def unawaited_sentence(coroutine: UnawaitedCoroutine) -> str:
    """`app.py:30 `asyncio.sleep(0.2)` made a coroutine never awaited (10 times), in forgot()`."""
    times = "once" if coroutine.count == 1 else f"{coroutine.count:,} times"
    code = coroutine.code.split("  #", 1)[0]  # the call, without a trailing comment (`# type: ignore[...]`)
    return (
        f"{_base(coroutine.file)}:{coroutine.line} `{code}` made a coroutine never awaited ({times}), "
        f"in {coroutine.function}()"
    )


def _unawaited_reasons(server: ServerStats | None) -> list[str]:
    """A coroutine the server caught unawaited: what it stood for never ran, which is why a request was quick."""
    if server is None or not server.unawaited:
        return []
    return [
        f"the server caught {unawaited_sentence(server.unawaited[0])}: the work it stands for never ran, so the "
        "requests were quicker than that work"
    ]


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
    *,
    latencies: Sequence[float] = (),
    cores: int | None = None,
) -> Verdict:
    """Classify a burst. `single_s` is one request alone, timed before the burst.

    `server_max_s` is the longest time any request spent inside the server's app (its
    X-Process-Time). It includes waiting for a thread or a process, but not the client's own
    cost of opening and reading 100 connections, so at large N it judges waves better than wall time.
    `latencies` (each answered request's) finds stragglers; `cores` (the server's machine's) names
    the pool behind a wave size.
    """
    stragglers = _stragglers(latencies)
    if ok == 0:
        return Verdict(FAILED, reasons=["no request succeeded"])
    if requests < 2 or concurrency < 2:
        return Verdict(INCONCLUSIVE, reasons=["a burst needs at least 2 requests sent at once to show overlap"])
    if single_s is None or single_s < TOO_FAST_S:
        return Verdict(
            INCONCLUSIVE,
            reasons=[
                f"one request takes under {duration(TOO_FAST_S)}: too fast for overlap to show",
                *_unawaited_reasons(server),
                *stragglers,
            ],
        )
    k = wall_s / single_s
    reasons = [f"{requests} requests took {duration(wall_s)} = {k:.1f} x one request alone ({duration(single_s)})"]
    if server is not None:
        reasons += _server_reasons(server, single_s) + _unawaited_reasons(server)
    first = before_a_retry(latencies, single_s)
    if first:
        # Connections the kernel dropped from a full accept backlog come back a second later: how the
        # server ran the requests it had accepted is what the others say, judged without the late ones.
        reasons.append(_retried_text(latencies, first))
        latencies = sorted(latencies)[:first]
        requests, k = first, latencies[-1] / single_s
    else:
        reasons += stragglers
    return _one_at_a_time(requests, k, server, cores, reasons) or _overlapped(
        requests, concurrency, k, single_s, server, server_max_s, latencies, cores, reasons
    )


def _one_at_a_time(
    requests: int, k: float, server: ServerStats | None, cores: int | None, reasons: list[str]
) -> Verdict | None:
    """Serialized, or in waves of the server's own process pool: what the counts say before the times do."""
    if server is not None and _in_handlers(server) == 1:
        reasons.append("they ran one after another")
        return Verdict(SERIALIZED, k, reasons=reasons)
    busy, waiting = process_pool(server)
    if waiting and busy > 1:
        # The server counted its process pool: the processes are the wave, however slow the cores made it.
        reasons.append(f"they ran in waves of about {busy}")
        reasons.append(_why_waves(requests, busy, server, cores))
        rounds = math.ceil(requests / busy)
        if k > 1.5 * rounds:
            reasons.append(
                f"{rounds} rounds of {busy} should take about {rounds} x one request alone; {k:.1f} x means the "
                "processes shared their cores with other work"
            )
        return Verdict(WAVES, k, wave_size=busy, reasons=reasons)
    if k >= SERIAL_FRACTION * requests:
        if server is not None:
            reasons.append(
                "they overlapped but got no faster: one at a time made progress (the GIL, or one shared resource)"
            )
        else:
            reasons.append("they ran one after another")
        return Verdict(SERIALIZED, k, reasons=reasons)
    return None


def _overlapped(
    requests: int,
    concurrency: int,
    k: float,
    single_s: float,
    server: ServerStats | None,
    server_max_s: float | None,
    latencies: Sequence[float],
    cores: int | None,
    reasons: list[str],
) -> Verdict:
    """Concurrent, or in waves: requests that overlapped, and how far."""
    ideal = math.ceil(requests / concurrency)
    # Inside the server, time spent queueing for a thread or a process still shows;
    # the client's own cost of launching a large burst does not.
    k_inside = server_max_s / single_s if server_max_s is not None else k
    if min(k, k_inside) < ideal + CONCURRENT_SLACK:
        reasons.append("they ran at the same time" if ideal == 1 else f"as expected with {concurrency} at a time")
        return Verdict(CONCURRENT, k, reasons=reasons)
    if _slowed_together(latencies) and not _tokens_out(server):
        # Waves need a first wave: requests answered early, the rest a multiple later. When even the
        # quickest took nearly as long as the slowest, they all ran at once, each of them slower.
        reasons.append(
            f"they ran at the same time, every one slowed to about {k:.1f} x one request alone: none was answered "
            "early, as a first wave would be (busy cores, or one shared resource that slowed them all)"
        )
        return Verdict(CONCURRENT, k, reasons=reasons)
    wave_size = _wave_size(requests, min(k, k_inside), server)
    reasons.append(f"they ran in waves of about {wave_size}")
    reasons.append(_why_waves(requests, wave_size, server, cores))
    return Verdict(WAVES, k, wave_size=wave_size, reasons=reasons)


def _slowed_together(latencies: Sequence[float]) -> bool:
    """Every answer within a band of the slowest: in waves of w, the first wave ends near 1/(N/w) of the last.

    Two waves put the quickest answer near half the slowest (0.6 under load); requests slowed all
    alike, 0.85 or more. 0.75 keeps both sides of the line well clear of it.
    """
    return len(latencies) >= 4 and min(latencies) >= SLOWED_TOGETHER * max(latencies)


def _in_handlers(server: ServerStats) -> int:
    """Most requests in a handler at once (a server too old to count that: inside the app)."""
    return server.peak_in_handler or server.peak_in_flight


def _tokens_out(server: ServerStats | None) -> bool:
    return server is not None and 0 < server.thread_tokens_total <= server.thread_tokens_peak


def process_pool(server: ServerStats | None) -> tuple[int, int]:
    """The lab server's own process pool: the most calls it ran at once, the most that waited for a process."""
    if server is None:
        return 0, 0
    busy, waiting = server.gauges.get("process_pool_busy"), server.gauges.get("process_pool_waiting")
    return (busy.peak if busy else 0), (waiting.peak if waiting else 0)


def _wave_size(requests: int, k: float, server: ServerStats | None) -> int:
    if server is not None and _tokens_out(server):
        return server.thread_tokens_total  # every thread-pool token was out: the pool size is the wave
    busy, waiting = process_pool(server)
    if waiting:
        return busy  # calls waited for a process: the processes are the wave
    return math.ceil(requests / max(2, round(k)))


def _why_waves(requests: int, wave_size: int, server: ServerStats | None, cores: int | None) -> str:
    """Which pool set the wave size, as far as the evidence says."""
    if server is None:
        return (
            "estimated from times alone: this server does not report its own view (serve the app with "
            "`lab serve module:app` to see which pool it waits for)"
        )
    if _tokens_out(server):
        return (
            f"`def` handlers ran {_in_handlers(server)} at a time, as many as AnyIO's {server.thread_tokens_total} "
            "thread tokens; a `def` route takes a token again to validate its response, so the answers come back "
            "in groups rather than in clean waves"
        )
    busy, waiting = process_pool(server)
    if waiting:
        return (
            f"the server's process pool ran {busy} calls at a time, one per process; the other requests waited in "
            "their handlers for a process to be free"
        )
    if _in_handlers(server) >= 0.8 * requests:
        inside = f"every request was in its handler at once, yet only about {wave_size} got through at a time: "
        if cores is not None and wave_size == min(32, cores + 4):
            return inside + f"the size of asyncio's default executor here, min(32, cores + 4) = {wave_size} threads"
        return (
            inside + "they waited inside for a pool, a lock or a semaphore, or took turns at CPU work holding the GIL"
        )
    return f"at most {_in_handlers(server)} handlers ran at once"


def _stragglers(latencies: Sequence[float]) -> list[str]:
    """Requests far slower than the rest, said as such (a full accept backlog costs a 1 s retransmit)."""
    if len(latencies) < 4:
        return []
    median = sorted(latencies)[len(latencies) // 2]
    slow = [x for x in latencies if x > max(3 * median, median + 0.5)]
    if not slow or len(slow) > len(latencies) // 2:
        return []
    return [
        f"{len(slow)} of {len(latencies)} requests took {duration(min(slow))} or more against a median of "
        f"{duration(median)}: stragglers (a full accept backlog makes the kernel retry a connection after 1 s)"
    ]


def before_a_retry(latencies: Sequence[float], single_s: float) -> int:
    """How many requests were answered before the rest came a connection retry later (0: no such gap).

    Linux retries a connection that a full accept backlog dropped after 1 s (then 3 s, 7 s): the late
    requests wait for the kernel, not for each other. A gap of 0.9 s, and 3 x one request alone, between
    two consecutive answers is that; a staircase or waves step by one request's time. At least two
    answered before it, so the requests the server accepted still show how it ran them.
    """
    ordered = sorted(latencies)
    gap = max(RETRY_GAP_S, 3 * single_s)
    for i in range(2, len(ordered)):
        if ordered[i] - ordered[i - 1] >= gap:
            return i
    return 0


def _retried_text(latencies: Sequence[float], first: int) -> str:
    ordered = sorted(latencies)
    late = len(ordered) - first
    return (
        f"{late} of {len(ordered)} requests took {duration(ordered[first])} or more, the other {first} at most "
        f"{duration(ordered[first - 1])}: stragglers (a full accept backlog makes the kernel retry a connection after "
        f"1 s), not requests run one after another; judged by the {first} answered first"
    )


def _server_reasons(server: ServerStats, single_s: float) -> list[str]:
    reasons = [f"the server had at most {counted(_in_handlers(server), 'request')} in a handler at once"]
    if server.peak_in_flight > _in_handlers(server) and server.peak_in_handler:
        reasons[0] += f" ({server.peak_in_flight} inside the app)"
    if server.peak_token_waiters:
        reasons.append(f"up to {server.peak_token_waiters} waited for a thread token")
    busy, waiting = process_pool(server)
    if waiting:
        reasons.append(f"up to {waiting} waited for one of the process pool's {busy} processes")
    if server.loop_lag_judged_s >= max(0.05, single_s / 2):
        reasons.append(f"its event loop's longest single stall was {duration(server.loop_lag_judged_s)}")
    if server.loop_lag_starved_s >= 0.05:
        reasons.append(
            f"for {duration(server.loop_lag_starved_s)} the machine ran none of the server's threads (other "
            "programs had the cores): that lag is left out of what the code is judged by"
        )
    if server.thread_tokens_total and server.thread_tokens_peak >= server.thread_tokens_total:
        reasons.append(f"all {server.thread_tokens_total} thread-pool tokens were in use")
    return reasons
