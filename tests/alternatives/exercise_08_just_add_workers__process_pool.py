"""Exercise 8, another fix: each worker sends the CPU work to its own small process pool.

Every worker runs the lifespan, so every worker makes a pool: size it cores // workers, or two
workers with a full-size pool each start twice as many processes as there are cores.
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

WORKERS = 2
MODEL = load_model()
ITERATIONS = iterations_for(800)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    per_worker = max(1, (os.cpu_count() or 1) // WORKERS)
    with ProcessPoolExecutor(max_workers=per_worker, mp_context=multiprocessing.get_context("spawn")) as pool:
        # Start the processes now: spawning one inside a request blocks that worker's loop.
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(pool, burn, 1) for _ in range(per_worker)))
        app.state.pool = pool
        yield


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest, request: Request) -> PredictResponse:
    loop = asyncio.get_running_loop()
    prediction = await loop.run_in_executor(
        request.app.state.pool, cpu_predict, MODEL, features.feature_1, features.feature_2, ITERATIONS
    )
    return PredictResponse(prediction=prediction, model_version=MODEL.version)
