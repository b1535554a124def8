"""Exercise 14, wrong: `threadpool_limits` around the model call, in every request.

OpenBLAS keeps one threads setting for the whole process. Each request sets it to 1 on entering the
`with` block and, on leaving, restores what it found: often the default, while other requests' calls
are still running with it. Read once after the burst, the setting is whatever the last exit left, so
the verdict depended on how the calls happened to interleave (it passed on a busy machine). Read at
every model call's start and end, the setting is seen to change while calls run.

Fails on: intra_op_race
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from threadpoolctl import threadpool_limits

from lab.numpy_model import load_numpy_model
from lab.schemas import Health, PredictRequest, PredictResponse

PASSES = 8


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.model = load_numpy_model()
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health(request: Request) -> Health:
    return Health(status="healthy", model_version=request.app.state.model.version)


@app.post("/predict")
def predict(features: PredictRequest, request: Request) -> PredictResponse:
    model = request.app.state.model
    with threadpool_limits(limits=1, user_api="blas"):
        prediction = model.predict(features.feature_1, features.feature_2, passes=PASSES)
    return PredictResponse(prediction=prediction, model_version=model.version)
