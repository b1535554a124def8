"""Exercise 15, another correct fix: the SDK calls get a limiter of their own, made in the lifespan.

`/predict` is `async def` and hands the blocking call to AnyIO's threads with its own `CapacityLimiter(200)`,
so the traffic never touches the default 40 tokens, and `/health` is `async def`: it needs no thread at all.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import FastAPI, Query, Request

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import remote_model_call

MODEL = load_model()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.sdk_limiter = anyio.CapacityLimiter(200)  # made inside the running loop, once
    yield


app = FastAPI(title="Exercise 15: own limiter", lifespan=lifespan)


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(
    features: PredictRequest, request: Request, delay_ms: Annotated[int, Query(ge=0, le=5_000)] = 500
) -> PredictResponse:
    await anyio.to_thread.run_sync(remote_model_call, delay_ms / 1000, limiter=request.app.state.sdk_limiter)
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
