"""The one place that chooses the HTTP client library.

`httpx2` is the maintained continuation of HTTPX (same API). It is used instead of httpx 0.28
because httpx 0.28/httpcore 1.0 hands one idle connection to every waiter of a warm pool
(encode/httpcore#1035): a 100-request burst then takes ten times too long. Swap the import here
and nowhere else.

Bursts go through `burst_client()`: the same HTTPX API on an aiohttp transport. httpx2's own
transport spends enough CPU per request that at N=100 the client, not the server, set the wall
time (~1.5-1.8x `hey`'s, measured side by side); aiohttp's C-accelerated path comes within
~10-20 % of hey (`make bench`).

aiohttp is imported when the first burst client sends its first request, not here: this module is
also what exercise files and the served app import (`from lab.client import httpx`), and aiohttp
costs a server ~0.2-0.4 s of start-up it never uses.

Every client the lab makes for itself passes `trust_env=False`: it only ever talks to loopback servers,
and a proxy in the environment (`HTTP_PROXY` on a corporate laptop) cannot reach the learner's
127.0.0.1. Learners' own clients keep the default, so importing this module also adds loopback to
`NO_PROXY` (in this process and in the servers it starts): their calls to the fake store stay local too.

A burst keeps at most `MAX_BODY_BYTES` of each body (the rest is read, counted and dropped): memory
stays flat whatever the server sends.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx2 as httpx

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "BODY_BYTES",
    "LOOPBACK_HOSTS",
    "MAX_BODY_BYTES",
    "AiohttpTransport",
    "Answer",
    "BurstClient",
    "Reply",
    "burst_client",
    "httpx",
    "preload_burst_client",
]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")
MAX_BODY_BYTES = 64 * 1024  # a burst keeps this much of each body; the rest is read, counted and dropped
BODY_BYTES = "lab_body_bytes"  # the response extension holding the whole body's size


def never_proxy_loopback(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Add loopback to `NO_PROXY` when a proxy is set: HTTPX (trust_env) would otherwise send 127.0.0.1 there."""
    if not any(environ.get(name) or environ.get(name.upper()) for name in PROXY_VARIABLES):
        return
    current = environ.get("no_proxy") or environ.get("NO_PROXY") or ""
    hosts = [h.strip() for h in current.split(",") if h.strip()]
    merged = ",".join(hosts + [h for h in LOOPBACK_HOSTS if h not in hosts])
    # Both spellings: urllib prefers the lower-case one when both exist, other tools the upper-case one.
    environ["no_proxy"] = environ["NO_PROXY"] = merged


never_proxy_loopback()


class Reply(Protocol):
    """What a burst reads of a response: an `httpx.Response`, or the lean `Answer` of a `BurstClient`."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Answer:
    """A response as a burst needs it: status, headers (case-insensitive), body. No HTTPX model per request."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An HTTPX transport that sends requests with aiohttp, mapping its errors to HTTPX's."""

    def __init__(self, max_connections: int, *, keep_alive: bool = True) -> None:
        self._max_connections = max_connections
        self._keep_alive = keep_alive  # False: a new connection per request (spread over uvicorn workers)
        self._session: aiohttp.ClientSession | None = None  # made lazily: it must live in the running loop

    def session(self) -> aiohttp.ClientSession:
        import aiohttp  # once per process: after the first call this is a dictionary look-up

        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, limit_per_host=self._max_connections, force_close=not self._keep_alive
            )
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import aiohttp

        timeout = request.extensions.get("timeout", {})
        try:
            async with self.session().request(
                request.method,
                str(request.url),
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
                data=await request.aread() or None,
                timeout=aiohttp.ClientTimeout(sock_connect=timeout.get("connect"), sock_read=timeout.get("read")),
                allow_redirects=False,  # HTTPX decides about redirects, as with its own transport
            ) as response:
                content, size = await _read_capped(response, MAX_BODY_BYTES)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _httpx_error(exc, request) from exc
        return httpx.Response(
            response.status, headers=list(response.raw_headers), content=content, extensions={BODY_BYTES: size}
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


async def _read_capped(response: aiohttp.ClientResponse, cap: int) -> tuple[bytes, int]:
    """The first `cap` bytes of the body and its whole size: memory stays flat whatever the server sends
    (N requests at a 100 MB body would otherwise hold N x 100 MB)."""
    kept = bytearray()
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if len(kept) < cap:
            kept += chunk[: cap - len(kept)]
    return bytes(kept), size


def _httpx_error(exc: Exception, request: httpx.Request | None) -> httpx.HTTPError:
    """The HTTPX error for an aiohttp one, so samples name errors alike whichever path sent them."""
    import aiohttp

    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(exc) or "connect timeout", request=request)
    if isinstance(exc, (TimeoutError, aiohttp.SocketTimeoutError)):
        return httpx.ReadTimeout(str(exc) or "read timeout", request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(exc), request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(str(exc) or "server disconnected", request=request)
    return httpx.ReadError(str(exc) or type(exc).__name__, request=request)


class BurstClient(httpx.AsyncClient):
    """The HTTPX API on an aiohttp transport, plus `sender`: the firing loop's lean path around HTTPX.

    Profiled over 10,000 requests at concurrency 200 (`make bench`), building HTTPX's request and
    response models (URL parsing, header objects, byte streams) cost the client about as much CPU
    per request as aiohttp's whole exchange, on a machine where the client shares two cores with
    the server. `sender` prepares everything that is the same for every request once (URL, body,
    headers, timeouts) and returns each answer as a plain `Answer`.
    """

    def __init__(
        self,
        max_connections: int,
        timeout: Any,
        *,
        keep_alive: bool = True,
        base_url: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.transport = AiohttpTransport(max_connections, keep_alive=keep_alive)
        self.extra_headers = dict(headers or {})  # the user's own (`-H`): on every request, the lean path's too
        super().__init__(
            transport=self.transport,
            timeout=timeout,
            base_url=base_url,
            verify=False,
            trust_env=False,
            headers=self.extra_headers,
        )

    def sender(self, method: str, url: str, json_body: Any) -> Callable[[], Awaitable[Answer]]:
        """`await send()` sends one request, as `client.request(method, url, json=json_body)` would."""
        import aiohttp
        import yarl

        prepared = self.build_request(method, url, json=json_body)  # HTTPX's URL joining and JSON encoding, once
        target = yarl.URL(str(prepared.url), encoded=True)
        body = prepared.content or None
        sent = dict(self.extra_headers)
        if body:
            sent["Content-Type"] = prepared.headers["Content-Type"]
        headers = sent or None
        session = self.transport.session()
        timeout = aiohttp.ClientTimeout(sock_connect=self.timeout.connect, sock_read=self.timeout.read)

        async def send() -> Answer:
            try:
                async with session.request(
                    method, target, data=body, headers=headers, timeout=timeout, allow_redirects=False
                ) as response:
                    content, _ = await _read_capped(response, MAX_BODY_BYTES)
                    return Answer(response.status, response.headers, content)
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise _httpx_error(exc, None) from exc

        return send


def preload_burst_client() -> None:
    """Import what a `BurstClient` imports on its first request, now (for callers with time to spare)."""
    import aiohttp  # noqa: F401
    import uvloop  # noqa: F401 - `lab.load.fire.run`'s loop
    import yarl  # noqa: F401


def burst_client(
    max_connections: int,
    timeout: Any,
    *,
    keep_alive: bool = True,
    base_url: str = "",
    headers: Mapping[str, str] | None = None,
) -> BurstClient:
    """An AsyncClient for bursts: connections sized to the burst (no client-side queueing); `headers` on every
    request it sends."""
    return BurstClient(max_connections, timeout, keep_alive=keep_alive, base_url=base_url, headers=headers)
