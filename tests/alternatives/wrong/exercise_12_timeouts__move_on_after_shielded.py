"""Exercise 12, a wrong fix: `move_on_after` around a shielded thread call waits for the whole job."""

import anyio
import anyio.to_thread
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
    prediction = None
    with anyio.move_on_after(SLA_S) as scope:
        prediction = await anyio.to_thread.run_sync(job.run)  # returns only when the job ends
    if scope.cancelled_caught or prediction is None:
        job.cancel()
        return FALLBACK
    return PredictResponse(prediction=prediction, model_version=MODEL.version)
