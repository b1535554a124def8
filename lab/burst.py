"""The burst engine: fire N requests at once, time each one honestly. The only module that loads a server.

    result = await burst("http://127.0.0.1:8000/sleep/async", requests=10)
    result = run_burst("http://127.0.0.1:8000/sleep/async", requests=10)  # from synchronous code

How it stays honest (see `shared/measuring.md`): a warm-up request first (cold starts cost ~20 ms),
and on a lab server every connection opened before the clock starts;
every request task is created first and released together on one event, so they share one
start `t0`; each is timed from `t0` with the monotonic `perf_counter_ns`; the client's pool and
read timeout are sized to the burst, so the client never queues requests itself and never gives
up on a slow-but-honest server. When the target is a lab server, its own view of the burst
(peak overlap, loop lag, thread tokens) is read from `/lab/stats` and kept beside the client's.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from rich.jupyter import JupyterMixin

from lab.client import burst_client, httpx
from lab.measure import Sample, Summary, summarize
from lab.verdict import ServerView, Verdict, judge

MAX_REQUESTS = 10_000
MAX_CONCURRENCY = 1_000
DEFAULT_TIMEOUT_S = 60.0
MAX_BURST_S = 900.0  # every burst is bounded in time, not only in count
BURST_DEADLINE = "BurstDeadline"  # the error kind of a request cut off by it
T = TypeVar("T")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class BurstError(Exception):
    """A burst that cannot be fired (bad arguments, nothing listening): one line, for the user."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage  # the caller's arguments were wrong (exit 2), not the target


def check_url(url: str) -> None:
    """An http(s) URL with a host and a valid port, or a one-line BurstError saying what is allowed."""
    hint = "(try http://127.0.0.1:8000/sleep/async)"
    try:
        parts = urlsplit(url)
        port = parts.port  # reading it validates it: ValueError when not a number in 0-65535
    except ValueError as exc:
        if "port" in str(exc).lower():
            raise BurstError(f"bad port in {url!r}: the port must be a number from 1 to 65535", usage=True) from None
        raise BurstError(f"not an http(s) URL: {url!r} ({exc}) {hint}", usage=True) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BurstError(f"not an http(s) URL: {url!r} {hint}", usage=True)
    if port == 0:
        raise BurstError(f"port 0 in {url!r}: give the port the server listens on (1-65535)", usage=True)


@dataclass(frozen=True)
class BurstResult(JupyterMixin):  # JupyterMixin: displays in a notebook as in a terminal
    url: str
    method: str
    requests: int
    concurrency: int
    samples: list[Sample]
    summary: Summary
    verdict: Verdict
    server: dict[str, Any] | None  # the lab server's `/lab/stats` for this burst, if it is one

    single_s: float  # one request alone, timed just before the burst

    def to_json(self) -> dict[str, Any]:
        s = self.summary
        server = None
        if self.server is not None:
            server = {k: v for k, v in self.server.items() if k != "requests"}
        return {
            "url": self.url,
            "method": self.method,
            "requests": self.requests,
            "concurrency": self.concurrency,
            "wall_s": round(s.wall_s, 6),
            "ok": s.ok,
            "errors": s.errors,
            "status_counts": s.status_counts,
            "requests_per_s": round(s.requests_per_s, 3),
            "latency_s": s.latency.as_dict() if s.latency else None,
            "single_s": round(self.single_s, 6),
            "verdict": str(self.verdict),
            "judgement": self.verdict.as_dict(),
            "server": server,
            "samples": [
                {
                    "start_s": round(x.start_s, 6),
                    "end_s": round(x.end_s, 6),
                    "status": x.status,
                    "error": x.error,
                    "server_start_s": None if x.server_start_s is None else round(x.server_start_s, 6),
                    "server_time_s": x.server_time_s,
                    "pid": x.pid,
                }
                for x in self.samples
            ],
        }

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from lab.render import burst_report  # rendering stays in lab.render; imported only when shown

        yield burst_report(self)


def check_arguments(url: str, requests: int, concurrency: int, method: str, timeout: float | None) -> None:
    """Every mistake gets one line saying what is allowed."""
    check_url(url)
    if not 1 <= requests <= MAX_REQUESTS:
        raise BurstError(f"requests must be between 1 and {MAX_REQUESTS}, got {requests}", usage=True)
    if not 1 <= concurrency <= min(requests, MAX_CONCURRENCY):
        raise BurstError(
            f"concurrency must be between 1 and {min(requests, MAX_CONCURRENCY)} (and at most the requests), "
            f"got {concurrency}",
            usage=True,
        )
    if method.upper() not in METHODS:
        raise BurstError(f"unknown method {method!r}: use one of {', '.join(METHODS)}", usage=True)
    if timeout is not None and not 0 < timeout <= 3600:
        raise BurstError(f"timeout must be more than 0 and at most 3600 s, got {timeout}", usage=True)


async def burst(
    url: str,
    *,
    requests: int = 10,
    concurrency: int | None = None,
    method: str = "GET",
    json_body: Any = None,
    timeout: float | None = None,  # noqa: ASYNC109 - a per-request HTTP timeout, handed to the client
    on_sample: Callable[[Sample], None] | None = None,
    on_start: Callable[[float], None] | None = None,
    deadline_s: float = MAX_BURST_S,
) -> BurstResult:
    """Fire `requests` requests at `url`, `concurrency` at a time (default: all at once).

    Live views use the callbacks: `on_start` gets the shared start `t0` (a `time.perf_counter()`
    value) as the requests are released; `on_sample` gets each sample as its response arrives.
    However many requests and however long each may take, the burst ends after `deadline_s`.
    """
    concurrency = requests if concurrency is None else concurrency
    method = method.upper()
    check_arguments(url, requests, concurrency, method, timeout)
    # No pool timeout: a request waiting for a connection is the client's doing, not the server's.
    client_timeout = httpx.Timeout(timeout or DEFAULT_TIMEOUT_S, pool=None)
    async with burst_client(concurrency, client_timeout) as client:
        single_s = await _warm_up(client, method, url, json_body)
        if timeout is None:
            # The broken endpoint serializes: the last request waits for all the others.
            client.timeout = httpx.Timeout(max(DEFAULT_TIMEOUT_S, 2 * requests * single_s + 5), pool=None)
        stats_url = _stats_url(url)
        is_lab = await _reset_stats(client, stats_url)
        if is_lab:
            await _open_connections(client, stats_url, concurrency)
        samples = await fire(
            client,
            method,
            url,
            json_body,
            requests,
            concurrency,
            deadline_s=deadline_s,
            on_start=on_start,
            on_sample=on_sample,
        )
        server = await _read_stats(client, stats_url) if is_lab else None
    summary = summarize(samples)
    view = ServerView.from_stats(server) if server else None
    inside = [x.server_time_s for x in samples if x.server_time_s is not None]
    server_max_s = max(inside) if view is not None and len(inside) == len(samples) else None
    verdict = judge(requests, concurrency, summary.wall_s, single_s, summary.ok, view, server_max_s)
    return BurstResult(url, method, requests, concurrency, samples, summary, verdict, server, single_s)


def run_burst(url: str, **kwargs: Any) -> BurstResult:
    """`burst` for synchronous callers (the CLI). Not for notebooks: there, `await burst(...)`."""
    return run(burst(url, **kwargs))


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on uvloop, which costs the client less per request than asyncio's loop."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


async def _warm_up(client: httpx.AsyncClient, method: str, url: str, json_body: Any) -> float:
    """Two requests before the burst: the first pays the cold start (connect, lazy imports) and proves
    something is listening; the second, timed, is the baseline "one request alone"."""
    try:
        await _request(client, method, url, json_body)
    except httpx.ConnectError:
        raise BurstError(
            f"cannot connect to {_origin(url)}: nothing is listening there (is the server running?)"
        ) from None
    except (httpx.TimeoutException, TimeoutError):
        raise BurstError(f"{url} did not answer a single request within {client.timeout.read:g} s") from None
    except httpx.HTTPError:
        pass  # reachable but misbehaving (e.g. it dropped the connection): the burst will show how
    start = time.perf_counter()
    with contextlib.suppress(httpx.HTTPError, TimeoutError):
        await _request(client, method, url, json_body)
    return time.perf_counter() - start


async def _request(client: httpx.AsyncClient, method: str, url: str, json_body: Any) -> httpx.Response:
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
    on_response: Callable[[httpx.Response], None] | None = None,
) -> list[Sample]:
    """The firing loop itself: `concurrency` workers share one start `t0` and take requests in turn.

    With `sustain_s`, the workers keep going until that much time has passed (`requests` is then
    only a cap) and start `ramp_s` apart: connections opened at one instant can all land on one
    uvicorn worker. Whatever has not come back by `deadline_s` is an error sample, never dropped.
    """
    go = asyncio.Event()
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
            sample = await _one(index)
            samples.append(sample)
            if on_sample is not None:
                on_sample(sample)

    async def _one(index: int) -> Sample:
        start = started[index]
        try:
            response = await _request(client, method, url, json_body)
        except (httpx.HTTPError, TimeoutError) as exc:
            kind = "Timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            return Sample(index, (start - t0) / 1e9, (time.perf_counter_ns() - t0) / 1e9, error=kind)
        end = time.perf_counter_ns()
        if on_response is not None:
            on_response(response)
        return Sample(
            index, (start - t0) / 1e9, (end - t0) / 1e9, response.status_code, None, *_server_times(response, t0)
        )

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
        elapsed = (time.perf_counter_ns() - t0) / 1e9
        answered = {s.index for s in samples}
        pending = [i for i in started if i not in answered]
        if not sustain_s:  # a fixed burst also owes the requests that never got to start
            pending += [i for i in range(requests) if i not in answered and i not in started]
        samples += [
            Sample(i, (started[i] - t0) / 1e9 if i in started else elapsed, elapsed, error=BURST_DEADLINE)
            for i in pending
        ]
    return sorted(samples, key=lambda s: s.index)


def _server_times(response: httpx.Response, t0_ns: int) -> tuple[float | None, float | None, int | None]:
    """The lab server's stamps: perf_counter is CLOCK_MONOTONIC, shared by processes on one machine."""
    try:
        start = float(response.headers["x-lab-start"]) - t0_ns / 1e9
        took = float(response.headers["x-process-time"])
        pid = int(response.headers["x-lab-pid"])
    except (KeyError, ValueError):
        return None, None, None
    return (start if math.isfinite(start) else None), took, pid


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _stats_url(url: str) -> str:
    return _origin(url) + "/lab/stats"


async def _reset_stats(client: httpx.AsyncClient, stats_url: str) -> bool:
    """Start the lab server's measurement window; False when the target is not a lab server."""
    try:
        response = await client.post(stats_url + "/reset", timeout=5)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and "peak_in_flight" in response.text


async def _open_connections(client: httpx.AsyncClient, stats_url: str, count: int) -> None:
    """Open every connection the burst will use before its clock starts, with cheap requests.

    Otherwise the burst also times `count` TCP handshakes racing each other, and at N=100 that
    is a fifth of the wall time. Only on a lab server, whose `/lab/stats` is cheap and not counted.
    """
    with contextlib.suppress(httpx.HTTPError, TimeoutError):
        async with asyncio.timeout(10):
            await asyncio.gather(*(client.get(stats_url) for _ in range(count)))


async def _read_stats(client: httpx.AsyncClient, stats_url: str) -> dict[str, Any] | None:
    try:
        response = await client.get(stats_url, timeout=10)
        data: dict[str, Any] = response.raise_for_status().json()
    except (httpx.HTTPError, ValueError):
        return None
    return data
