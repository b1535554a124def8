"""Exercise 10, a wrong fix: the batcher is right, but it calls the blocking model on the event loop."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import BatchModel

MODEL = BatchModel(load_model())
MAX_BATCH = 32
MAX_WAIT_S = 0.005  # how long the first row of a batch waits for company

Row = tuple[float, float]


class MicroBatcher:
    """Requests put a row and a future on a queue; one task turns the queue into model batches."""

    def __init__(self, model: BatchModel) -> None:
        self.model = model
        self.queue: asyncio.Queue[tuple[Row, asyncio.Future[float]]] = asyncio.Queue()

    async def predict(self, row: Row) -> float:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        await self.queue.put((row, future))
        return await future  # if the client goes away, this future is cancelled: run() skips it

    async def run(self) -> None:
        while True:
            batch = [await self.queue.get()]  # sleep until the first row arrives
            await asyncio.sleep(MAX_WAIT_S)  # give the rest of the burst a moment to join it
            while len(batch) < MAX_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            batch = [(row, future) for row, future in batch if not future.done()]  # cancelled requests
            if batch:
                await self._predict(batch)

    async def _predict(self, batch: list[tuple[Row, asyncio.Future[float]]]) -> None:
        try:
            # WRONG: no thread: the whole event loop waits 100 ms or more for every batch.
            predictions = self.model.predict_batch([row for row, _ in batch])
        except Exception as exc:  # a failed batch fails its requests, never the batcher itself
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), prediction in zip(batch, predictions, strict=True):
            if not future.done():
                future.set_result(prediction)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    batcher = MicroBatcher(MODEL)
    task = asyncio.create_task(batcher.run())
    app.state.batcher = batcher
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


app = FastAPI(title="Exercise 10: micro-batching", lifespan=lifespan)


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest, request: Request) -> PredictResponse:
    prediction = await request.app.state.batcher.predict((features.feature_1, features.feature_2))
    return PredictResponse(prediction=prediction, model_version=MODEL.version)
