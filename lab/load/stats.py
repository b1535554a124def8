"""The one client of a lab server's own read-out, `/lab/stats`: reset a window, read it, every worker's.

    if await reset(client, url):             # False: not a lab server (no /lab/stats)
        ...fire the burst...
        stats = await read(client, url)     # a `ServerStats`, or None if it could not be read

A server with several worker processes has one set of instruments per process, and the kernel
hands each new connection to one of them: `read_workers` asks until each has answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from urllib.parse import urlsplit

from lab.client import httpx
from lab.errors import ProtocolError
from lab.protocol import RESET_PATH, STATS_PATH, ServerStats

__all__ = [
    "every_worker",
    "fetch",
    "merge_fresh",
    "open_connections",
    "origin",
    "read",
    "read_workers",
    "reset",
    "settle",
]

STATS_TIMEOUT_S = 3.0
WORKER_TRIES = 4  # read-out requests per worker: new connections land on a worker the kernel picks
READ_ROUNDS = 3  # ...and rounds of them, until every worker has answered


def origin(url: str) -> str:
    """`http://host:port` of any URL on that server."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def fetch(
    client: httpx.AsyncClient, url: str, path: str = STATS_PATH, method: str = "GET", *, records: bool = False
) -> ServerStats:
    """One read-out; raises httpx's errors, or ProtocolError when the answer is not the lab's stats.

    Without `records`, the server leaves out its per-request records: after a 10,000-request burst they
    are megabytes nobody here reads (and a burst client keeps only the start of a large body).
    """
    query = "" if records else "?records=false"
    response = (await client.request(method, origin(url) + path + query)).raise_for_status()
    try:
        data = response.json()
    except ValueError:
        raise ProtocolError(f"{path} did not answer JSON") from None
    return ServerStats.from_json(data)


async def reset(client: httpx.AsyncClient, url: str) -> bool:
    """Start the lab server's measurement window; False when the target is not a lab server."""
    try:
        await fetch(client, url, RESET_PATH, "POST")
    except (httpx.HTTPError, ProtocolError):
        return False
    return True


async def read(client: httpx.AsyncClient, url: str) -> ServerStats | None:
    try:
        return await fetch(client, url)
    except (httpx.HTTPError, ProtocolError):
        return None


async def open_connections(client: httpx.AsyncClient, url: str, count: int) -> None:
    """Open `count` connections before a burst's clock starts, with cheap requests the server does not count.

    Otherwise the burst also times `count` TCP handshakes racing each other, and at N=100 that
    is a fifth of the wall time.
    """
    with contextlib.suppress(httpx.HTTPError, TimeoutError):
        async with asyncio.timeout(10):
            await asyncio.gather(*(client.get(origin(url) + STATS_PATH) for _ in range(count)))


async def every_worker(url: str, workers: int, path: str = STATS_PATH, method: str = "GET") -> list[ServerStats]:
    """A read-out request to every worker, as far as one can: with one worker, one request."""
    tries = 1 if workers == 1 else WORKER_TRIES * workers
    limits = httpx.Limits(max_keepalive_connections=0)  # a new connection each: spread over the workers
    async with httpx.AsyncClient(limits=limits, timeout=STATS_TIMEOUT_S, verify=False, trust_env=False) as client:

        async def one() -> ServerStats | None:
            try:
                return await fetch(client, url, path, method)
            except (httpx.HTTPError, ProtocolError):
                return None  # a loop still blocked by the learner's code cannot answer: the judge is told

        answers = await asyncio.gather(*(one() for _ in range(tries)))
    return [a for a in answers if a is not None]


async def read_workers(url: str, workers: int, window_start: float) -> ServerStats | None:
    """One view of the server from every worker's `/lab/stats`, each told apart by its `since`.

    Snapshots from before the window (a worker the reset did not reach) still count their start-up,
    so they are used only when no fresh one came back.
    """
    snapshots: list[ServerStats] = []
    for _ in range(1 if workers == 1 else READ_ROUNDS):
        snapshots += await every_worker(url, workers)
        fresh = {s.since for s in snapshots if s.since >= window_start}
        if not snapshots or len(fresh) >= workers:
            break
        await asyncio.sleep(0.02)
    return merge_fresh(snapshots, window_start)


async def settle(url: str, workers: int, timeout_s: float) -> bool:
    """Wait until nothing runs on the server (no request in flight, every gauge at 0): True if it did.

    Work started by a request but done after its response (a background task) is then finished
    and counted, however long after the last response it ran. Bounded by `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        snapshots = await every_worker(url, workers)
        # A background task runs inside its request's call to the app: the request is still in flight.
        if snapshots and all(s.in_flight == 0 and not any(g.current for g in s.gauges.values()) for s in snapshots):
            return True
        await asyncio.sleep(0.02)
    return False


def merge_fresh(snapshots: list[ServerStats], window_start: float) -> ServerStats | None:
    """One snapshot per worker (told apart by `since`), merged: the fresh ones if any came back."""
    workers = {s.since: s for s in snapshots}
    fresh = [s for s in workers.values() if s.since >= window_start]
    chosen = fresh or list(workers.values())
    return ServerStats.merge(chosen) if chosen else None
