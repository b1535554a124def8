"""Exercise 5, wrong: a `def` route that makes a new synchronous client for every request.

The loop stays free (the route runs in a worker thread) and the store sees the calls at once, so the
burst's time lands near the solution's, moving with the machine: beside two busy processes it measured
2.9x the solution's against a bound of 3.0. What does not move is the count: every request opens a new
client, with a new pool and new connections, where the lesson says one client, opened in the lifespan
and shared by every request.

Fails on: made
"""

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
def predict(entity_id: str) -> PredictResponse:
    with httpx.Client(base_url=STORE_URL) as client:
        features = client.get(f"/features/{entity_id}").raise_for_status().json()
    return PredictResponse(
        prediction=MODEL.predict(features["feature_1"], features["feature_2"]), model_version=MODEL.version
    )
