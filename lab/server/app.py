"""The lab's inference server: `/health`, `/predict`, the scenario twins, and its own instruments.

Run it with `lab serve`, `uvicorn lab.server.app:app`, or `fastapi dev lab/server/app.py`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from lab.model import burn, iterations_for, load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.server.observability import instrument
from lab.server.scenarios import cpu, downstream, pool, predict, sleep
from lab.server.store import create_store


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Everything slow happens here, once, before uvicorn accepts the first connection. The process pool,
    # the HTTP client and the in-thread store are imported here too, not at the top: `import lab.server.app`
    # then costs little more than `import fastapi` (tests/test_startup.py).
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from lab.client import httpx
    from lab.launch.process import ThreadServer

    app.state.model = load_model()
    iterations_for(1)  # calibrate the CPU work once, not inside a request
    workers = os.cpu_count() or 1
    # "spawn": a forked child of a threaded server can inherit locks held by other threads.
    with (
        ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as process_pool,
        ThreadServer(create_store()) as store,
    ):
        loop = asyncio.get_running_loop()
        # Start every pool process now, so the first burst does not pay for spawning them.
        await asyncio.gather(*(loop.run_in_executor(process_pool, burn, 1) for _ in range(workers)))
        app.state.process_pool = process_pool
        app.state.store_url = store.url
        limits = httpx.Limits(max_connections=1000)
        async with httpx.AsyncClient(limits=limits, timeout=downstream.STORE_TIMEOUT_S) as store_client:
            app.state.store_client = store_client
            yield


def create_app() -> FastAPI:
    app = FastAPI(
        title="Concurrency lab inference server",
        summary="An inference server that measures itself: see /lab/stats and /metrics.",
        lifespan=lifespan,
    )

    @app.get("/health")
    async def health(request: Request) -> Health:
        # `async def` and free of sync dependencies: it answers even when every thread is busy.
        return Health(status="healthy", model_version=request.app.state.model.version)

    @app.post("/predict")
    async def predict_endpoint(features: PredictRequest, request: Request) -> PredictResponse:
        model = request.app.state.model
        return PredictResponse(
            prediction=model.predict(features.feature_1, features.feature_2), model_version=model.version
        )

    for scenario in (sleep, cpu, predict, pool, downstream):
        app.include_router(scenario.router)
    # instrument() also bounds bodies and keeps NaN a 422 (lab.server.limits).
    return instrument(app)


app = create_app()
