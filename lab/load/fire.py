"""The firing loop: N requests released together from one shared start `t0`, each timed from it.

    samples = await fire(client, "GET", url, None, requests=100, concurrency=100)
    result = run(some_coroutine())  # synchronous callers: on uvloop, cheaper per request

Every burst in the lab goes through `fire`: `lab burst`, `lab compare`, `lab demo` and the checker.
Start skew is what makes a burst dishonest (`shared/measuring.md`), so every request task is
created first and waits on one event; `t0` is taken just before the event is set.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any, TypeVar

from lab.client import BurstClient, Reply, httpx
from lab.load.measure import Sample
from lab.protocol import ServerTimes

__all__ = ["BURST_DEADLINE", "MAX_BURST_S", "fire", "request", "run"]

MAX_BURST_S = 900.0  # every burst is bounded in time, not only in count
BURST_DEADLINE = "BurstDeadline"  # the error kind of a request cut off by it
T = TypeVar("T")


def _sample(index: int, start_ns: int, end_ns: int, t0_ns: int, response: Reply) -> Sample:
    """One answered request on the burst's clock, with the server's own stamps when it is a lab server."""
    origin = t0_ns / 1e9
    sample = Sample(index, (start_ns - t0_ns) / 1e9, (end_ns - t0_ns) / 1e9, response.status_code)
    stamps = ServerTimes.from_headers(response.headers)
    if stamps is None:
        return sample
    handler = (stamps.handler_start, stamps.handler_end)
    return replace(
        sample,
        server_start_s=stamps.start - origin,
        server_time_s=stamps.elapsed_s,
        pid=stamps.pid,
        handler_start_s=None if handler[0] is None else handler[0] - origin,
        handler_end_s=None if handler[1] is None else handler[1] - origin,
    )


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on uvloop, which costs the client less per request than asyncio's loop.

    uvloop has no Windows build (and may be missing elsewhere): asyncio's own loop then, a little slower, same results.
    """
    try:
        import uvloop
    except ImportError:
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(_interruptible(coroutine))


async def _interruptible(coroutine: Coroutine[Any, Any, T]) -> T:
    """SIGTERM and SIGHUP stop the coroutine as Ctrl-C does (asyncio.Runner cancels it, then raises
    KeyboardInterrupt), where the CLI asked for them to interrupt (lab.cli.output.interrupt_on_sigterm).

    Raised from a Python signal handler instead, the KeyboardInterrupt lands wherever the loop happens
    to be, and inside one of uvloop's C callbacks (a DNS answer) it is printed and lost: the burst
    went on, the command with it.
    """
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    caught: list[int] = []
    previous: dict[signal.Signals, Callable[[int, Any], Any]] = {}

    def stop(sig: int) -> None:
        caught.append(sig)
        if task is not None:
            task.cancel()

    if task is not None and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            handler = signal.getsignal(sig)
            if callable(handler):  # someone turns it into an interrupt: do it the loop's way
                previous[sig] = handler
                loop.add_signal_handler(sig, stop, sig)
    try:
        return await coroutine
    except asyncio.CancelledError:
        if caught:
            raise KeyboardInterrupt from None
        raise
    finally:
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, handler)  # (remove_signal_handler leaves the default, not what was there)


async def request(client: httpx.AsyncClient, method: str, url: str, json_body: Any) -> httpx.Response:
    """One request, cut off at the client's timeout in total.

    HTTP read timeouts apply to each read, so a server trickling its answer a byte at a time could
    otherwise keep a request, and the burst, alive for ever.
    """
    async with asyncio.timeout(client.timeout.read):
        return await client.request(method, url, json=json_body)


async def fire(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    json_body: Any,
    requests: int,
    concurrency: int,
    *,
    sustain_s: float = 0.0,
    ramp_s: float = 0.0,
    deadline_s: float = MAX_BURST_S,
    on_start: Callable[[float], None] | None = None,
    on_sample: Callable[[Sample], None] | None = None,
    on_response: Callable[[Reply], None] | None = None,
) -> list[Sample]:
    """`concurrency` workers share one start `t0` and take requests in turn.

    With `sustain_s`, the workers keep going until that much time has passed (`requests` is then
    only a cap) and start `ramp_s` apart: connections opened at one instant can all land on one
    uvicorn worker. Whatever has not come back by `deadline_s` is an error sample, never dropped.
    """
    go = asyncio.Event()
    send = _sender(client, method, url, json_body)
    indices = iter(range(requests))
    samples: list[Sample] = []
    started: dict[int, int] = {}  # index -> start ns: which requests were in flight at the deadline
    t0 = 0  # set just before `go` is released; read by every request

    async def worker(position: int) -> None:
        await go.wait()
        if ramp_s:
            await asyncio.sleep(position * ramp_s)
        for index in indices:  # shared iterator: each worker takes the next request when free
            if sustain_s and time.perf_counter_ns() - t0 > sustain_s * 1e9:
                return
            started[index] = time.perf_counter_ns()
            sample = await _timed(send, index, started[index], t0, client.timeout.read, on_response)
            samples.append(sample)
            if on_sample is not None:
                on_sample(sample)

    tasks = [asyncio.create_task(worker(position)) for position in range(concurrency)]
    await asyncio.sleep(0)  # let every task reach `go.wait()` before the clock starts
    t0 = time.perf_counter_ns()
    if on_start is not None:
        on_start(t0 / 1e9)
    go.set()
    try:
        async with asyncio.timeout(deadline_s):
            await asyncio.gather(*tasks)
    except TimeoutError:
        # A fixed burst also owes the requests that never got to start; sustained load, only those in flight.
        samples += _cut_off(samples, started, t0, None if sustain_s else requests)
    return sorted(samples, key=lambda s: s.index)


async def _timed(
    send: Callable[[], Awaitable[Reply]],
    index: int,
    start: int,
    t0: int,
    timeout_s: float | None,
    on_response: Callable[[Reply], None] | None,
) -> Sample:
    """One request of the burst, sent at `start` (ns) and timed from `t0`; an error is a sample too."""
    try:
        async with asyncio.timeout(timeout_s):  # in total, as `request` does
            response = await send()
    except (httpx.HTTPError, TimeoutError) as exc:
        kind = "Timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
        return Sample(index, (start - t0) / 1e9, (time.perf_counter_ns() - t0) / 1e9, error=kind)
    end = time.perf_counter_ns()
    if on_response is not None:
        on_response(response)
    return _sample(index, start, end, t0, response)


def _cut_off(samples: list[Sample], started: dict[int, int], t0: int, requests: int | None) -> list[Sample]:
    """An error sample for each request the deadline cut off: those in flight, and (given `requests`)
    those that never got to start. Never dropped: a burst reports every request it owed."""
    elapsed = (time.perf_counter_ns() - t0) / 1e9
    answered = {s.index for s in samples}
    pending = [i for i in started if i not in answered]
    if requests is not None:
        pending += [i for i in range(requests) if i not in answered and i not in started]
    return [
        Sample(i, (started[i] - t0) / 1e9 if i in started else elapsed, elapsed, error=BURST_DEADLINE) for i in pending
    ]


def _sender(client: httpx.AsyncClient, method: str, url: str, json_body: Any) -> Callable[[], Awaitable[Reply]]:
    """The cheapest way this client sends the burst's one request: `BurstClient`'s lean path, else HTTPX's."""
    if isinstance(client, BurstClient):
        return client.sender(method, url, json_body)

    async def send() -> Reply:
        return await client.request(method, url, json=json_body)

    return send
