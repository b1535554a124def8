"""Exercise 7, a wrong fix: `def` moves the CPU work to threads, which still share one GIL."""

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
def predict(features: PredictRequest) -> PredictResponse:
    prediction = cpu_predict(MODEL, features.feature_1, features.feature_2, ITERATIONS)
    return PredictResponse(prediction=prediction, model_version=MODEL.version)
