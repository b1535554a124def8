"""Thread-pool limits: *which* pool a blocking call lands in, and how many threads it has.

- `sync`: `def` runs in AnyIO's pool: 40 tokens, so a burst above 40 runs in waves.
- `async`: `async def` + `anyio.to_thread.run_sync` with a limiter sized for the lab's bursts.
- `broken`: `asyncio.to_thread` looks right but uses asyncio's *default executor*,
  min(32, cores + 4) threads: waves of 6 on a 2-core machine.

Each twin counts the threads running its wait (`THREADS_GAUGE` in `/lab/stats`), so a demo shows
every request in its handler beside the few threads that actually run.
"""

from __future__ import annotations

import asyncio
import time

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request

from lab.instruments import INSTRUMENTS
from lab.scenarios import THREADS_GAUGE
from lab.schemas import Waited
from lab.server.scenarios.params import DelayMs

router = APIRouter(prefix="/pool", tags=["pool"])

# Made once, shared by every request: a limiter created per request would limit nothing.
WIDE_LIMITER = anyio.CapacityLimiter(1000)


def blocking_wait(seconds: float) -> None:
    """The blocking call, counted while a thread runs it (the gauge is made on first use: only a server
    that ran a pool twin reports it)."""
    with INSTRUMENTS.gauge(THREADS_GAUGE).track():
        time.sleep(seconds)


@router.get("/sync")
def pool_sync(request: Request, delay_ms: DelayMs = 100) -> Waited:
    # `def`: one of AnyIO's 40 tokens for the whole wait; the 41st request waits for a token.
    blocking_wait(delay_ms / 1000)
    return Waited(variant="sync", delay_ms=delay_ms, model_version=request.app.state.model.version)


@router.get("/async")
async def pool_async(request: Request, delay_ms: DelayMs = 100) -> Waited:
    # A thread from a limiter we sized ourselves: as many blocking calls at once as we allow.
    await anyio.to_thread.run_sync(blocking_wait, delay_ms / 1000, limiter=WIDE_LIMITER)
    return Waited(variant="async", delay_ms=delay_ms, model_version=request.app.state.model.version)


@router.get("/broken")
async def pool_broken(request: Request, delay_ms: DelayMs = 100) -> Waited:
    # THE MISTAKE: asyncio.to_thread uses asyncio's default executor, not AnyIO's pool:
    # only min(32, cores + 4) threads, so a burst runs in small waves.
    await asyncio.to_thread(blocking_wait, delay_ms / 1000)
    return Waited(variant="broken", delay_ms=delay_ms, model_version=request.app.state.model.version)
