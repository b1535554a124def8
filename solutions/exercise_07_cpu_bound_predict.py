"""Exercise 7: CPU-bound predict and the GIL (solution).

This model runs in pure Python: each prediction computes for about 250 ms and never waits on
anything (`cpu_predict` burns the CPU, then predicts). In `async def` it freezes the event loop.
Moving it to `def` keeps `/health` alive but does not make 8 requests any faster, and the health
check still crawls: only one thread at a time can hold Python's GIL.

Run it:    lab run exercise-7        (fire 8 requests at POST /predict, then GET /health)
Done when: `lab check exercise-7` passes: the event loop stays on time during the burst and
           `/health` answers mid-burst quickly, while predictions stay correct.
"""

import asyncio
import multiprocessing
import os
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from lab.model import burn, iterations_for, load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import cpu_predict

MODEL = load_model()
ITERATIONS = iterations_for(250)  # about 250 ms of pure-Python work on this machine


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # FIX: a process pool, made once, sized to the cores this process may run on (read at run
    # time, never hard-coded). Each process has its own GIL, so predictions really run in
    # parallel, and the event-loop thread only awaits their results.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    # "spawn": a forked copy of a server that already runs threads can inherit a held lock.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=cores, mp_context=context) as pool:
        # Start every process now, so the first requests do not pay for spawning them.
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(pool, burn, 1) for _ in range(cores)))
        app.state.pool = pool
        yield


app = FastAPI(title="Exercise 7: CPU-bound predict and the GIL", lifespan=lifespan)


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest, request: Request) -> PredictResponse:
    # FIX: the work goes to another process; the function and its arguments are pickled there
    # (so `cpu_predict` lives at the top level of a module), and the loop awaits the answer.
    loop = asyncio.get_running_loop()
    prediction = await loop.run_in_executor(
        request.app.state.pool, cpu_predict, MODEL, features.feature_1, features.feature_2, ITERATIONS
    )
    return PredictResponse(prediction=prediction, model_version=MODEL.version)
