"""Exercise 5, another fix: a `def` route with a synchronous client, shared and made in the lifespan.

Each call blocks a worker thread instead of the event loop; the client's pool is reused. It holds
a thread token per call in flight, so it scales to the thread pool's size, not beyond.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from lab.client import httpx
from lab.model import load_model
from lab.schemas import Health, PredictResponse

MODEL = load_model()
STORE_URL = os.environ["LAB_STORE_URL"]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    with httpx.Client(base_url=STORE_URL, limits=limits) as client:  # httpx.Client is thread-safe
        app.state.store = client
        yield


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.get("/predict/{entity_id}")
def predict(entity_id: str, request: Request) -> PredictResponse:
    features = request.app.state.store.get(f"/features/{entity_id}").raise_for_status().json()
    return PredictResponse(
        prediction=MODEL.predict(features["feature_1"], features["feature_2"]), model_version=MODEL.version
    )
