"""Exercise 14, wrong: two thread tokens instead of 40, "fewer threads".

Fewer request threads, but each BLAS call still starts one thread per core: the intra-op threads
were the ones to cap, and they are left as they were. It can even look fast in one burst; it also
caps every other `def` route and dependency of the worker at two at a time.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request

from lab.numpy_model import load_numpy_model
from lab.schemas import Health, PredictRequest, PredictResponse

WORKERS = 2  # what the lab passes to uvicorn for this exercise: each worker runs this module's lifespan
PASSES = 8  # about 200 ms of BLAS work per prediction on one core


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    anyio.to_thread.current_default_thread_limiter().total_tokens = 2
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
