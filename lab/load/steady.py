"""Steady load: requests at a fixed rate for a fixed time, open loop, each timed from its scheduled send.

    result = run_steady(SteadyPlan("http://127.0.0.1:8000/health", rate=50, duration_s=30))
    result = await SteadyLoad(plan).run()           # from async code; `.timeline` is readable while it runs

Open loop: request i is due at `t0 + i / rate` and leaves then, whether or not earlier ones came back, so a
stalled server meets the traffic production would send it. Each latency counts from the *due* time, not
the actual send: a client that waited for the stall would report it as one slow request (coordinated
omission, which wrk2 and vegeta avoid the same way). The schedule's own truth is measured too: every send's
lag behind its due time, the rate achieved, and the sends skipped because `max_in_flight` requests were
already out. Nothing is dropped silently: a skipped send is counted in its second.

Bounded in every direction: rate and duration are capped (`lab.load.rates`), in-flight requests by
`max_in_flight`, each request by `timeout_s` in total, and the drain after the last send by the same
timeout. Memory stays flat: the statistics live in histograms (`lab.load.latency`) and only a bounded
random sample of requests (`SAMPLE_SIZE`) is kept.

A prober can run beside it on the same time axis: pass `start_at` (a `time.perf_counter()` value, the
moment of send 0) or read `load.t0` once it has started; `load.timeline` lists every finished second.
`on_start(t0)` is called once `t0` is set (a prober starts then, on the same clock: pass `clock=`), and
`on_done(end_s, outcome)` once per request as it ends (the restarts count what their downtime cost).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lab.client import Answer, BurstClient, burst_client, httpx
from lab.durations import duration
from lab.errors import BurstError
from lab.load.burst import METHODS, check_url
from lab.load.fire import run
from lab.load.latency import Recorder, Report, Second
from lab.load.rates import planned_sends
from lab.load.stats import origin, read, reset
from lab.protocol import ServerStats

__all__ = ["DEFAULT_TIMEOUT_S", "MAX_IN_FLIGHT", "SteadyLoad", "SteadyPlan", "SteadyResult", "run_steady"]

MAX_IN_FLIGHT = 1_000  # requests out at once; a send due beyond it is skipped and counted
DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 60.0
SAMPLE_SIZE = 1_000  # requests kept whole (a uniform random sample): the rest live only in the histograms
LEAD_S = 0.02  # send 0 is due this long after the run is ready, so setting up is not counted as lag
BEHIND_NOTE_S = 0.1  # a schedule this late at worst is said in words
RATE_NOTE = 0.99  # an achieved rate below this share of the plan is said in words
YIELD_EVERY = 64  # a dispatcher catching up lets the loop run its requests at least this often
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class SteadyPlan:
    url: str
    rate: float  # requests a second
    duration_s: float
    method: str = "GET"
    json_body: Any = None
    timeout_s: float = DEFAULT_TIMEOUT_S  # per request, in total
    max_in_flight: int = MAX_IN_FLIGHT

    @property
    def sends(self) -> int:
        return planned_sends(self.rate, self.duration_s)

    def check(self) -> None:
        """One line for each mistake: a URL that is not loopback http(s), an unknown method, a bound exceeded."""
        check_url(self.url)
        host = urlsplit(self.url).hostname or ""
        if host not in LOOPBACK and not host.startswith("127."):
            raise BurstError(f"lab load only sends to loopback (127.0.0.1, localhost, ::1), not {host}", usage=True)
        if self.method.upper() not in METHODS:
            raise BurstError(f"unknown method {self.method!r}: use one of {', '.join(METHODS)}", usage=True)
        if not 0 < self.timeout_s <= MAX_TIMEOUT_S:
            raise BurstError(
                f"timeout must be more than 0 and at most {MAX_TIMEOUT_S:g} s, got {self.timeout_s}", usage=True
            )
        if not 1 <= self.max_in_flight <= MAX_IN_FLIGHT:
            raise BurstError(
                f"--max-in-flight must be between 1 and {MAX_IN_FLIGHT}, got {self.max_in_flight}", usage=True
            )


@dataclass(frozen=True)
class Kept:
    """One request of the bounded sample: when it was due, how long it took from then, how it ended."""

    due_s: float
    latency_s: float
    outcome: str  # "200", "503", "timeout", "refused", ...


@dataclass(frozen=True)
class SteadyResult:
    plan: SteadyPlan
    report: Report
    server: ServerStats | None  # the lab server's own view of the run, if it is one
    cpu_s: float  # the client process's CPU over the run
    wall_s: float  # from send 0's due time to the last answer (or timeout)
    sample: tuple[Kept, ...] = field(default=(), repr=False)
    interrupted: bool = False  # stopped (Ctrl-C) before the schedule and the drain were done
    unanswered: int = 0  # requests still out when it was interrupted

    @property
    def achieved_rate(self) -> float:
        return self.report.achieved_rate()

    @property
    def behind_s(self) -> float:
        """The worst lag of a send behind its due time."""
        return self.report.schedule_lag.max or 0.0

    def notes(self) -> list[str]:
        """The schedule's truth in words, when it was not kept: never hidden behind the latency figures."""
        r, plan = self.report, self.plan
        notes = []
        if self.interrupted:
            notes.append(f"interrupted after {duration(self.wall_s)}: {self.unanswered:,} requests were still out")
        if self.behind_s >= BEHIND_NOTE_S:
            notes.append(f"the client fell {duration(self.behind_s)} behind its schedule at worst")
        if r.sent > 1 and self.achieved_rate < RATE_NOTE * plan.rate:
            notes.append(f"it sent {self.achieved_rate:,.1f} requests/s of the {plan.rate:,.1f}/s planned")
        if r.skipped:
            notes.append(f"{r.skipped:,} sends skipped: {plan.max_in_flight:,} requests were already in flight")
        return notes

    def to_json(self) -> dict[str, Any]:
        r = self.report
        return {
            "url": self.plan.url,
            "method": self.plan.method,
            "rate": self.plan.rate,
            "duration_s": self.plan.duration_s,
            "planned": self.plan.sends,
            "sent": r.sent,
            "answered": r.answered,
            "skipped": r.skipped,
            "errors": r.errors,
            "achieved_rate": round(self.achieved_rate, 3),
            "schedule_lag_ms": r.schedule_lag.as_ms(("p50", "p99", "max")),
            "latency_ms": r.latency.as_ms(),
            "timeline": [second.to_json() for second in r.timeline],
            "server": None if self.server is None else self.server.to_json(with_requests=False),
            "client_cpu_us_per_request": round(self.cpu_s / r.sent * 1e6, 1) if r.sent else None,
            "interrupted": self.interrupted,
            "notes": self.notes(),
        }

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from lab.view.steady import steady_report  # rendering stays in lab.view; imported only when shown

        yield steady_report(self)


def error_kind(exc: BaseException) -> str:
    """How a request failed, in the report's words."""
    if isinstance(exc, (TimeoutError, httpx.TimeoutException)):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "refused"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return "reset"
    return "other"


class SteadyLoad:
    """One steady run. `t0` (a `time.perf_counter()` value) is send 0's due time, the run's time axis."""

    def __init__(
        self,
        plan: SteadyPlan,
        *,
        start_at: float | None = None,
        on_second: Callable[[Second], None] | None = None,
        on_start: Callable[[float], object] | None = None,
        on_done: Callable[[float, str], None] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        plan.check()
        self.plan = plan
        self.start_at = start_at
        self.on_second = on_second
        self.on_start = on_start
        self.on_done = on_done
        self.clock = clock
        self.t0: float | None = None
        self.recorder = Recorder()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sample: list[Kept] = []
        self._seen = 0
        self._random = random.Random(0)  # the sample is the same for the same run: reproducible reports
        self._cpu0: float | None = None  # the process's CPU time when the schedule started
        self._spent: tuple[float, float] | None = None  # (wall, CPU) once the last request is back

    @property
    def timeline(self) -> list[Second]:
        """Every finished second so far (the live view and a prober read it while the run goes on)."""
        return self.recorder.closed

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def run(self) -> SteadyResult:
        plan = self.plan
        client = burst_client(plan.max_in_flight, httpx.Timeout(plan.timeout_s, pool=None))
        async with client:
            await _reachable(client, plan)
            is_lab = await reset(client, plan.url)
            send = client.sender(plan.method.upper(), plan.url, plan.json_body)
            self._cpu0 = time.process_time()
            self.t0 = self.start_at if self.start_at is not None else self.clock() + LEAD_S
            if self.on_start is not None:
                self.on_start(self.t0)
            ticker = asyncio.create_task(self._tick())
            try:
                await self._dispatch(send)
                await self._drain()
            finally:
                ticker.cancel()
                for task in self._tasks:
                    task.cancel()
            self._spent = self._spent_so_far()
            server = await read(client, plan.url) if is_lab else None
        return self._result(server)

    def result_so_far(self) -> SteadyResult:
        """What was measured until now, for a run that was interrupted: the requests still out are counted."""
        return self._result(None, interrupted=True)

    def _spent_so_far(self) -> tuple[float, float]:
        """(wall, client CPU) since send 0 was due."""
        if self.t0 is None or self._cpu0 is None:
            return 0.0, 0.0
        return self.clock() - self.t0, time.process_time() - self._cpu0

    def _result(self, server: ServerStats | None, *, interrupted: bool = False) -> SteadyResult:
        wall, cpu = self._spent or self._spent_so_far()
        if self.t0 is not None:
            self._close(self.clock())
        sample = tuple(sorted(self._sample, key=lambda k: k.due_s))
        unanswered = self.recorder.in_flight if interrupted else 0
        return SteadyResult(self.plan, self.recorder.report(), server, cpu, wall, sample, interrupted, unanswered)

    async def _dispatch(self, send: Callable[[], Awaitable[Answer]]) -> None:
        """Start request i at its due time, or as soon after as the client can: never wait for an answer."""
        assert self.t0 is not None
        interval, cap, unyielded = 1.0 / self.plan.rate, self.plan.max_in_flight, 0
        for i in range(self.plan.sends):
            due = self.t0 + i * interval
            if due > self.clock():
                # uvloop's timers tick in whole milliseconds and can fire up to one early: sleep again until
                # due, so no request leaves before its time. (A clock, not an event, is what is awaited here.)
                while (delay := due - self.clock()) > 0:  # noqa: ASYNC110
                    await asyncio.sleep(delay)
                unyielded = 0
            elif (unyielded := unyielded + 1) >= YIELD_EVERY:  # behind: catch up, but let answers in
                await asyncio.sleep(0)
                unyielded = 0
            if len(self._tasks) >= cap:
                self.recorder.skipped(self.clock() - self.t0)
                continue
            task = asyncio.create_task(self._one(send, due))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _one(self, send: Callable[[], Awaitable[Answer]], due: float) -> None:
        assert self.t0 is not None
        start = self.clock()  # when the request really starts: its lag behind the schedule
        self.recorder.sent(start - self.t0, start - due)
        try:
            async with asyncio.timeout(self.plan.timeout_s):  # in total, however slowly the answer trickles
                answer = await send()
        except Exception as exc:  # any failure ends as an error of some kind: a request never vanishes uncounted
            end, kind = self.clock(), error_kind(exc)
            self.recorder.failed(end - self.t0, kind)
            self._keep(due, end, kind)
            return
        end = self.clock()
        self.recorder.answered(end - self.t0, end - due, answer.status_code)
        self._keep(due, end, str(answer.status_code))

    def _keep(self, due: float, end: float, outcome: str) -> None:
        """Tell `on_done`; reservoir sampling (Algorithm R): every request has the same chance to be kept."""
        assert self.t0 is not None
        if self.on_done is not None:
            self.on_done(end - self.t0, outcome)
        self._seen += 1
        kept = Kept(due - self.t0, end - due, outcome)
        if len(self._sample) < SAMPLE_SIZE:
            self._sample.append(kept)
        elif (slot := self._random.randrange(self._seen)) < SAMPLE_SIZE:
            self._sample[slot] = kept

    async def _drain(self) -> None:
        """Wait for the requests still out; each has its own timeout, so this is bounded by it."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.plan.timeout_s + 1)

    async def _tick(self) -> None:
        """Close each second as it ends, so views and probers see the timeline while the run goes on."""
        assert self.t0 is not None
        second = 1
        while True:
            await asyncio.sleep(max(0.0, self.t0 + second - self.clock()))
            second = self._close(self.clock()) + 1

    def _close(self, now: float) -> int:
        assert self.t0 is not None
        elapsed = now - self.t0
        for row in self.recorder.close_until(elapsed):
            if self.on_second is not None:
                self.on_second(row)
        return max(1, int(elapsed))


async def _reachable(client: BurstClient, plan: SteadyPlan) -> None:
    """One request before the schedule starts (not counted): proves something listens, warms the path."""
    send = client.sender(plan.method.upper(), plan.url, plan.json_body)
    try:
        async with asyncio.timeout(plan.timeout_s):
            await send()
    except httpx.ConnectError:
        raise BurstError(
            f"cannot connect to {origin(plan.url)}: nothing is listening there (is the server running?)"
        ) from None
    except (httpx.HTTPError, TimeoutError):
        pass  # listening but slow or misbehaving: the run will measure how (a timeout is a result here)


def run_steady(plan: SteadyPlan, **kwargs: Any) -> SteadyResult:
    """A steady run for synchronous callers (the CLI), on uvloop. Not for notebooks: `await SteadyLoad(...).run()`."""
    return run(SteadyLoad(plan, **kwargs).run())
