"""The one place that chooses the HTTP client library.

`httpx2` is the maintained continuation of HTTPX (same API). It is used instead of httpx 0.28
because httpx 0.28/httpcore 1.0 hands one idle connection to every waiter of a warm pool
(encode/httpcore#1035): a 100-request burst then takes ten times too long. Swap the import here
and nowhere else.

Bursts go through `burst_client()`: the same HTTPX API on an aiohttp transport. httpx2's own
transport spends enough CPU per request that at N=100 the client, not the server, set the wall
time (~1.5-1.8x `hey`'s, measured side by side); aiohttp's C-accelerated path comes within
~10-20 % of hey (`make bench`).

Every client the lab makes for itself passes `trust_env=False`: it only ever talks to loopback servers,
and a proxy in the environment (`HTTP_PROXY` on a corporate laptop) cannot reach the learner's
127.0.0.1. Learners' own clients keep the default, so importing this module also adds loopback to
`NO_PROXY` (in this process and in the servers it starts): their calls to the fake store stay local too.
"""

from __future__ import annotations

import os
from typing import Any

import aiohttp
import httpx2 as httpx

__all__ = ["BODY_BYTES", "LOOPBACK_HOSTS", "MAX_BODY_BYTES", "AiohttpTransport", "burst_client", "httpx"]

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


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An HTTPX transport that sends requests with aiohttp, mapping its errors to HTTPX's."""

    def __init__(self, max_connections: int) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None  # made lazily: it must live in the running loop

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=self._max_connections)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        timeout = request.extensions.get("timeout", {})
        try:
            async with self._session.request(
                request.method,
                str(request.url),
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
                data=await request.aread() or None,
                timeout=aiohttp.ClientTimeout(sock_connect=timeout.get("connect"), sock_read=timeout.get("read")),
                allow_redirects=False,  # HTTPX decides about redirects, as with its own transport
            ) as response:
                content, size = await _read_capped(response, MAX_BODY_BYTES)
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "connect timeout", request=request) from exc
        except (TimeoutError, aiohttp.SocketTimeoutError) as exc:
            raise httpx.ReadTimeout(str(exc) or "read timeout", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise httpx.RemoteProtocolError(str(exc) or "server disconnected", request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
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


def burst_client(max_connections: int, timeout: Any) -> httpx.AsyncClient:
    """An AsyncClient for bursts: connections sized to the burst (no client-side queueing)."""
    return httpx.AsyncClient(transport=AiohttpTransport(max_connections), timeout=timeout, trust_env=False)
