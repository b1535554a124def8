"""Exercise 1, a wrong fix: the SDK call handed to a thread nobody waits for. The answer leaves before the call.

Fails on: work_time
"""

import threading
import time
from typing import Annotated

from fastapi import FastAPI, Query

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse

MODEL = load_model()
app = FastAPI()


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest, delay_ms: Annotated[int, Query(ge=0, le=5_000)] = 200) -> PredictResponse:
    threading.Thread(target=time.sleep, args=(delay_ms / 1000,), daemon=True).start()  # nobody joins it
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
