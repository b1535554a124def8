"""Exercise 3: the 41st request.

The SDK call is synchronous and there is no async version, so `/predict` is a plain `def`:
FastAPI runs it in a worker thread. That works, until traffic grows: 100 requests at once take
three times as long as one, and the load balancer's health check times out in the middle of it.

Run it:    lab run exercise-3        (fire 100 requests at POST /predict, then GET /health)
Done when: `lab check exercise-3` passes: all 100 SDK calls overlap, and `/health` answers
           mid-burst in milliseconds.
"""

from typing import Annotated

from fastapi import FastAPI, Query

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import remote_model_call

MODEL = load_model()

# TODO: FastAPI runs `def` routes through AnyIO's thread limiter: how many tokens does it have,
# and where (in which part of the app's life) can you change that?
app = FastAPI(title="Exercise 3: the 41st request")


@app.get("/health")
def health() -> Health:  # BROKEN: a `def` health check waits for a thread token like everyone else
    # TODO: a health check should answer even when every thread is busy.
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
def predict(features: PredictRequest, delay_ms: Annotated[int, Query(ge=0, le=5_000)] = 500) -> PredictResponse:
    # `def` is right for a blocking call: it holds one worker thread (one token) while it waits.
    remote_model_call(delay_ms / 1000)
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
