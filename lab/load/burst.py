"""The burst engine: fire N requests at once at any HTTP server, time each one honestly, judge the result.

    result = await burst("http://127.0.0.1:8000/sleep/async", requests=10)
    result = run_burst("http://127.0.0.1:8000/sleep/async", requests=10)  # from synchronous code
    fired = await fire_burst(client, Shot("GET", url, None, 10, 10, warm_up_on="stats"))  # the raw procedure

Every burst in the lab goes through `fire_burst`: `burst` (for `lab burst`, `lab compare` and the demo) judges
what it returns; the checker (lab.course.check) warms up on `/lab/stats` and grades it instead.

How it stays honest (see `shared/measuring.md`): a warm-up request first (cold starts cost ~20 ms),
and on a lab server every connection opened before the clock starts;
every request task is created first and released together on one event, so they share one
start `t0`; each is timed from `t0` with the monotonic `perf_counter_ns`; the client's pool and
read timeout are sized to the burst, so the client never queues requests itself and never gives
up on a slow-but-honest server. When the target is a lab server, its own view of the burst
(peak overlap, loop lag, thread tokens) is read from `/lab/stats` and kept beside the client's.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from lab.client import Reply, burst_client, httpx
from lab.errors import BurstError
from lab.load.fire import MAX_BURST_S, fire, request, run
from lab.load.measure import Sample, Summary, summarize
from lab.load.stats import every_worker, open_connections, origin, read, read_workers, reset, settle
from lab.load.verdict import Verdict, judge
from lab.protocol import RESET_PATH, ServerStats
from lab.run_queue import RunQueueClock, run_queue_clock, waited_for_cpu_s

__all__ = [
    "BurstError",
    "BurstResult",
    "Fired",
    "Shot",
    "burst",
    "check_url",
    "fire_burst",
    "parse_headers",
    "run_burst",
]

MAX_REQUESTS = 10_000
MAX_CONCURRENCY = 1_000
DEFAULT_TIMEOUT_S = 60.0
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
WarmUp = Literal["endpoint", "stats"]  # where a burst's warm-up goes: see `fire_burst`


def check_url(url: str) -> None:
    """An http(s) URL with a host and a valid port, or a one-line BurstError saying what is allowed."""
    hint = f"(try {_with_scheme(url)})"
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


def parse_headers(lines: list[str]) -> dict[str, str]:
    """`-H 'Name: value'` options as a dict, or a one-line usage error naming the one that is not a header."""
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
            example = "-H 'Authorization: Bearer x'"
            raise BurstError(f"-H {line!r}: write a header as 'Name: value', e.g. {example}", usage=True)
        headers[name.strip()] = value.strip()
    return headers


def _with_scheme(url: str) -> str:
    """The user's own URL made one `lab burst` takes: `127.0.0.1:8788/me` -> `http://127.0.0.1:8788/me`.

    Without `://` the scheme was left out; with another one (`ftp://`, `ws://`) it is swapped for http.
    The lab's own example when even that is no URL with a host."""
    rest = url.split("://", 1)[1] if "://" in url else url.lstrip("/")
    candidate = f"http://{rest}"
    try:
        if urlsplit(candidate).hostname and urlsplit(candidate).port != 0:
            return candidate
    except ValueError:
        pass
    return "http://127.0.0.1:8000/sleep/async"


@dataclass(frozen=True)
class BurstResult:
    url: str
    method: str
    requests: int
    concurrency: int
    samples: list[Sample]
    summary: Summary
    verdict: Verdict
    server: ServerStats | None  # the lab server's own view of this burst, if it is one

    single_s: float  # one request alone, timed just before the burst

    def to_json(self) -> dict[str, Any]:
        s = self.summary
        server = None if self.server is None else self.server.to_json(with_requests=False)
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
        from lab.view.burst import burst_report  # rendering stays in lab.view.burst; imported only when shown

        yield burst_report(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, str]:
        from lab.view.jupyter import mimebundle  # as `Comparison`: rich is imported only when a notebook shows it

        return mimebundle(self, include, exclude)


def check_arguments(url: str, requests: int, concurrency: int, method: str, timeout: float | None) -> None:
    """Every mistake gets one line saying what is allowed."""
    check_url(url)
    if not 1 <= requests <= MAX_REQUESTS:
        raise BurstError(f"requests must be between 1 and {MAX_REQUESTS}, got {requests}", usage=True)
    if concurrency == requests > MAX_CONCURRENCY:  # no -c given (it defaults to -n): say what to add, not blame -c
        raise BurstError(
            f"{requests} requests would all be in flight at once, and at most {MAX_CONCURRENCY} can: "
            f"add -c N (N up to {MAX_CONCURRENCY}) to fire them N at a time",
            usage=True,
        )
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
    headers: Mapping[str, str] | None = None,
) -> BurstResult:
    """Fire `requests` requests at `url`, `concurrency` at a time (default: all at once).

    Live views use the callbacks: `on_start` gets the shared start `t0` (a `time.perf_counter()`
    value) as the requests are released; `on_sample` gets each sample as its response arrives.
    However many requests and however long each may take, the burst ends after `deadline_s`.
    `headers` go with every request, the warm-up's and the server's read-outs too (`-H 'Authorization: ...'`).
    """
    concurrency = requests if concurrency is None else concurrency
    method = method.upper()
    check_arguments(url, requests, concurrency, method, timeout)
    # No pool timeout: a request waiting for a connection is the client's doing, not the server's.
    client_timeout = httpx.Timeout(timeout or DEFAULT_TIMEOUT_S, pool=None)
    shot = Shot(method, url, json_body, requests, concurrency, deadline_s=deadline_s, size_timeout=timeout is None)
    async with burst_client(concurrency, client_timeout, headers=headers) as client:
        fired = await fire_burst(client, shot, on_start=on_start, on_sample=on_sample)
    samples, server = fired.samples, fired.server
    single_s = fired.single_s or 0.0  # (always timed: this burst warms up on its endpoint)
    summary = summarize(samples)
    inside = [x.server_time_s for x in samples if x.server_time_s is not None]
    server_max_s = max(inside) if server is not None and len(inside) == len(samples) else None
    latencies = [x.latency_s for x in samples if x.ok]
    cores = os.cpu_count() if _is_loopback(url) else None  # the server's machine is this one
    verdict = judge(
        requests,
        concurrency,
        summary.wall_s,
        single_s,
        summary.ok,
        server,
        server_max_s,
        latencies=latencies,
        cores=cores,
    )
    return BurstResult(url, method, requests, concurrency, samples, summary, verdict, server, single_s)


@dataclass(frozen=True)
class Shot:
    """One burst as `fire_burst` fires it: what to send, how many at once, and how to prepare the server."""

    method: str
    url: str  # the endpoint: a full URL, or a path on the client's `base_url`
    json_body: Any
    requests: int  # with `sustain_s`, only a cap
    concurrency: int
    warm_up_on: WarmUp = "endpoint"
    # A lab server of ours, and how many worker processes it runs: each is reset and read on a connection
    # of its own (lab.load.stats). None: any server, reset and read once on the burst's own client.
    workers: int | None = None
    sustain_s: float = 0.0
    ramp_s: float = 0.0
    deadline_s: float = MAX_BURST_S
    settle_s: float = 0.0  # after the burst, wait this long at most for background work to finish
    # The server's event-loop processes: how long they (and the client's loop) waited for a CPU while the
    # burst fired says whether the machine was too busy to judge it. None: not read.
    loop_pids: tuple[int, ...] | None = None
    size_timeout: bool = False  # no timeout was given: size the client's from one request alone


@dataclass(frozen=True)
class Fired:
    samples: list[Sample]
    server: ServerStats | None  # the lab server's own view of the burst's window; None: not a lab server
    single_s: float | None  # one request alone, timed by an endpoint warm-up; None after a `/lab/stats` one
    # The largest share of the firing's time that the client's or a server's event-loop thread spent runnable,
    # waiting for the OS to give it a CPU (Linux only; None elsewhere, or when `loop_pids` is None).
    cpu_wait_share: float | None = None


async def fire_burst(
    client: httpx.AsyncClient,
    shot: Shot,
    *,
    around: Callable[[], AbstractAsyncContextManager[None]] | None = None,
    on_start: Callable[[float], None] | None = None,
    on_sample: Callable[[Sample], None] | None = None,
    on_response: Callable[[Reply], None] | None = None,
) -> Fired:
    """The lab's one burst procedure: warm up, reset the server's window, open every connection, fire,
    let background work settle, read the server's own view.

    `warm_up_on` says where the warm-up goes. "endpoint" (`lab burst`, `lab compare`, the demo): two requests
    to the endpoint, which pay its cold start and time one request alone; the reset then tells whether it is
    a lab server, and only a lab server gets its connections opened on `/lab/stats`. "stats" (the checker):
    the connections are opened on `/lab/stats` before the window starts, so the endpoint sees exactly the
    burst's requests (a lazily loaded model must meet the burst cold: exercise 6). `around` wraps the firing
    alone (the checker reads its server's threads and CPU time there, and probes mid-burst), and the CPU
    waits of `loop_pids` wrap `around`.
    """
    single_s = None
    if shot.warm_up_on == "endpoint":
        single_s = await _warm_up(client, shot.method, shot.url, shot.json_body)
        if shot.size_timeout:  # the broken endpoint serializes: the last request waits for all the others
            client.timeout = httpx.Timeout(max(DEFAULT_TIMEOUT_S, 2 * shot.requests * single_s + 5), pool=None)
    else:
        await open_connections(client, shot.url, shot.concurrency)
    window_start = time.perf_counter()  # CLOCK_MONOTONIC: the servers' `since` is on the same clock
    is_lab = await _reset(client, shot) or shot.warm_up_on == "stats"
    if is_lab and shot.warm_up_on == "endpoint":  # `/lab/stats` is cheap and not counted: connections open there
        await open_connections(client, shot.url, shot.concurrency)
    waits = _CpuWaits(shot.loop_pids)
    with waits:
        async with around() if around is not None else contextlib.nullcontext():
            samples = await fire(
                client,
                shot.method,
                shot.url,
                shot.json_body,
                shot.requests,
                shot.concurrency,
                sustain_s=shot.sustain_s,
                ramp_s=shot.ramp_s,
                deadline_s=shot.deadline_s,
                on_start=on_start,
                on_sample=on_sample,
                on_response=on_response,
            )
    server = await _read_out(client, shot, window_start) if is_lab else None
    return Fired(samples, server, single_s, waits.share)


class _CpuWaits:
    """`share`: the largest share of the block's time that this thread (the client's event loop) or one of
    `pids`' main threads (a server's event loop) spent runnable, waiting for the OS to give it a CPU."""

    def __init__(self, pids: tuple[int, ...] | None) -> None:
        self.pids = pids
        self.share: float | None = None
        self._clock: RunQueueClock | None = None
        self._before: list[float | None] = []
        self._began = 0.0

    def __enter__(self) -> None:
        # No schedstat here (macOS, Windows), or nothing asked: nothing to say about the machine.
        self._clock = run_queue_clock() if self.pids is not None else None
        if self._clock is not None:
            self._before = self._read(self._clock)
            self._began = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        if self._clock is None:
            return
        after = self._read(self._clock)
        took = time.perf_counter() - self._began
        self._clock.close()
        waits = [b - a for a, b in zip(self._before, after, strict=True) if a is not None and b is not None]
        self.share = max(waits) / took if waits and took > 0 else None

    def _read(self, clock: RunQueueClock) -> list[float | None]:
        return [clock(), *(waited_for_cpu_s(pid) for pid in self.pids or ())]


async def _reset(client: httpx.AsyncClient, shot: Shot) -> bool:
    """Start the server's measurement window: True if a lab server answered."""
    if shot.workers is None:
        return await reset(client, shot.url)
    return bool(await every_worker(shot.url, shot.workers, RESET_PATH, "POST"))


async def _read_out(client: httpx.AsyncClient, shot: Shot, window_start: float) -> ServerStats | None:
    if shot.workers is None:
        return await read(client, shot.url)
    if shot.settle_s:  # work that runs after its response (background tasks) must finish, and be counted
        await settle(shot.url, shot.workers, shot.settle_s)
    return await read_workers(shot.url, shot.workers, window_start)


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host == "localhost" or host.startswith("127.") or host == "::1"


def run_burst(url: str, **kwargs: Any) -> BurstResult:
    """`burst` for synchronous callers (the CLI). Not for notebooks: there, `await burst(...)`."""
    return run(burst(url, **kwargs))


async def _warm_up(client: httpx.AsyncClient, method: str, url: str, json_body: Any) -> float:
    """Two requests before the burst: the first pays the cold start (connect, lazy imports) and proves
    something is listening; the second, timed, is the baseline "one request alone"."""
    try:
        await request(client, method, url, json_body)
    except httpx.ConnectError as exc:
        # The transports wrap the cause: a failed name lookup and a failed TLS handshake are not a closed port.
        causes: list[BaseException] = []
        cause: BaseException | None = exc
        while cause is not None and len(causes) < 10:
            causes.append(cause)
            cause = cause.__cause__ or cause.__context__
        host = httpx.URL(url).host
        if any(isinstance(c, socket.gaierror) for c in causes):
            raise BurstError(f"cannot resolve {host}: no such host (check the name in the URL)") from None
        if any(isinstance(c, ssl.SSLError) for c in causes):
            raise BurstError(
                f"the TLS handshake with {origin(url)} failed: is it a plain http server? try http:// instead"
                if url.startswith("https:")
                else f"the TLS handshake with {origin(url)} failed"
            ) from None
        raise BurstError(
            f"cannot connect to {origin(url)}: nothing is listening there (is the server running?)"
        ) from None
    except (httpx.TimeoutException, TimeoutError):
        raise BurstError(f"{url} did not answer a single request within {client.timeout.read:g} s") from None
    except httpx.HTTPError:
        pass  # reachable but misbehaving (e.g. it dropped the connection): the burst will show how
    start = time.perf_counter()
    with contextlib.suppress(httpx.HTTPError, TimeoutError):
        await request(client, method, url, json_body)
    return time.perf_counter() - start
