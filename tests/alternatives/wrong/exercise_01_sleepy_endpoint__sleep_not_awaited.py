"""Exercise 1, a wrong fix: `asyncio.sleep(...)` without `await` makes a coroutine and drops it: no wait at all.

The most common async bug there is: the handler returns at once, so the burst looks faster than the fix.
Fails on: unawaited, work_time
"""

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
    asyncio.sleep(delay_ms / 1000)  # the wrong fix: no `await`, so nothing waits
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
