"""Exercise 14, wrong: `OPENBLAS_NUM_THREADS=1` set in the lifespan.

OpenBLAS reads the variable once, when its library is loaded (here, when NumPy is imported at the
top of the module): set afterwards, it changes nothing, and each call still starts 2 threads.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from lab.numpy_model import load_numpy_model
from lab.schemas import Health, PredictRequest, PredictResponse

WORKERS = 2  # what the lab passes to uvicorn for this exercise: each worker runs this module's lifespan
PASSES = 8  # about 200 ms of BLAS work per prediction on one core


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
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
