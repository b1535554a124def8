"""Exercise 15: the pod that kept restarting.

Production traffic arrives at a steady rate, 160 requests a second, and each one waits 500 ms for a hosted
model through its synchronous SDK: about 80 calls in flight at any moment. Kubernetes probes the pod every
second (`livenessProbe: GET /health, timeoutSeconds: 1, failureThreshold: 3`). A few seconds into the
traffic the kubelet restarts the pod, then again, and its load lands on the pods that are left.
Nothing crashed: `/health` was slow.

Run it:    lab run exercise-15       (160 requests/s for 3 s at POST /predict, liveness probes beside them)
Done when: `lab check exercise-15` passes: no restart under the exercise's probes, and every SDK call of the
           traffic runs at once (none waits for a thread).
"""

from typing import Annotated

from fastapi import FastAPI, Query

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import remote_model_call

MODEL = load_model()

# TODO: the traffic keeps about 80 SDK calls in flight. How many threads may FastAPI's `def` routes use at
# once, and where (in which part of the app's life) can that number be changed?
app = FastAPI(title="Exercise 15: the pod that kept restarting")


@app.get("/health")
def health() -> Health:  # BROKEN: the liveness probe's route waits for a thread token behind the traffic
    # TODO: the kubelet gives this route 1 s to answer. What does it wait for while 80 requests want a thread?
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
def predict(features: PredictRequest, delay_ms: Annotated[int, Query(ge=0, le=5_000)] = 500) -> PredictResponse:
    # `def` is right for a blocking call: it holds one worker thread (one token) while it waits.
    remote_model_call(delay_ms / 1000)
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
