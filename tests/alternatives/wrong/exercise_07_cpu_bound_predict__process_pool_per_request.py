"""Exercise 7, wrong: a new process pool for every request, "because CPU work needs processes".

The loop stays free and the responses are right, so the times can look fine: each prediction runs in
another process. But every request starts a fresh interpreter (spawn: it imports the lab and the model
before it predicts) and leaving the `with` block joins that process. The lesson says one pool, made in
the lifespan and sized to the cores; the server counts the pools its requests made: one per request.

Fails on: made
"""

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from fastapi import FastAPI

from lab.model import iterations_for, load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import cpu_predict

MODEL = load_model()
ITERATIONS = iterations_for(250)
app = FastAPI()


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest) -> PredictResponse:
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        prediction = await loop.run_in_executor(
            pool, cpu_predict, MODEL, features.feature_1, features.feature_2, ITERATIONS
        )
    return PredictResponse(prediction=prediction, model_version=MODEL.version)
