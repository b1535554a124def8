"""Exercise 5: calling the feature store (solution).

Before predicting, the service fetches the entity's features from a feature store over HTTP
(about 200 ms a call; the lab starts a fake one and puts its URL in `LAB_STORE_URL`).
Under load, 20 requests take 20 times as long as one, and the store's dashboard shows it never
serves this service more than one request at a time.

Run it:    lab run exercise-5        (the lab starts the fake store; GET /predict/customer-42)
Done when: `lab check exercise-5` passes: the store sees the 20 calls at the same time and the
           event loop is never late.
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
    # FIX: one AsyncClient for the whole service, opened at start-up and closed at shutdown.
    # Its connection pool is reused by every request; a client per request would pay for a new
    # pool (and new connections) every time.
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=STORE_URL, limits=limits) as client:
        app.state.store = client
        yield


app = FastAPI(title="Exercise 5: calling the feature store", lifespan=lifespan)


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.get("/predict/{entity_id}")
async def predict(entity_id: str, request: Request) -> PredictResponse:
    store: httpx.AsyncClient = request.app.state.store
    # FIX: `await` hands the event loop back while the store answers: 20 calls wait together.
    response = await store.get(f"/features/{entity_id}")
    features = response.raise_for_status().json()
    return PredictResponse(
        prediction=MODEL.predict(features["feature_1"], features["feature_2"]), model_version=MODEL.version
    )
