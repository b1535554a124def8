"""Exercise 11: fire-and-forget background work.

Compliance wants every prediction in an audit log. Writing it takes 200 ms through a synchronous
database driver, so it runs as a background task, after the response has been sent. Yet the
first response of a burst is instant and the last one takes 4 seconds, and `/health` freezes.
"After the response" still means "on some thread": which one?

Run it:    lab run exercise-11       (fire 20 requests at POST /predict, then GET /health)
Done when: `lab check exercise-11` passes: responses come back at once, the audit writes run
           side by side in the background, and the event loop is never late.
"""

from fastapi import BackgroundTasks, FastAPI

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import write_audit_record

MODEL = load_model()

app = FastAPI(title="Exercise 11: fire-and-forget background work")


async def audit(features: PredictRequest, prediction: float) -> None:
    # TODO: background tasks run after the response, but FastAPI runs them exactly like routes.
    # BROKEN: a blocking write inside an `async def` background task freezes the event loop
    write_audit_record({**features.model_dump(), "prediction": prediction})


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest, background_tasks: BackgroundTasks) -> PredictResponse:
    prediction = MODEL.predict(features.feature_1, features.feature_2)
    background_tasks.add_task(audit, features, prediction)
    return PredictResponse(prediction=prediction, model_version=MODEL.version)
