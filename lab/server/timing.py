"""The timing middleware: every request timed, counted in flight, and stamped with its server-side times.

A pure ASGI middleware rather than Starlette's `BaseHTTPMiddleware`: it adds no task and no
await between a request arriving and its handler starting, so it cannot change the very
concurrency it measures. It also owns the heartbeat, started with the app's lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lab.instruments import HEARTBEAT_INTERVAL_S, INSTRUMENTS, Instruments, heartbeat
from lab.protocol import RequestRecord, ServerTimes
from lab.server import metrics
from lab.server.handlers import CURRENT, HandlerTimes
from lab.server.unawaited import watch_unawaited
from lab.server.watchdog import Watchdog

# The lab's own read-outs are not part of any burst: leave them out of the counts.
UNTIMED_PREFIXES = ("/lab/", "/metrics", "/docs", "/openapi.json", "/redoc")
WATCHDOG_ENV = "LAB_WATCHDOG"  # "0": no watchdog thread (to measure what it costs)


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
        instruments = self.instruments
        watch_unawaited(instruments)
        beat = asyncio.create_task(heartbeat(instruments, observe=metrics.LOOP_LAG_SECONDS.observe))
        watchdog = None
        if os.environ.get(WATCHDOG_ENV, "1") != "0":
            # Off the loop: names the line that blocks it, read from this (the loop's) thread's stack.
            watchdog = Watchdog(threading.get_ident(), lambda: instruments.last_beat, interval_s=HEARTBEAT_INTERVAL_S)
            instruments.watchdog = watchdog.start()
        try:
            await self.app(scope, receive, send)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            if watchdog is not None:
                watchdog.stop()
                instruments.watchdog = None

    async def _timed(self, scope: Scope, receive: Receive, send: Send) -> None:
        instruments = self.instruments
        start = time.perf_counter()
        status = 500  # what the client sees if the app raises before answering
        instruments.in_flight.enter()
        instruments.note_tokens()
        handler = HandlerTimes(scope["path"])  # filled in by the endpoint and its dependencies (lab.server.handlers)
        request = CURRENT.set(handler)

        async def send_with_times(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                elapsed = time.perf_counter() - start
                times = ServerTimes(start, elapsed, os.getpid(), handler.start, handler.end)
                message = {**message, "headers": [*message.get("headers", []), *times.headers()]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_times)
        finally:
            CURRENT.reset(request)
            end = time.perf_counter()
            instruments.in_flight.leave()
            route = scope.get("route")
            route_path = getattr(route, "path", "unmatched")  # templates only: bounded label values
            record = RequestRecord(scope["method"], scope["path"], status, start, end, handler.start, handler.end)
            instruments.record(record)
            metrics.REQUEST_SECONDS.labels(scope["method"], route_path, str(status)).observe(end - start)
