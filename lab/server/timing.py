"""The timing middleware: every request timed, counted in flight, and stamped with its server-side times.

A pure ASGI middleware rather than Starlette's `BaseHTTPMiddleware`: it adds no task and no
await between a request arriving and its handler starting, so it cannot change the very
concurrency it measures. It also owns the heartbeat, started with the app's lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lab.instruments import INSTRUMENTS, Instruments, heartbeat
from lab.protocol import RequestRecord, ServerTimes
from lab.server import metrics

# The lab's own read-outs are not part of any burst: leave them out of the counts.
UNTIMED_PREFIXES = ("/lab/", "/metrics", "/docs", "/openapi.json", "/redoc")


class TimingMiddleware:
    def __init__(self, app: ASGIApp, instruments: Instruments = INSTRUMENTS) -> None:
        self.app = app
        self.instruments = instruments

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        elif scope["type"] == "http" and not scope["path"].startswith(UNTIMED_PREFIXES):
            await self._timed(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        beat = asyncio.create_task(heartbeat(self.instruments, observe=metrics.LOOP_LAG_SECONDS.observe))
        try:
            await self.app(scope, receive, send)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _timed(self, scope: Scope, receive: Receive, send: Send) -> None:
        instruments = self.instruments
        start = time.perf_counter()
        status = 500  # what the client sees if the app raises before answering
        instruments.in_flight.enter()
        instruments.note_tokens()

        async def send_with_times(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                elapsed = time.perf_counter() - start
                headers = [*message.get("headers", []), *ServerTimes(start, elapsed, os.getpid()).headers()]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_times)
        finally:
            end = time.perf_counter()
            instruments.in_flight.leave()
            route = scope.get("route")
            route_path = getattr(route, "path", "unmatched")  # templates only: bounded label values
            instruments.record(RequestRecord(scope["method"], scope["path"], status, start, end))
            metrics.REQUEST_SECONDS.labels(scope["method"], route_path, str(status)).observe(end - start)
