"""Exercise 14: threads times threads (solution).

The NumPy ranking model again (about 200 ms of BLAS work per prediction on one core), served the
right way after exercise 13: a plain `def` route, so FastAPI's worker threads run the kernels in
parallel. And, for more throughput, two uvicorn workers (the lab starts this exercise that way).
Nobody told OpenBLAS, though: by default it starts one thread per core *inside every call*, in
every request thread of every worker. 2 workers x several request threads x 2 BLAS threads, on 2
cores: the threads fight over the cores, spin waiting for each other and evict each other's caches.

How much time that costs moves with whatever else the machine runs (on a busy 2-core box we
measured anywhere from a little to several times slower), too unsteady to grade fairly. So the
check counts what can be counted: the BLAS threads each worker runs per call, as the server itself
reports them (threadpoolctl, at GET /lab/stats: `threadpools`), and the event loop's lag.

Run it:    lab run exercise-14       (served with 2 workers; keeps 6 requests in flight at POST
           /predict for a few seconds; look at `threadpools` in GET /lab/stats)
Done when: `lab check exercise-14` passes: every worker runs one BLAS thread per call, its event
           loop stays free, and predictions stay correct.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from threadpoolctl import threadpool_limits

from lab.numpy_model import load_numpy_model
from lab.schemas import Health, PredictRequest, PredictResponse

WORKERS = 2  # what the lab passes to uvicorn for this exercise: each worker runs this module's lifespan
PASSES = 8  # about 200 ms of BLAS work per prediction on one core


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # FIX: one BLAS thread per call, set once per worker, at start-up. The parallelism comes from the
    # request threads and the workers; BLAS threads on top only oversubscribe the cores. OpenBLAS's
    # setting is process-wide, so it is set here once, never per request (a `with threadpool_limits`
    # in the route would race with the other requests' threads). Setting OPENBLAS_NUM_THREADS here
    # would be too late: OpenBLAS reads it once, when NumPy is imported.
    threadpool_limits(limits=1, user_api="blas")
    app.state.model = load_numpy_model()
    yield


app = FastAPI(title="Exercise 14: threads times threads", lifespan=lifespan)


@app.get("/health")
async def health(request: Request) -> Health:
    return Health(status="healthy", model_version=request.app.state.model.version)


@app.post("/predict")
def predict(features: PredictRequest, request: Request) -> PredictResponse:
    model = request.app.state.model
    prediction = model.predict(features.feature_1, features.feature_2, passes=PASSES)
    return PredictResponse(prediction=prediction, model_version=model.version)
