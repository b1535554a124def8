"""Exercise 5: calling the feature store.

Before predicting, the service fetches the entity's features from a feature store over HTTP
(about 200 ms a call; the lab starts a fake one and puts its URL in `LAB_STORE_URL`).
Under load, 20 requests take 20 times as long as one, and the store's dashboard shows it never
serves this service more than one request at a time.

Run it:    lab run exercise-5        (the lab starts the fake store; GET /predict/customer-42)
Done when: `lab check exercise-5` passes: the store sees the 20 calls at the same time and the
           event loop is never late.
"""

import os

from fastapi import FastAPI

from lab.client import httpx
from lab.model import load_model
from lab.schemas import Health, PredictResponse

MODEL = load_model()
STORE_URL = os.environ["LAB_STORE_URL"]

app = FastAPI(title="Exercise 5: calling the feature store")


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.get("/predict/{entity_id}")
async def predict(entity_id: str) -> PredictResponse:
    # TODO: fetch the features without blocking the event loop. Think about how many clients
    # (connection pools) you want: one per request, or one for the whole service?
    with httpx.Client() as client:  # BROKEN: a synchronous HTTP client inside `async def`
        response = client.get(f"{STORE_URL}/features/{entity_id}")
    features = response.raise_for_status().json()
    return PredictResponse(
        prediction=MODEL.predict(features["feature_1"], features["feature_2"]), model_version=MODEL.version
    )
