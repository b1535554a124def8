"""Exercise 6: load the model once (solution).

Loading the model takes a while (`load_model(load_s=0.3)` simulates reading big weights from
disk), so somebody made it lazy: the first prediction loads it, the next ones reuse it. After a
deploy, the first burst of traffic arrives all at once... and the model is loaded again and again,
while `/health` has been saying "healthy" since before the model existed.

Run it:    lab run exercise-6        (fire 20 requests at POST /predict right after start-up,
           then read the `model_loads` counter at GET /lab/stats)
Done when: `lab check exercise-6` passes: the server loads the model exactly once in its life,
           before it accepts the first request, and the event loop is never late.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from lab.model import Model, load_model
from lab.schemas import Health, PredictRequest, PredictResponse

LOAD_S = 0.3  # how long reading the weights takes


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # FIX: the lifespan runs once, before uvicorn accepts a connection: no request ever sees a
    # missing model and none pays for the load. Blocking here is fine: nothing is served yet.
    # (The lazy `if MODEL is None` was a race: in a `def` route, every thread that arrived during
    # the load saw None and loaded its own copy; moved into `async def`, it would load once but
    # freeze the event loop, and every request with it, for the whole load.)
    app.state.model = load_model(load_s=LOAD_S)
    yield


app = FastAPI(title="Exercise 6: load the model once", lifespan=lifespan)


# FIX: the dependency now only hands out the model loaded at start-up. It is `async def` because
# it never blocks: it needs no thread (and no thread token) to return an attribute.
async def get_model(request: Request) -> Model:
    model: Model = request.app.state.model
    return model


# FIX: readiness for free: uvicorn accepts no request before the lifespan has loaded the model,
# so a health check that answers at all can name the model version it serves.
@app.get("/health")
async def health(model: Annotated[Model, Depends(get_model)]) -> Health:
    return Health(status="healthy", model_version=model.version)


@app.post("/predict")
async def predict(features: PredictRequest, model: Annotated[Model, Depends(get_model)]) -> PredictResponse:
    return PredictResponse(
        prediction=model.predict(features.feature_1, features.feature_2), model_version=model.version
    )
