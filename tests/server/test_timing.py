"""The timing middleware, driven as ASGI directly: what it stamps, counts and records for each request."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from lab.instruments import Instruments
from lab.protocol import ServerTimes
from lab.server.timing import TimingMiddleware


def http_scope(path: str) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": path, "headers": []}


async def call(middleware: TimingMiddleware, path: str) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await middleware(http_scope(path), receive, send)
    return sent


def test_every_answer_carries_the_servers_times() -> None:
    instruments = Instruments()
    seen_inside: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen_inside.append(instruments.in_flight.current)
        await send({"type": "http.response.start", "status": 201, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    sent = asyncio.run(call(TimingMiddleware(app, instruments), "/sleep/async"))
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    times = ServerTimes.from_headers(headers)
    assert times is not None and times.pid == os.getpid() and times.elapsed_s >= 0
    assert headers["content-type"] == "text/plain"  # the app's own headers are kept
    assert seen_inside == [1]  # counted in flight while the app runs...
    assert instruments.in_flight.current == 0  # ...and not after
    (record,) = instruments.snapshot().requests
    assert (record.method, record.path, record.status) == ("GET", "/sleep/async", 201)
    assert abs(record.start - times.start) < 1e-5 and record.end >= record.start  # headers carry 6 decimals


def test_an_app_that_raises_is_recorded_as_a_500() -> None:
    instruments = Instruments()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):  # the server's own error handling takes it from here
        asyncio.run(call(TimingMiddleware(app, instruments), "/predict"))
    (record,) = instruments.snapshot().requests
    assert record.status == 500
    assert instruments.in_flight.current == 0


def test_the_labs_own_read_outs_are_not_counted() -> None:
    instruments = Instruments()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    for path in ("/lab/stats", "/metrics", "/docs", "/openapi.json"):
        sent = asyncio.run(call(TimingMiddleware(app, instruments), path))
        assert ServerTimes.from_headers({k.decode(): v.decode() for k, v in sent[0]["headers"]}) is None
    assert instruments.snapshot().requests == () and instruments.in_flight.peak == 0
