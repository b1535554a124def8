"""Exercise 16: ready or not.

Traffic at 120 requests a second, each waiting 500 ms for a hosted model through its synchronous SDK, keeps
about 60 calls in flight: more than AnyIO's 40 thread tokens, so requests queue inside the pod. Kubernetes
probes two things: liveness (`GET /health`: is the process alive? failing restarts it) and readiness
(`GET /ready`: should the Service send it traffic? failing takes it out of the endpoints, no restart). This
pod answers both the same way, and both wait in the queue: the kubelet restarts a busy pod instead of letting
it catch its breath.

Run it:    lab run exercise-16       (120 requests/s for 3 s at POST /predict, liveness and readiness probes)
Done when: `lab check exercise-16` passes: liveness never fails and nothing restarts; readiness answers 503
           while every thread token is taken (the pod leaves the Service's endpoints) and 200 again once the
           load is gone (it comes back).
"""

from typing import Annotated

from fastapi import FastAPI, Query

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import remote_model_call

MODEL = load_model()

app = FastAPI(title="Exercise 16: ready or not")


@app.get("/health")
def health() -> Health:  # BROKEN: liveness waits for a thread token behind the traffic
    # TODO: liveness asks one thing, "is this process alive?". Answer it without waiting for anything.
    return Health(status="healthy", model_version=MODEL.version)


@app.get("/ready")
def ready() -> Health:  # BROKEN: always "ready", and only once it gets a thread token
    # TODO: readiness asks "can this pod take more traffic now?". While every thread token is borrowed the
    # answer is no: say so with a 503, at once, and say yes again when the load is gone.
    return Health(status="ready", model_version=MODEL.version)


@app.post("/predict")
def predict(features: PredictRequest, delay_ms: Annotated[int, Query(ge=0, le=5_000)] = 500) -> PredictResponse:
    # `def` is right for a blocking call: it holds one worker thread (one token) while it waits.
    remote_model_call(delay_ms / 1000)
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
