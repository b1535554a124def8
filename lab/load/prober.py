"""The prober: the kubelet's side of a run, apart from the traffic, as the kubelet is apart from the pod.

    prober = Prober(server.url, specs, on_restart=restarter.on_restart)
    prober.start()
    ...                                  # traffic runs meanwhile, on its own loop
    report = prober.stop()               # a `KubeletReport`: restarts, time out of rotation, decisions, counts

Its own thread, its own event loop, its own clock (`time.monotonic`) and a new connection for every probe
(the kubelet keeps none open): a server whose loop is blocked cannot slow the prober's timing, only make its
probes time out. Each probe's timeout is enforced here, around the whole attempt (connect, send, read).

Each spec runs on its own schedule: first after its initial delay, then every period. The kubelet's worker
sends one attempt at a time: after an attempt that outlasted its period (a timeout as long as the period), the
next one goes at once, as Go's ticker keeps one tick, and any further ticks it overlapped are lost, not sent late
in a bunch.

When the model decides a restart, every probe pauses (the kubelet does not probe a container that is not
running) and `on_restart(decision)` is called on a worker thread: it stops the container and starts it again
after `decision.backoff_s` (CrashLoopBackOff), or does nothing real (a run without `--restart`); without a
callback the prober waits out the back-off itself. Then the probes start afresh: initial delays, startup first.
`stop()` does not wait for a restart under way: stop the prober first, then the restarter (which finishes it).

Bounded: a run ends at `stop()` or after `max_run_s`, whichever comes first; the model keeps a bounded
number of attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any, Self
from urllib.parse import urlsplit

from lab.client import LOOPBACK_HOSTS, httpx
from lab.errors import LabError
from lab.load.kubelet import Attempt, Decision, Kubelet, KubeletReport, Outcome, outcome_of
from lab.load.probes import ProbeSpec

__all__ = ["MAX_RUN_S", "Prober"]

MAX_RUN_S = 3600.0  # no prober outlives an hour, whatever its caller forgets
JOIN_SLACK_S = 5.0  # stop(): beyond the longest probe timeout, how long the thread may take to end


class Prober:
    """Probes a server as the kubelet would, and asks `on_restart` when the kubelet would restart it."""

    def __init__(
        self,
        url: str,
        specs: tuple[ProbeSpec, ...],
        *,
        on_restart: Callable[[Decision], object] | None = None,
        max_run_s: float = MAX_RUN_S,
    ) -> None:
        parts = urlsplit(url)
        if parts.hostname not in LOOPBACK_HOSTS or parts.port is None:
            raise LabError(f"probes go to loopback only, with a port: {url!r}", usage=True)
        if not specs:
            raise LabError("no probes to run", usage=True)
        self._host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        self._port = parts.port
        self.specs = specs
        self.on_restart = on_restart
        self.max_run_s = min(max_run_s, MAX_RUN_S)
        self.kubelet = Kubelet(specs)
        self._origin = 0.0
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None  # set on stop: every sleep in the loop ends
        self._error: BaseException | None = None
        self._end_s: float | None = None

    def now(self) -> float:
        """Seconds since the prober started, on its own clock."""
        return time.monotonic() - self._origin

    def url_for(self, spec: ProbeSpec) -> str:
        """The server under test is the pod: its port stands for the manifest's containerPort (8080 there)."""
        return f"http://{self._host}:{self._port}{spec.path}"

    def start(self, origin: float | None = None) -> Self:
        """Start probing; `origin` (a `time.monotonic()` value) is time 0 of the report, by default now."""
        if self._thread is not None:
            raise RuntimeError("a prober starts once")
        self._origin = time.monotonic() if origin is None else origin
        self._thread = threading.Thread(target=self._run, name="lab-prober", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> KubeletReport:
        """End the run and return the kubelet's report; a restart under way is left to finish on its own thread."""
        self._stopping.set()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(wake.set)
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        if self._thread is None:
            return self.kubelet.finish(0.0)  # never started: nothing was probed
        return self.kubelet.finish(self._end_s if self._end_s is not None else self.now())

    def attempts(self) -> list[Attempt]:
        """The attempts so far (a copy, readable from any thread): for a live view."""
        return self.kubelet.attempts()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # handed to the thread that calls stop()
            self._error = exc
        finally:
            self._end_s = self.now()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self._stopping.is_set():
            return
        deadline = self.max_run_s
        # No keep-alive: a new connection for every probe, as the kubelet opens one.
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, trust_env=False, verify=False) as client:
            while not self._stopping.is_set() and self.now() < deadline:
                decision = await self._probe_until_restart(client, deadline)
                if decision is None:
                    return
                await self._restart(decision)
                if self._stopping.is_set():
                    return
                self.kubelet.restarted(self.now())

    async def _probe_until_restart(self, client: httpx.AsyncClient, deadline: float) -> Decision | None:
        """Run every probe on its schedule until the model decides a restart (returned), or the run ends."""
        restart: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        epoch = max(0.0, self.now())  # an origin in the future (the traffic's first send) is waited for
        tasks = [asyncio.create_task(self._schedule(client, spec, epoch, restart)) for spec in self.specs]
        assert self._wake is not None
        waker = asyncio.create_task(self._wake.wait())
        try:
            left = max(0.0, deadline - self.now())
            first: list[asyncio.Future[Any]] = [restart, waker]
            await asyncio.wait(first, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in [*tasks, waker]:
                task.cancel()
            await asyncio.gather(*tasks, waker, return_exceptions=True)
        return restart.result() if restart.done() else None

    async def _schedule(
        self, client: httpx.AsyncClient, spec: ProbeSpec, epoch: float, restart: asyncio.Future[Decision]
    ) -> None:
        next_at = epoch + spec.initial_delay_s
        while not restart.done():
            await asyncio.sleep(max(0.0, next_at - self.now()))
            if self.kubelet.active(spec.kind):
                attempt = await self._send(client, spec)
                for decision in self.kubelet.observe(attempt):
                    if decision.action == "restart" and not restart.done():
                        restart.set_result(decision)
            next_at += spec.period_s
            late = self.now() - next_at
            if late > 0:
                # The attempt outlasted its period. The kubelet's ticker (Go's) keeps one tick that passed meanwhile:
                # the next attempt goes at once, on the last tick that passed; the ticks before it are lost.
                next_at += spec.period_s * int(late // spec.period_s)

    async def _send(self, client: httpx.AsyncClient, spec: ProbeSpec) -> Attempt:
        sent = self.now()
        status: int | None = None
        outcome: Outcome
        try:
            async with asyncio.timeout(spec.timeout_s):
                response = await client.get(self.url_for(spec), timeout=spec.timeout_s + 1)
            status = response.status_code
            outcome = outcome_of(status, self.now() - sent, spec.timeout_s)
        except (TimeoutError, httpx.TimeoutException):
            outcome = "timeout"
        except httpx.ConnectError:
            outcome = "refused"  # nothing listening: a container that is not running yet answers so
        except httpx.HTTPError:
            outcome = "error"
        return Attempt(spec.kind, spec.path, sent, status, outcome, self.now() - sent)

    async def _restart(self, decision: Decision) -> None:
        """The container is down: call `on_restart` (which brings it back), or wait out the back-off alone.

        Either wait ends early at `stop()`: a restart takes up to its grace period and back-off (minutes), and
        stop() must not. The callback's own thread then finishes it; the caller owns that server.
        """
        assert self._wake is not None
        waker = asyncio.create_task(self._wake.wait())
        if self.on_restart is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waker, decision.backoff_s)
            return
        done = self._call_on_restart(self.on_restart, decision)
        first: list[asyncio.Future[Any]] = [done, waker]
        await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
        waker.cancel()
        error = done.result() if done.done() else None
        if error is not None:
            raise error

    def _call_on_restart(
        self, on_restart: Callable[[Decision], object], decision: Decision
    ) -> asyncio.Future[BaseException | None]:
        """Run the callback on a thread of its own (not the loop's executor, which asyncio.run waits for)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[BaseException | None] = loop.create_future()

        def settle(error: BaseException | None) -> None:
            if not done.done():
                done.set_result(error)

        def call() -> None:
            error: BaseException | None = None
            try:
                on_restart(decision)
            except BaseException as exc:  # handed to the prober's loop, then to stop()'s caller
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop has ended: stop() came first
                loop.call_soon_threadsafe(settle, error)

        threading.Thread(target=call, name="lab-restart", daemon=True).start()
        return done
