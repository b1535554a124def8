"""Exercise 13, wrong: a process pool made inside the route, "because CPU work needs processes".

Every request starts a fresh interpreter, which imports NumPy and builds its own model copy before
it predicts, and leaving the `with` block waits for that process on the event loop. Processes were
never needed here: the kernels release the GIL. Its time moves with the machine; its count does not:
8 pools made while requests were served.

Fails on: made
"""

import asyncio
import multiprocessing
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from lab.numpy_model import load_numpy_model, threadpool_limits
from lab.schemas import Health, PredictRequest, PredictResponse

PASSES = 8


def _predict(feature_1: float, feature_2: float) -> float:
    threadpool_limits(limits=1, user_api="blas")
    return load_numpy_model().predict(feature_1, feature_2, passes=PASSES)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    threadpool_limits(limits=1, user_api="blas")
    app.state.model = load_numpy_model()
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health(request: Request) -> Health:
    return Health(status="healthy", model_version=request.app.state.model.version)


@app.post("/predict")
async def predict(features: PredictRequest, request: Request) -> PredictResponse:
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        prediction = await loop.run_in_executor(pool, _predict, features.feature_1, features.feature_2)
    return PredictResponse(prediction=prediction, model_version=request.app.state.model.version)
