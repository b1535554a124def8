"""Exercise 14, wrong: `with threadpool_limits(...)` around the model's load, in the lifespan.

The cap holds while the model loads; the block's end gives OpenBLAS its default back, so every call
after it runs one BLAS thread per core, as if nothing had been capped.

Fails on: intra_op
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from threadpoolctl import threadpool_limits

from lab.numpy_model import load_numpy_model
from lab.schemas import Health, PredictRequest, PredictResponse

WORKERS = 2  # what the lab passes to uvicorn for this exercise: each worker runs this module's lifespan
PASSES = 8  # about 200 ms of BLAS work per prediction on one core


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # WRONG: capped at start-up, but only for the block: `with` gives the setting back when it ends.
    with threadpool_limits(limits=1, user_api="blas"):
        app.state.model = load_numpy_model()
    yield


app = FastAPI(title="Exercise 14: threads times threads", lifespan=lifespan)


@app.get("/health")
async def health(request: Request) -> Health:
    return Health(status="healthy", model_version=request.app.state.model.version)


@app.post("/predict")
def predict(features: PredictRequest, request: Request) -> PredictResponse:
    model = request.app.state.model
    prediction = model.predict(features.feature_1, features.feature_2, passes=PASSES)
    return PredictResponse(prediction=prediction, model_version=model.version)
