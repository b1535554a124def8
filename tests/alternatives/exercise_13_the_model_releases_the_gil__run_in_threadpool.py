"""Exercise 13, another fix: keep `async def` and await the model in FastAPI's thread pool."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool

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
    prediction = await run_in_threadpool(model.predict, features.feature_1, features.feature_2, passes=PASSES)
    return PredictResponse(prediction=prediction, model_version=model.version)
