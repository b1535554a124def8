"""Exercise 6, another fix (correct, if not the best): a lazy load behind a lock.

Exactly one thread loads; the others wait for it. The first requests still pay for the load and
/health cannot tell "not loaded yet" from "ready": the lifespan is the better answer.
"""

import threading
from typing import Annotated

from fastapi import Depends, FastAPI

from lab.model import Model, load_model
from lab.schemas import Health, PredictRequest, PredictResponse

LOAD_S = 0.3
MODEL: Model | None = None
MODEL_LOCK = threading.Lock()
app = FastAPI()


def get_model() -> Model:
    global MODEL
    if MODEL is None:
        with MODEL_LOCK:
            if MODEL is None:  # checked again: another thread may have loaded it while we waited
                MODEL = load_model(load_s=LOAD_S)
    return MODEL


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version if MODEL else "none")


@app.post("/predict")
def predict(features: PredictRequest, model: Annotated[Model, Depends(get_model)]) -> PredictResponse:
    return PredictResponse(
        prediction=model.predict(features.feature_1, features.feature_2), model_version=model.version
    )
