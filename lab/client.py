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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx2 as httpx

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AiohttpTransport", "burst_client", "httpx"]


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An HTTPX transport that sends requests with aiohttp, mapping its errors to HTTPX's."""

    def __init__(self, max_connections: int) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None  # made lazily: it must live in the running loop

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import aiohttp  # once per process: after the first call this is a dictionary look-up

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
                content = await response.read()
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
        return httpx.Response(response.status, headers=list(response.raw_headers), content=content)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def burst_client(max_connections: int, timeout: Any) -> httpx.AsyncClient:
    """An AsyncClient for bursts: connections sized to the burst (no client-side queueing)."""
    return httpx.AsyncClient(transport=AiohttpTransport(max_connections), timeout=timeout)
