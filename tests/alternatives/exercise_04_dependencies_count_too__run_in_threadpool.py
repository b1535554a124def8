"""Exercise 4, another fix: keep the dependency `async def`, and await the lookup in a thread."""

from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import lookup_customer_tier

MODEL = load_model()
app = FastAPI()


class TieredPrediction(PredictResponse):
    tier: str


async def customer_tier(customer_id: str) -> str:
    return await run_in_threadpool(lookup_customer_tier, customer_id)


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest, tier: Annotated[str, Depends(customer_tier)]) -> TieredPrediction:
    return TieredPrediction(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version, tier=tier
    )
