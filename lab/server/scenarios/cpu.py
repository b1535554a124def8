"""CPU-bound inference. Pure-Python work holds the GIL: threads keep the server answering but add no speed.

The `async` twin sends the work to a process pool made once in the lifespan, sized to the cores:
each process has its own GIL, so the work really runs in parallel.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from lab.model import burn, iterations_for
from lab.schemas import Waited
from lab.server.scenarios.params import CpuMs

router = APIRouter(prefix="/cpu", tags=["cpu"])


@router.get("/sync")
def cpu_sync(request: Request, delay_ms: CpuMs = 100) -> Waited:
    # `def`: a worker thread. The event loop stays free, but only one thread at a time holds the GIL.
    burn(iterations_for(delay_ms))
    return Waited(variant="sync", delay_ms=delay_ms, model_version=request.app.state.model.version)


@router.get("/async")
async def cpu_async(request: Request, delay_ms: CpuMs = 100) -> Waited:
    # `async def` + a process pool: the loop awaits while another process (another GIL) computes.
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(request.app.state.process_pool, burn, iterations_for(delay_ms))
    return Waited(variant="async", delay_ms=delay_ms, model_version=request.app.state.model.version)


@router.get("/broken")
async def cpu_broken(request: Request, delay_ms: CpuMs = 100) -> Waited:
    # THE MISTAKE: CPU work directly in `async def` runs on the event-loop thread and blocks it.
    burn(iterations_for(delay_ms))
    return Waited(variant="broken", delay_ms=delay_ms, model_version=request.app.state.model.version)
