"""Exercise 6, a wrong fix: the lazy load moved into `async def`. One load, but the loop freezes for it."""

from typing import Annotated

from fastapi import Depends, FastAPI

from lab.model import Model, load_model
from lab.schemas import Health, PredictRequest, PredictResponse

LOAD_S = 0.3
MODEL: Model | None = None
app = FastAPI()


async def get_model() -> Model:
    global MODEL
    if MODEL is None:
        MODEL = load_model(load_s=LOAD_S)
    return MODEL


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version if MODEL else "none")


@app.post("/predict")
async def predict(features: PredictRequest, model: Annotated[Model, Depends(get_model)]) -> PredictResponse:
    return PredictResponse(
        prediction=model.predict(features.feature_1, features.feature_2), model_version=model.version
    )
