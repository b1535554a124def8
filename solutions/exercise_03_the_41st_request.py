"""Exercise 3: the 41st request (solution).

The SDK call is synchronous and there is no async version, so `/predict` is a plain `def`:
FastAPI runs it in a worker thread. That works, until traffic grows: 100 requests at once take
three times as long as one, and the load balancer's health check times out in the middle of it.

Run it:    lab run exercise-3        (fire 100 requests at POST /predict, then GET /health)
Done when: `lab check exercise-3` passes: all 100 SDK calls overlap, and `/health` answers
           mid-burst in milliseconds.
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
    # FIX: `def` routes share AnyIO's default limiter: 40 tokens, so the 41st request waits for a
    # thread. The limiter belongs to the running event loop, so it is raised here, in the lifespan.
    anyio.to_thread.current_default_thread_limiter().total_tokens = THREAD_TOKENS
    yield


app = FastAPI(title="Exercise 3: the 41st request", lifespan=lifespan)


# FIX: `async def` and free of sync dependencies: the health check needs no thread token, so it
# answers even while every thread is busy.
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
