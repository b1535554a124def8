"""Exercise 9, another fix: the shared client's pool allows only 5 connections.

A request beyond the fifth waits for a free connection inside the client (with no pool timeout,
so it waits rather than fails). It bounds this client only: another client, or another worker,
would have its own 5.
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
STORE_MAX_IN_FLIGHT = 5


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    limits = httpx.Limits(max_connections=STORE_MAX_IN_FLIGHT, max_keepalive_connections=STORE_MAX_IN_FLIGHT)
    timeout = httpx.Timeout(10.0, pool=None)  # waiting for a connection is the point: no pool timeout
    async with httpx.AsyncClient(base_url=STORE_URL, limits=limits, timeout=timeout) as client:
        app.state.store = client
        yield


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.get("/predict/{entity_id}")
async def predict(entity_id: str, request: Request) -> PredictResponse:
    response = await request.app.state.store.get(f"/features/{entity_id}?latency_ms=100")
    features = response.raise_for_status().json()
    return PredictResponse(
        prediction=MODEL.predict(features["feature_1"], features["feature_2"]), model_version=MODEL.version
    )
