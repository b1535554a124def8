"""Exercise 3, another fix: `async def` routes that borrow threads from a limiter of their own.

The SDK calls get their own 200-token limiter, so they neither wait behind nor starve the 40
tokens the rest of FastAPI (sync dependencies, file responses...) relies on.
"""

from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import FastAPI, Query

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import remote_model_call

MODEL = load_model()
SDK_THREADS = anyio.CapacityLimiter(200)  # made once, shared by every request
app = FastAPI()


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest, delay_ms: Annotated[int, Query(ge=0, le=5_000)] = 500) -> PredictResponse:
    await anyio.to_thread.run_sync(remote_model_call, delay_ms / 1000, limiter=SDK_THREADS)
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
