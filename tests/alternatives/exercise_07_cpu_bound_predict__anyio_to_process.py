"""Exercise 7, another fix: AnyIO's worker processes (`anyio.to_process.run_sync`).

AnyIO keeps a pool of worker processes for the event loop, as many as the cores by default, and
reuses them between calls; the function and its arguments are pickled to them.
"""

import anyio.to_process
from fastapi import FastAPI

from lab.model import iterations_for, load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import cpu_predict

MODEL = load_model()
ITERATIONS = iterations_for(250)
app = FastAPI()


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest) -> PredictResponse:
    prediction = await anyio.to_process.run_sync(cpu_predict, MODEL, features.feature_1, features.feature_2, ITERATIONS)
    return PredictResponse(prediction=prediction, model_version=MODEL.version)
