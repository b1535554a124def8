"""Exercise 3, a wrong fix: the thread limiter changed at import time, where there is no event loop yet.

AnyIO's default limiter belongs to the running event loop: asking for it at import raises, and the
server never starts. The error must point at this line, not inside AnyIO.
Fails on: load
"""

from typing import Annotated

import anyio.to_thread
from fastapi import FastAPI, Query

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import remote_model_call

MODEL = load_model()
anyio.to_thread.current_default_thread_limiter().total_tokens = 200  # LIMITER AT IMPORT
app = FastAPI()


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
def predict(features: PredictRequest, delay_ms: Annotated[int, Query(ge=0, le=5_000)] = 500) -> PredictResponse:
    remote_model_call(delay_ms / 1000)
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
