"""Exercise 1, another fix: keep `async def` and await a sleep that yields the event loop."""

import asyncio
from typing import Annotated

from fastapi import FastAPI, Query

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse

MODEL = load_model()
app = FastAPI()


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest, delay_ms: Annotated[int, Query(ge=0, le=5_000)] = 200) -> PredictResponse:
    await asyncio.sleep(delay_ms / 1000)  # an async SDK would be awaited the same way
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
