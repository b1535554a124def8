"""Request and response models. Every response that comes from the model names its `model_version`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Health",
    "PredictRequest",
    "PredictResponse",
    "Waited",
]


class PredictRequest(BaseModel):
    # allow_inf_nan=False turns NaN and +/-inf into a 422 that names the field, instead of a
    # prediction of NaN; strict refuses `true` and "1.5" dressed up as numbers; the bound keeps the
    # numbers in a range the model was meant for.
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid", strict=True)

    feature_1: float = Field(ge=-1e6, le=1e6, examples=[1.5])
    feature_2: float = Field(ge=-1e6, le=1e6, examples=[0.3])


class PredictResponse(BaseModel):
    prediction: float = Field(description="Probability of the positive class.")
    model_version: str


class Health(BaseModel):
    status: str
    model_version: str


class Waited(BaseModel):
    """What the scenario endpoints answer: what they did, so a client can check the work was done."""

    variant: str
    delay_ms: int
    model_version: str
