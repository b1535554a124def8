"""The burst engine: fire N requests at once at any HTTP server, time each one honestly, judge the result.

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

import contextlib
import os
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lab.client import burst_client, httpx
from lab.errors import BurstError
from lab.load.fire import MAX_BURST_S, fire, request, run
from lab.load.measure import Sample, Summary, summarize
from lab.load.stats import open_connections, origin, read, reset
from lab.load.verdict import Verdict, judge
from lab.protocol import ServerStats

__all__ = ["BurstError", "BurstResult", "burst", "check_url", "run_burst"]

MAX_REQUESTS = 10_000
MAX_CONCURRENCY = 1_000
DEFAULT_TIMEOUT_S = 60.0
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


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
        is_lab = await reset(client, url)
        if is_lab:  # a lab server's `/lab/stats` is cheap and not counted: open every connection on it first
            await open_connections(client, url, concurrency)
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
        server = await read(client, url) if is_lab else None
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
