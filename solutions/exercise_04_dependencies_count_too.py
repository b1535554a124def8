"""Exercise 4: dependencies count too (solution).

Every prediction is priced by the customer's tier, which a dependency looks up in a key-value
store through a synchronous client. The route itself is perfectly async... yet 20 requests at
once take 20 times as long as one, and `/health` freezes with them.

Run it:    lab run exercise-4        (fire 20 requests at POST /predict?customer_id=c-42)
Done when: `lab check exercise-4` passes: the lookups overlap, the event loop is never late,
           and `/health` answers mid-burst in milliseconds.
"""

from typing import Annotated

from fastapi import Depends, FastAPI

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import lookup_customer_tier

MODEL = load_model()

app = FastAPI(title="Exercise 4: dependencies count too")


class TieredPrediction(PredictResponse):
    tier: str


# FIX: a plain `def` dependency runs in a worker thread, exactly like a `def` route, so its
# blocking lookup no longer holds the event loop. The reverse holds too: a trivial dependency
# that never blocks (reading settings) is better as `async def`, because a `def` one borrows a
# thread token and waits for one when the pool is full.
def customer_tier(customer_id: str) -> str:
    return lookup_customer_tier(customer_id)


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest, tier: Annotated[str, Depends(customer_tier)]) -> TieredPrediction:
    return TieredPrediction(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version, tier=tier
    )
