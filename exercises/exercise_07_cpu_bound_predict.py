"""Exercise 7: CPU-bound predict and the GIL.

This model runs in pure Python: each prediction computes for about 250 ms and never waits on
anything (`cpu_predict` burns the CPU, then predicts). In `async def` it freezes the event loop.
Moving it to `def` keeps `/health` alive but does not make 8 requests any faster, and the health
check still crawls: only one thread at a time can hold Python's GIL.

Run it:    lab run exercise-7        (fire 8 requests at POST /predict, then GET /health)
Done when: `lab check exercise-7` passes: the event loop stays on time during the burst and
           `/health` answers mid-burst quickly, while predictions stay correct.
"""

from fastapi import FastAPI

from lab.model import iterations_for, load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import cpu_predict

MODEL = load_model()
ITERATIONS = iterations_for(250)  # about 250 ms of pure-Python work on this machine

# TODO: work that holds the GIL needs another *process* (its own interpreter, its own GIL).
# Create the processes once, sized to this machine's cores, when the app starts.
app = FastAPI(title="Exercise 7: CPU-bound predict and the GIL")


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest) -> PredictResponse:
    # TODO: run `cpu_predict` somewhere else and await its result.
    # BROKEN: pure-Python CPU work on the event-loop thread
    prediction = cpu_predict(MODEL, features.feature_1, features.feature_2, ITERATIONS)
    return PredictResponse(prediction=prediction, model_version=MODEL.version)
