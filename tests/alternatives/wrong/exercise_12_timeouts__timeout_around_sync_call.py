"""Exercise 12, a wrong fix: `asyncio.timeout` around a *synchronous* call can never fire (ruff: ASYNC100).

The job runs on the event-loop thread to the end; the timeout is only checked at the next `await`.
"""

import asyncio

from fastapi import FastAPI

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import PredictJob

MODEL = load_model()
SLA_S = 0.150
FALLBACK = PredictResponse(prediction=0.5, model_version="fallback")
app = FastAPI()


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest) -> PredictResponse:
    job = PredictJob(MODEL, features.feature_1, features.feature_2, budget_s=SLA_S)
    try:
        async with asyncio.timeout(SLA_S):  # noqa: ASYNC100
            prediction = job.run()
    except TimeoutError:
        return FALLBACK
    if prediction is None:
        return FALLBACK
    return PredictResponse(prediction=prediction, model_version=MODEL.version)
