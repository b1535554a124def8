"""Exercise 9, a wrong fix: a semaphore made inside the route is a new one per request: no limit."""

import asyncio
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
    async with httpx.AsyncClient(base_url=STORE_URL, limits=httpx.Limits(max_connections=200)) as client:
        app.state.store = client
        yield


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.get("/predict/{entity_id}")
async def predict(entity_id: str, request: Request) -> PredictResponse:
    async with asyncio.Semaphore(5):
        response = await request.app.state.store.get(f"/features/{entity_id}?latency_ms=100")
    features = response.raise_for_status().json()
    return PredictResponse(
        prediction=MODEL.predict(features["feature_1"], features["feature_2"]), model_version=MODEL.version
    )
