"""Exercise 16, wrong fix: both probes `async def`, but readiness always answers 200.

Nothing restarts any more, but the Service keeps sending traffic to a pod whose every thread is taken:
readiness that cannot say "not now" is liveness under another name.

Fails on: readiness
"""

from typing import Annotated

from fastapi import FastAPI, Query

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import remote_model_call

MODEL = load_model()

app = FastAPI(title="Exercise 16: always ready")


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.get("/ready")
async def ready() -> Health:
    return Health(status="ready", model_version=MODEL.version)


@app.post("/predict")
def predict(features: PredictRequest, delay_ms: Annotated[int, Query(ge=0, le=5_000)] = 500) -> PredictResponse:
    remote_model_call(delay_ms / 1000)
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
