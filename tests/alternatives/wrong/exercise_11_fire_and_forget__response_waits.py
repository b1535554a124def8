"""Exercise 11, a wrong fix: the write moved off the loop, but awaited before answering.

The event loop stays free and the writes overlap, yet every response now waits 200 ms for work
the client does not need: "after the response" became "before the response".
Fails on: median
"""

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import write_audit_record

MODEL = load_model()
app = FastAPI()


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest) -> PredictResponse:
    prediction = MODEL.predict(features.feature_1, features.feature_2)
    await run_in_threadpool(write_audit_record, {**features.model_dump(), "prediction": prediction})
    return PredictResponse(prediction=prediction, model_version=MODEL.version)
