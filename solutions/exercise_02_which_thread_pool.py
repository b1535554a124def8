"""Exercise 2: which thread pool? (solution)

Someone fixed exercise 1 the textbook way: the blocking SDK call now runs in a thread with
`asyncio.to_thread`. `/health` answers again and the event loop is free... but 40 requests at
once still take several times as long as one. The SDK counts its calls in flight: they never
exceed a handful, as if the threads came in small waves.

Run it:    lab run exercise-2        (fire 40 requests at POST /predict; count the waves)
Done when: `lab check exercise-2` passes: all 40 SDK calls overlap and the burst takes about
           as long as a single request.
"""

from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.concurrency import run_in_threadpool

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import remote_model_call

MODEL = load_model()

app = FastAPI(title="Exercise 2: which thread pool?")


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest, delay_ms: Annotated[int, Query(ge=0, le=5_000)] = 200) -> PredictResponse:
    # FIX: run_in_threadpool is what FastAPI itself uses for `def` routes: AnyIO's pool, 40 threads.
    # asyncio.to_thread and run_in_executor(None, ...) use asyncio's default executor instead,
    # which has only min(32, cores + 4) threads: 6 on a 2-core machine, hence the waves.
    await run_in_threadpool(remote_model_call, delay_ms / 1000)
    return PredictResponse(
        prediction=MODEL.predict(features.feature_1, features.feature_2), model_version=MODEL.version
    )
