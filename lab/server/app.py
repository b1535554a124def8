"""The lab's inference server: `/health`, `/predict`, the scenario twins, and its own instruments.

Run it with `lab serve`, `uvicorn lab.server.app:app`, or `fastapi dev lab/server/app.py`.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from lab.contain import pool_worker, spawning_deaf_to_ctrl_c
from lab.model import burn, iterations_for, load_model
from lab.scenarios import ONNX_EXTRA
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.server.observability import instrument
from lab.server.scenarios import cpu, downstream, numpy, onnx, pool, predict, sleep
from lab.server.store import create_store

if TYPE_CHECKING:
    from lab.numpy_model import NumpyModel
    from lab.onnx_model import OnnxModel

INDEX_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Concurrency lab inference server</title></head>
<body>
<h1>Concurrency lab inference server</h1>
<p>A small inference server that measures itself, to show how FastAPI runs <code>def</code> and
<code>async def</code> code. Its scenario twins (<code>/sleep</code>, <code>/cpu</code>, <code>/predict</code>,
<code>/pool</code>, <code>/downstream</code>, <code>/numpy</code>, <code>/onnx</code>, each <code>sync</code>,
<code>async</code> and <code>broken</code>)
are there to be loaded with <code>lab burst</code> or <code>lab compare --url</code>.</p>
<ul>
<li><a href="/docs">/docs</a>: every endpoint, to try from the browser</li>
<li><a href="/lab/stats">/lab/stats</a>: what the server measured about itself (handlers in flight, loop lag, thread
tokens)</li>
<li><a href="/metrics">/metrics</a>: the same in Prometheus text</li>
<li><a href="/health">/health</a>: the liveness check</li>
</ul>
</body></html>
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Everything slow happens here, once, before uvicorn accepts the first connection. The process pool,
    # the HTTP client and the in-thread store are imported here too, not at the top: `import lab.server.app`
    # then costs little more than `import fastapi` (tests/test_startup.py).
    import multiprocessing

    from lab.client import httpx
    from lab.numpy_model import cap_intra_op_threads, load_numpy_model, ms_per_pass
    from lab.onnx_model import ms_per_pass as onnx_ms_per_pass
    from lab.server.process_pool import CountedProcessPool
    from lab.serving import ThreadServer

    app.state.model = load_model()
    iterations_for(1)  # calibrate the CPU work once, not inside a request
    # One BLAS thread per request thread, set once for the whole process (OpenBLAS's setting is
    # global, so a per-request limit would race): FastAPI's threads provide the parallelism.
    # LAB_INTRA_OP_THREADS=0 leaves BLAS's default, to show what that costs.
    intra_op = cap_intra_op_threads()
    app.state.numpy_model = load_numpy_model()
    app.state.numpy_ms_per_pass = ms_per_pass(app.state.numpy_model)
    # ONNX Runtime (optional) is timed here too, before the pool's processes and the store start: timed
    # while they start, a pass measured up to twice too slow (the /onnx twins then did half their work).
    app.state.onnx_model = _load_onnx_model(app.state.numpy_model, intra_op)
    if app.state.onnx_model is not None:
        app.state.onnx_ms_per_pass = onnx_ms_per_pass(app.state.onnx_model)
    workers = os.cpu_count() or 1
    # "spawn": a forked child of a threaded server can inherit locks held by other threads.
    # pool_worker: each worker dies with this server, even a SIGKILLed one, and leaves Ctrl-C to it.
    spawn = multiprocessing.get_context("spawn")
    with (
        CountedProcessPool(workers, spawn, initializer=pool_worker, initargs=(os.getpid(),)) as process_pool,
        ThreadServer(create_store()) as store,
    ):
        loop = asyncio.get_running_loop()
        # Start every pool process now, so the first burst does not pay for spawning them. They are
        # spawned as the work is submitted, here: deaf to a Ctrl-C that arrives while they import.
        with spawning_deaf_to_ctrl_c():
            warm_up = [loop.run_in_executor(process_pool, burn, 1) for _ in range(workers)]
        await asyncio.gather(*warm_up)
        app.state.process_pool = process_pool
        app.state.store_url = store.url
        limits = httpx.Limits(max_connections=1000)
        with httpx.Client(limits=limits, timeout=downstream.STORE_TIMEOUT_S, trust_env=False) as store_sync_client:
            store_client = httpx.AsyncClient(limits=limits, timeout=downstream.STORE_TIMEOUT_S, trust_env=False)
            async with store_client:
                app.state.store_client = store_client
                app.state.store_sync_client = store_sync_client  # thread-safe: shared by the `def` twin
                yield
    # The pool's queues hold named semaphores, unlinked when they are collected. A uvicorn worker stopped
    # by SIGTERM re-raises it once served, and dies of it without running a finalizer: anything a cycle
    # still held is then reported leaked by multiprocessing's resource tracker, after the server's last line.
    del app.state.process_pool
    gc.collect()


def _load_onnx_model(weights: NumpyModel, intra_op: int | None) -> OnnxModel | None:
    """The /onnx twins' model, or None without the `onnx` extra (they answer 503 and say how to install it)."""
    if not ONNX_EXTRA.installed():
        return None
    from lab.onnx_model import load_onnx_model  # imports onnxruntime: only here, never with the app module

    # The BLAS cap, ONNX Runtime's own way: its intra-op pool is sized once, when the session is made.
    return load_onnx_model(weights, threads=intra_op)


def create_app() -> FastAPI:
    app = FastAPI(
        title="Concurrency lab inference server",
        summary="An inference server that measures itself: see /lab/stats and /metrics.",
        lifespan=lifespan,
    )

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        # What a browser opening the server's address sees, rather than a 404.
        return HTMLResponse(INDEX_PAGE)

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

    for scenario in (sleep, cpu, predict, pool, downstream, numpy, onnx):
        app.include_router(scenario.router)
    # instrument() also bounds bodies and keeps NaN a 422 (lab.server.limits).
    return instrument(app)


app = create_app()
