"""Exercise 7, another right fix: a module-level process pool, used through `run_in_executor`.

Made at import rather than in the lifespan: its worker processes start on first use. Each worker
is a copy of the server process (its threads' stacks included, when forked), which must not be
mistaken for threads leaking from the server.
"""

import asyncio
import os
from concurrent.futures import ProcessPoolExecutor

from fastapi import FastAPI

from lab.model import iterations_for, load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import cpu_predict

MODEL = load_model()
ITERATIONS = iterations_for(250)
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
POOL = ProcessPoolExecutor(max_workers=CORES)  # the platform's default start method: fork, on Linux
app = FastAPI()


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest) -> PredictResponse:
    loop = asyncio.get_running_loop()
    prediction = await loop.run_in_executor(
        POOL, cpu_predict, MODEL, features.feature_1, features.feature_2, ITERATIONS
    )
    return PredictResponse(prediction=prediction, model_version=MODEL.version)
