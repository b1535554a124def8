"""Exercise 10: micro-batching.

The model now runs on an accelerator: one call costs 100 ms plus 1 ms per row, so a batch of 32
rows costs barely more than a single row. It is not thread-safe (two calls at once raise), so
each request takes a lock and makes its own one-row call: 30 requests queue for 3 seconds and
the accelerator does 30 calls where 2 would do.

Run it:    lab run exercise-10       (fire 30 requests at POST /predict; watch `model_calls` and
           `batch_items` at GET /lab/stats)
Done when: `lab check exercise-10` passes: a burst of 30 requests costs a few model calls, not 30,
           takes about as long as the solution, and every prediction is still right.
"""

import threading

from fastapi import FastAPI

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import BatchModel

MODEL = BatchModel(load_model())
MODEL_LOCK = threading.Lock()  # the model is not thread-safe: one call at a time

# TODO: collect the rows of requests that arrive close together (say within 5 ms, at most 32) and
# send them to the model as one batch, one batch at a time. Start whatever does that once, when
# the app starts, and let each request await its own prediction.
app = FastAPI(title="Exercise 10: micro-batching")


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
def predict(features: PredictRequest) -> PredictResponse:
    with MODEL_LOCK:  # BROKEN: one 101 ms model call per request, all queued behind one lock
        [prediction] = MODEL.predict_batch([(features.feature_1, features.feature_2)])
    return PredictResponse(prediction=prediction, model_version=MODEL.version)
