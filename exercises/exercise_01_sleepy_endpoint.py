"""Exercise 1: the sleepy endpoint.

Our model is hosted elsewhere and its vendor SDK is synchronous: a prediction blocks for about
200 ms while the SDK waits for the answer (`time.sleep` stands in for that call here).
Under load the service falls over: 20 requests at once take 20 times as long as one, and even
`/health` stops answering, so the orchestrator restarts a perfectly healthy pod.

Run it:    lab run exercise-1        (then fire a burst at POST /predict and watch /health)
Done when: `lab check exercise-1` passes: 20 requests at once take about as long as one,
           the event loop is never late, and `/health` answers mid-burst in milliseconds.
"""

import time
from typing import Annotated

from fastapi import FastAPI, Query

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse

# Loaded once, at import, before the server accepts a request (exercise 6 is about doing this well).
MODEL = load_model()

app = FastAPI(title="Exercise 1: the sleepy endpoint")


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest, delay_ms: Annotated[int, Query(ge=0, le=5_000)] = 200) -> PredictResponse:
    # TODO: this handler is `async def`, so FastAPI runs it on the event-loop thread. Make the
    # 200 ms wait stop holding up every other request (there is more than one right answer).
    time.sleep(delay_ms / 1000)  # BROKEN: a blocking call inside `async def` freezes the event loop  # noqa: ASYNC251
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
