"""Exercise 2, another fix: keep `run_in_executor`, but hand it an executor sized for the traffic."""

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Query, Request

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import remote_model_call

MODEL = load_model()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Made once, sized for the peak: threads that wait on the network are cheap.
    with ThreadPoolExecutor(max_workers=64, thread_name_prefix="sdk") as executor:
        app.state.sdk_executor = executor
        yield


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(
    features: PredictRequest, request: Request, delay_ms: Annotated[int, Query(ge=0, le=5_000)] = 200
) -> PredictResponse:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(request.app.state.sdk_executor, remote_model_call, delay_ms / 1000)
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
