"""Exercise 12, another fix: `asyncio.timeout`, and the job told to stop whatever ends the wait.

`finally` also covers the client going away (the request task cancelled): the job stops then too.
Cancelling a job that already finished does nothing.
"""

import asyncio

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

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
        async with asyncio.timeout(SLA_S):
            prediction = await run_in_threadpool(job.run)
    except TimeoutError:
        return FALLBACK
    finally:
        job.cancel()
    if prediction is None:
        return FALLBACK
    return PredictResponse(prediction=prediction, model_version=MODEL.version)
