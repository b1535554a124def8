"""Exercise 16, wrong fix: readiness checks the tokens, but from a `def` route.

The check is right and the route is wrong: a `def` route borrows a token from the very pool it measures, so
under the load it waits in the queue and times out instead of answering 503. The kubelet takes the pod out
of rotation for the wrong reason, and cannot tell it from a dead one.

Fails on: readiness
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio.to_thread
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import remote_model_call

MODEL = load_model()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.limiter = anyio.to_thread.current_default_thread_limiter()  # the loop's limiter, kept for later
    yield


app = FastAPI(title="Exercise 16: def ready", lifespan=lifespan)


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.get("/ready", response_model=Health)
def ready(request: Request) -> Health | JSONResponse:
    limiter = request.app.state.limiter
    if limiter.borrowed_tokens >= limiter.total_tokens:
        return JSONResponse({"status": "saturated", "model_version": MODEL.version}, status_code=503)
    return Health(status="ready", model_version=MODEL.version)


@app.post("/predict")
def predict(features: PredictRequest, delay_ms: Annotated[int, Query(ge=0, le=5_000)] = 500) -> PredictResponse:
    remote_model_call(delay_ms / 1000)
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
