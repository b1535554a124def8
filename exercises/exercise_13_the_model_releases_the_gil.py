"""Exercise 13: the model releases the GIL.

This ranking model runs in NumPy: each prediction scores 600 candidates through six 600x600
layers, eight times over (about 200 ms of BLAS matmuls and ufuncs on one core). Exercise 7 taught
that CPU work needs processes, so the team left it in `async def` ("threads would not help
anyway"). But NumPy's kernels release the GIL: threads do compute in parallel here. What does not
change is the event loop: called from `async def`, the kernels run on the loop thread, and every
request, /health included, waits for them.

Run it:    lab run exercise-13       (fire 8 requests at POST /predict, then GET /health)
Done when: `lab check exercise-13` passes: the event loop stays on time during the burst, /health
           answers mid-burst, the burst is as fast as the solution's, and predictions stay correct.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from lab.numpy_model import load_numpy_model, threadpool_limits
from lab.schemas import Health, PredictRequest, PredictResponse

PASSES = 8  # about 200 ms of BLAS work per prediction on one core


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Configured as an inference server should be: one BLAS thread per request thread, the model loaded once.
    threadpool_limits(limits=1, user_api="blas")
    app.state.model = load_numpy_model()
    yield


app = FastAPI(title="Exercise 13: the model releases the GIL", lifespan=lifespan)


@app.get("/health")
async def health(request: Request) -> Health:
    return Health(status="healthy", model_version=request.app.state.model.version)


@app.post("/predict")
async def predict(features: PredictRequest, request: Request) -> PredictResponse:
    model = request.app.state.model
    # TODO: the kernels release the GIL, so a worker thread can run them while the loop serves others.
    # BROKEN: NumPy inference on the event-loop thread (GIL released or not, the loop waits)
    prediction = model.predict(features.feature_1, features.feature_2, passes=PASSES)
    return PredictResponse(prediction=prediction, model_version=model.version)
