"""Exercise 15, wrong fix: `/health` made `async def`, but it reads the model through a `def` dependency.

FastAPI runs a `def` dependency in a worker thread, with one of AnyIO's tokens, whatever the route is: the
health check still queues behind the traffic, and the kubelet still restarts the pod.

Fails on: restarts
"""

from typing import Annotated

from fastapi import Depends, FastAPI, Query

from lab.model import Model, load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import remote_model_call

MODEL = load_model()

app = FastAPI(title="Exercise 15: health with a def dependency")


def get_model() -> Model:  # a `def` dependency: a thread token for each call
    return MODEL


@app.get("/health")
async def health(model: Annotated[Model, Depends(get_model)]) -> Health:
    return Health(status="healthy", model_version=model.version)


@app.post("/predict")
def predict(features: PredictRequest, delay_ms: Annotated[int, Query(ge=0, le=5_000)] = 500) -> PredictResponse:
    remote_model_call(delay_ms / 1000)
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
