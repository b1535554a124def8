"""Waiting on I/O. `time.sleep` stands in for any blocking call: `requests.get`, a DB driver, an SDK."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request

from lab.schemas import Waited
from lab.server.scenarios.params import DelayMs

router = APIRouter(prefix="/sleep", tags=["sleep"])


@router.get("/sync")
def sleep_sync(request: Request, delay_ms: DelayMs = 100) -> Waited:
    # `def`: FastAPI runs this in a worker thread, so the blocking sleep blocks only that thread.
    time.sleep(delay_ms / 1000)
    return Waited(variant="sync", delay_ms=delay_ms, model_version=request.app.state.model.version)


@router.get("/async")
async def sleep_async(request: Request, delay_ms: DelayMs = 100) -> Waited:
    # `async def` + `await`: the wait hands the event loop back to every other request.
    await asyncio.sleep(delay_ms / 1000)
    return Waited(variant="async", delay_ms=delay_ms, model_version=request.app.state.model.version)


@router.get("/broken")
async def sleep_broken(request: Request, delay_ms: DelayMs = 100) -> Waited:
    # THE MISTAKE: `async def` runs on the event-loop thread, and `time.sleep` never yields it.
    # Every other request, /health included, waits until this one is done.
    time.sleep(delay_ms / 1000)  # noqa: ASYNC251
    return Waited(variant="broken", delay_ms=delay_ms, model_version=request.app.state.model.version)
