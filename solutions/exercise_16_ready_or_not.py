"""Exercise 16: ready or not (solution).

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

import anyio.to_thread
from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import remote_model_call

MODEL = load_model()

app = FastAPI(title="Exercise 16: ready or not")


# FIX: liveness is `async def` and checks nothing but that the event loop runs: it needs no thread token, so
# the queue cannot make it late. Were it `def`, it would borrow a token from the very pool it is meant to
# see past, and the kubelet would restart a pod that is only busy (onyx PR #14052 keeps it apart on purpose).
@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


# FIX: readiness says whether the pod can take more traffic: not while every token of AnyIO's limiter is
# borrowed (the next request would queue). It answers at once, on the loop, 503 while saturated: the kubelet
# takes the pod out of the Service's endpoints, the other pods take the traffic, and when the queue has
# drained the same route answers 200 and the pod comes back. No restart, no lost work.
@app.get("/ready", response_model=Health)
async def ready() -> Health | JSONResponse:
    limiter = anyio.to_thread.current_default_thread_limiter()
    if limiter.borrowed_tokens >= limiter.total_tokens:
        detail = f"saturated: {limiter.borrowed_tokens} of {limiter.total_tokens} thread tokens borrowed"
        return JSONResponse({"status": detail, "model_version": MODEL.version}, status_code=503)
    return Health(status="ready", model_version=MODEL.version)


@app.post("/predict")
def predict(features: PredictRequest, delay_ms: Annotated[int, Query(ge=0, le=5_000)] = 500) -> PredictResponse:
    # `def` is right for a blocking call: it holds one worker thread (one token) while it waits.
    remote_model_call(delay_ms / 1000)
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
