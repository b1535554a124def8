"""`/predict` with simulated model latency: the sleep scenario as an inference service would write it."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request

from lab.schemas import PredictRequest, PredictResponse
from lab.server.scenarios.params import DelayMs

router = APIRouter(prefix="/predict", tags=["predict"])


@router.post("/sync")
def predict_sync(features: PredictRequest, request: Request, delay_ms: DelayMs = 100) -> PredictResponse:
    # `def`: the simulated remote-model call blocks a worker thread, not the event loop.
    time.sleep(delay_ms / 1000)
    model = request.app.state.model
    return PredictResponse(
        prediction=model.predict(features.feature_1, features.feature_2), model_version=model.version
    )


@router.post("/async")
async def predict_async(features: PredictRequest, request: Request, delay_ms: DelayMs = 100) -> PredictResponse:
    # `async def` + `await`: other requests run while this one waits for the model.
    await asyncio.sleep(delay_ms / 1000)
    model = request.app.state.model
    return PredictResponse(
        prediction=model.predict(features.feature_1, features.feature_2), model_version=model.version
    )


@router.post("/broken")
async def predict_broken(features: PredictRequest, request: Request, delay_ms: DelayMs = 100) -> PredictResponse:
    # THE MISTAKE: a blocking call (here a sleep standing in for a synchronous SDK) inside `async def`.
    time.sleep(delay_ms / 1000)  # noqa: ASYNC251
    model = request.app.state.model
    return PredictResponse(
        prediction=model.predict(features.feature_1, features.feature_2), model_version=model.version
    )
