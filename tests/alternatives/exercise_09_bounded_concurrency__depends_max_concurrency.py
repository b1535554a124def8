"""Exercise 9, another fix: FastAPI's `Depends(..., max_concurrency=N)` bounds the dependency itself.

The limit belongs to the `Depends` object: it is made once, here, at import, and shared by
every request that uses it.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from lab.client import httpx
from lab.model import load_model
from lab.schemas import Health, PredictResponse

MODEL = load_model()
STORE_URL = os.environ["LAB_STORE_URL"]
STORE_MAX_IN_FLIGHT = 5


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with httpx.AsyncClient(base_url=STORE_URL, limits=httpx.Limits(max_connections=200)) as client:
        app.state.store = client
        yield


app = FastAPI(lifespan=lifespan)


async def store_features(entity_id: str, request: Request) -> dict[str, Any]:
    response = await request.app.state.store.get(f"/features/{entity_id}?latency_ms=100")
    features: dict[str, Any] = response.raise_for_status().json()
    return features


Features = Annotated[dict[str, Any], Depends(store_features, max_concurrency=STORE_MAX_IN_FLIGHT)]


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.get("/predict/{entity_id}")
async def predict(features: Features) -> PredictResponse:
    return PredictResponse(
        prediction=MODEL.predict(features["feature_1"], features["feature_2"]), model_version=MODEL.version
    )
