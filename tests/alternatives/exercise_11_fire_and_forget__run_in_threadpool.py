"""Exercise 11, another fix: keep the task `async def`, and await the blocking write in a thread."""

from fastapi import BackgroundTasks, FastAPI
from fastapi.concurrency import run_in_threadpool

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import write_audit_record

MODEL = load_model()
app = FastAPI()


async def audit(features: PredictRequest, prediction: float) -> None:
    await run_in_threadpool(write_audit_record, {**features.model_dump(), "prediction": prediction})


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest, background_tasks: BackgroundTasks) -> PredictResponse:
    prediction = MODEL.predict(features.feature_1, features.feature_2)
    background_tasks.add_task(audit, features, prediction)
    return PredictResponse(prediction=prediction, model_version=MODEL.version)
