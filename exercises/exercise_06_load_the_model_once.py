"""Exercise 6: load the model once.

Loading the model takes a while (`load_model(load_s=0.3)` simulates reading big weights from
disk), so somebody made it lazy: the first prediction loads it, the next ones reuse it. After a
deploy, the first burst of traffic arrives all at once... and the model is loaded again and again,
while `/health` has been saying "healthy" since before the model existed.

Run it:    lab run exercise-6        (fire 20 requests at POST /predict right after start-up,
           then read the `model_loads` counter at GET /lab/stats)
Done when: `lab check exercise-6` passes: the server loads the model exactly once in its life,
           before it accepts the first request, and the event loop is never late.
"""

from typing import Annotated

from fastapi import Depends, FastAPI

from lab.model import Model, load_model
from lab.schemas import Health, PredictRequest, PredictResponse

LOAD_S = 0.3  # how long reading the weights takes

MODEL: Model | None = None

# TODO: FastAPI can run code once, before the server accepts any request, and once when it
# stops. Load the model there and keep it where every request can reach it.
app = FastAPI(title="Exercise 6: load the model once")


def get_model() -> Model:
    global MODEL
    if MODEL is None:  # BROKEN: every thread that arrives during the load also sees None, and loads again
        MODEL = load_model(load_s=LOAD_S)
    return MODEL


@app.get("/health")
async def health() -> Health:
    # TODO: a readiness check should say whether the model is there.
    return Health(status="healthy", model_version=MODEL.version if MODEL else "none")


@app.post("/predict")
def predict(features: PredictRequest, model: Annotated[Model, Depends(get_model)]) -> PredictResponse:
    return PredictResponse(
        prediction=model.predict(features.feature_1, features.feature_2), model_version=model.version
    )
