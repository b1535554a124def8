"""Exercise 15: the pod that kept restarting (solution).

Production traffic arrives at a steady rate, 160 requests a second, and each one waits 500 ms for a hosted
model through its synchronous SDK: about 80 calls in flight at any moment. Kubernetes probes the pod every
second (`livenessProbe: GET /health, timeoutSeconds: 1, failureThreshold: 3`). A few seconds into the
traffic the kubelet restarts the pod, then again, and its load lands on the pods that are left.
Nothing crashed: `/health` was slow.

Run it:    lab run exercise-15       (160 requests/s for 3 s at POST /predict, liveness probes beside them)
Done when: `lab check exercise-15` passes: no restart under the exercise's probes, and every SDK call of the
           traffic runs at once (none waits for a thread).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio.to_thread
from fastapi import FastAPI, Query

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import remote_model_call

MODEL = load_model()
THREAD_TOKENS = 200  # threads that mostly wait on the network are cheap; size for the peak you expect


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # FIX: `def` routes share AnyIO's default limiter, 40 tokens per event loop (a `def` route even takes one
    # twice: to run, then to validate its response). 80 calls in flight need more; the limiter belongs to
    # the running loop, so it is raised here, in the lifespan.
    anyio.to_thread.current_default_thread_limiter().total_tokens = THREAD_TOKENS
    yield


app = FastAPI(title="Exercise 15: the pod that kept restarting", lifespan=lifespan)


# FIX: the liveness probe's route is `async def` and touches nothing that blocks: it runs on the event loop
# and needs no thread token, so it answers while every thread is busy. A `def /health` queues for a token
# behind the traffic; after 3 probes in a row that wait more than `timeoutSeconds`, the kubelet restarts a
# pod that was working (titiler-openeo PR #303: the restarted pods' load cascaded onto the survivors).
# Raising the tokens alone only moves the cliff: the next spike takes them all again.
@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
def predict(features: PredictRequest, delay_ms: Annotated[int, Query(ge=0, le=5_000)] = 500) -> PredictResponse:
    # `def` is right for a blocking call: it holds one worker thread (one token) while it waits.
    remote_model_call(delay_ms / 1000)
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
