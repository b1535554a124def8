"""Exercise 1, another fix: keep `async def` and send the blocking call to FastAPI's thread pool."""

import time
from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.concurrency import run_in_threadpool

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse

MODEL = load_model()
app = FastAPI()


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest, delay_ms: Annotated[int, Query(ge=0, le=5_000)] = 200) -> PredictResponse:
    await run_in_threadpool(time.sleep, delay_ms / 1000)  # the function and its argument, not a call
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
