"""Exercise 12, another fix: AnyIO's `move_on_after`, abandoning the thread, then stopping the job.

Without `abandon_on_cancel=True`, `to_thread.run_sync` shields the thread and the scope returns
only when the job ends: the timeout would not even stop the waiting.
"""

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
        prediction = await anyio.to_thread.run_sync(job.run, abandon_on_cancel=True)
    if scope.cancelled_caught:
        job.cancel()
    if prediction is None:
        return FALLBACK
    return PredictResponse(prediction=prediction, model_version=MODEL.version)
