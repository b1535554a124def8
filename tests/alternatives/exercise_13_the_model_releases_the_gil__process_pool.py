"""Exercise 13, a fix that passes only because it is not slower: a process pool sized to the cores.

Each process loads its own copy of the model (10 MB each here; gigabytes for a real one) and every
call pickles its arguments there and back. It works, but for work that releases the GIL it buys
nothing the threads did not already have.
"""

import asyncio
import multiprocessing
import os
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from lab.numpy_model import NumpyModel, load_numpy_model, threadpool_limits
from lab.schemas import Health, PredictRequest, PredictResponse

PASSES = 8
_MODEL: NumpyModel | None = None  # each pool process's own copy


def _load_in_process() -> None:
    global _MODEL
    threadpool_limits(limits=1, user_api="blas")
    _MODEL = load_numpy_model()


def _predict(feature_1: float, feature_2: float) -> float:
    assert _MODEL is not None
    return _MODEL.predict(feature_1, feature_2, passes=PASSES)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.model = load_numpy_model()
    cores = len(os.sched_getaffinity(0))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(cores, mp_context=context, initializer=_load_in_process) as pool:
        loop = asyncio.get_running_loop()
        # Start every process (and its model copy) before the first request.
        await asyncio.gather(*(loop.run_in_executor(pool, _predict, 0.0, 0.0) for _ in range(cores)))
        app.state.pool = pool
        yield


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health(request: Request) -> Health:
    return Health(status="healthy", model_version=request.app.state.model.version)


@app.post("/predict")
async def predict(features: PredictRequest, request: Request) -> PredictResponse:
    loop = asyncio.get_running_loop()
    prediction = await loop.run_in_executor(request.app.state.pool, _predict, features.feature_1, features.feature_2)
    return PredictResponse(prediction=prediction, model_version=request.app.state.model.version)
