"""Exercise 16, another correct fix: readiness from a queue's bound, not from the limiter.

Every `/predict` request is counted while it is inside the app (waiting for a thread token included), by an
`async def` dependency that needs no thread itself; `/ready` answers 503 while more requests are inside than
the pod can run at once (its 40 tokens), and 200 once the queue has drained. Liveness stays `async def`.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI, Query
from fastapi.responses import JSONResponse

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import remote_model_call

MODEL = load_model()
QUEUE_BOUND = 40  # more requests inside than this, and the next one would wait for a thread
IN_FLIGHT = 0  # changed only on the event loop (an `async def` dependency): no lock needed

app = FastAPI(title="Exercise 16: queue bound")


async def counted() -> AsyncIterator[None]:
    global IN_FLIGHT
    IN_FLIGHT += 1
    try:
        yield
    finally:
        IN_FLIGHT -= 1


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.get("/ready", response_model=Health)
async def ready() -> Health | JSONResponse:
    if IN_FLIGHT > QUEUE_BOUND:
        body = {"status": f"busy: {IN_FLIGHT} requests inside, bound {QUEUE_BOUND}", "model_version": MODEL.version}
        return JSONResponse(body, status_code=503)
    return Health(status="ready", model_version=MODEL.version)


@app.post("/predict", dependencies=[Depends(counted)])
def predict(features: PredictRequest, delay_ms: Annotated[int, Query(ge=0, le=5_000)] = 500) -> PredictResponse:
    remote_model_call(delay_ms / 1000)
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
