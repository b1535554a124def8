"""Exercise 9: bounded concurrency to a fragile downstream.

The feature store's owners have asked us, politely and then less politely: at most 5 requests
in flight from this service at any time, or their database falls over. Our service is fully
async now (exercise 5), so a burst of 40 predictions sends 40 feature lookups at once.

Run it:    lab run exercise-9        (the lab starts the fake store; GET /predict/customer-42;
           `store_in_flight` at GET /lab/stats shows the store's peak)
Done when: `lab check exercise-9` passes: the store never sees more than 5 of our requests at
           once, and every prediction still comes back right.
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
STORE_MAX_IN_FLIGHT = 5  # the store's owners' limit, for this whole service


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with httpx.AsyncClient(base_url=STORE_URL, limits=httpx.Limits(max_connections=200)) as client:
        app.state.store = client
        yield


app = FastAPI(title="Exercise 9: bounded concurrency", lifespan=lifespan)


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.get("/predict/{entity_id}")
async def predict(entity_id: str, request: Request) -> PredictResponse:
    store: httpx.AsyncClient = request.app.state.store
    # TODO: let at most STORE_MAX_IN_FLIGHT of these calls run at once, across all requests.
    # Whatever does the limiting must be shared by every request, not made inside this function.
    response = await store.get(f"/features/{entity_id}?latency_ms=100")  # BROKEN: nothing bounds the calls
    features = response.raise_for_status().json()
    return PredictResponse(
        prediction=MODEL.predict(features["feature_1"], features["feature_2"]), model_version=MODEL.version
    )
