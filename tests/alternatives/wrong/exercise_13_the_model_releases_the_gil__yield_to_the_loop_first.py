"""Exercise 13, wrong: `await asyncio.sleep(0)` before the call, "to give the loop a turn".

The loop gets its turn before the prediction, then the kernels hold it for the whole 200 ms as
before: an `await` only helps where the waiting happens.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from lab.numpy_model import load_numpy_model, threadpool_limits
from lab.schemas import Health, PredictRequest, PredictResponse

PASSES = 8


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
    model = request.app.state.model
    await asyncio.sleep(0)
    prediction = model.predict(features.feature_1, features.feature_2, passes=PASSES)
    return PredictResponse(prediction=prediction, model_version=model.version)
