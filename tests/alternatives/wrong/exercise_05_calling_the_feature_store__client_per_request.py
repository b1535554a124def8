"""Exercise 5, a wrong fix: an AsyncClient per request (a new pool and new connections every time)."""

import os

from fastapi import FastAPI

from lab.client import httpx
from lab.model import load_model
from lab.schemas import Health, PredictResponse

MODEL = load_model()
STORE_URL = os.environ["LAB_STORE_URL"]
app = FastAPI()


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.get("/predict/{entity_id}")
async def predict(entity_id: str) -> PredictResponse:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{STORE_URL}/features/{entity_id}")
    features = response.raise_for_status().json()
    return PredictResponse(
        prediction=MODEL.predict(features["feature_1"], features["feature_2"]), model_version=MODEL.version
    )
