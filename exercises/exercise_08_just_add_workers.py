"""Exercise 8: just add workers.

Predictions are CPU-bound (about 800 ms of pure Python each) and the endpoint is `async def`.
The team's answer to the slowness was to run two uvicorn workers (`--workers 2`; the lab starts
this exercise that way): two processes, two event loops, two cores. Throughput did go up... but
under steady traffic `/health` still times out and the event loop of each worker is frozen most
of the time. Workers multiply event loops; they do not unblock them.

Run it:    lab run exercise-8        (served with 2 workers; keep a few requests in flight at
           POST /predict for a few seconds and GET /health meanwhile)
Done when: `lab check exercise-8` passes: under sustained load neither worker's event loop is
           ever stalled for a whole prediction, and /health answers meanwhile.
"""

from fastapi import FastAPI

from lab.model import iterations_for, load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import cpu_predict

WORKERS = 2  # what the lab passes to uvicorn for this exercise: each worker imports this module

# Each worker process runs this module: its own model copy, its own thread pool, its own GIL.
MODEL = load_model()
ITERATIONS = iterations_for(800)  # about 800 ms of pure-Python work on this machine

app = FastAPI(title="Exercise 8: just add workers")


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest) -> PredictResponse:
    # TODO: the second worker gives this service a second core. What still freezes each worker's
    # event loop, and what is the smallest change that lets the loop keep accepting connections
    # and answering while the CPU work runs elsewhere?
    # BROKEN: CPU work on the event-loop thread: workers only make two loops freeze instead of one
    prediction = cpu_predict(MODEL, features.feature_1, features.feature_2, ITERATIONS)
    return PredictResponse(prediction=prediction, model_version=MODEL.version)
