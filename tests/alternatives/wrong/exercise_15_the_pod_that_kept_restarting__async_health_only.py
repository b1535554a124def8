"""Exercise 15, wrong fix: `/health` made `async def`, the 40 tokens left as they are.

The kubelet is satisfied (no restart), but the traffic is not served: 80 calls want a thread, 40 get one,
and the rest queue for seconds. The pod is alive and useless.

Fails on: gauge
"""

from typing import Annotated

from fastapi import FastAPI, Query

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import remote_model_call

MODEL = load_model()

app = FastAPI(title="Exercise 15: async health only")


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
def predict(features: PredictRequest, delay_ms: Annotated[int, Query(ge=0, le=5_000)] = 500) -> PredictResponse:
    remote_model_call(delay_ms / 1000)
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
