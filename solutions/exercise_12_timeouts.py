"""Exercise 12: timeouts that do not do what you think (solution).

The heavy model sometimes takes 300 ms; our SLA is 150 ms. So each prediction runs under a
timeout, and when it fires we answer with a fallback. The latency graph looks perfect. The CPU
graph does not: every timed-out prediction keeps running in its thread to the very end, for
nobody, while new requests pile more work on top.

Run it:    lab run exercise-12       (fire 12 requests, 4 at a time, at POST /predict; watch
           `work_finished_after_timeout` at GET /lab/stats)
Done when: `lab check exercise-12` passes: no work finishes after its timeout (the jobs are
           stopped, `work_cancelled` counts them), and the answers stay within the SLA.
"""

import asyncio

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import PredictJob

MODEL = load_model()
SLA_S = 0.150
FALLBACK = PredictResponse(prediction=0.5, model_version="fallback")  # the prior: we do not know

app = FastAPI(title="Exercise 12: timeouts that do not do what you think")


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest) -> PredictResponse:
    job = PredictJob(MODEL, features.feature_1, features.feature_2, budget_s=SLA_S)
    try:
        prediction = await asyncio.wait_for(run_in_threadpool(job.run), timeout=SLA_S)
    except TimeoutError:
        # FIX: a timeout only stops the *waiting*; a thread cannot be killed from outside. So
        # the job checks a flag between its steps, and the caller raises that flag when it gives
        # up: the thread returns within one step instead of computing for nobody.
        job.cancel()
        return FALLBACK
    if prediction is None:
        return FALLBACK
    return PredictResponse(prediction=prediction, model_version=MODEL.version)
