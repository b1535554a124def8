"""Exercise 10: micro-batching (solution).

The model now runs on an accelerator: one call costs 100 ms plus 1 ms per row, so a batch of 32
rows costs barely more than a single row. It is not thread-safe (two calls at once raise), so
each request takes a lock and makes its own one-row call: 30 requests queue for 3 seconds and
the accelerator does 30 calls where 2 would do.

Run it:    lab run exercise-10       (fire 30 requests at POST /predict; watch `model_calls` and
           `batch_items` at GET /lab/stats)
Done when: `lab check exercise-10` passes: a burst of 30 requests costs a few model calls, not 30,
           takes about as long as the solution, and every prediction is still right.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool

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
            # One batch at a time (this loop awaits it), in a worker thread: the model blocks for
            # 100 ms or more, and the event loop keeps queueing rows for the next batch meanwhile.
            # Called right here, without the thread, it would freeze every request for as long.
            predictions = await run_in_threadpool(self.model.predict_batch, [row for row, _ in batch])
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
    # FIX: one batcher task for the whole app, started with it and stopped with it. Keep the
    # task in a variable: the event loop holds only a weak reference, and a task nobody holds can
    # vanish, leaving every request waiting forever.
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
    # FIX: no lock and no model call here: the request hands its row to the batcher and awaits
    # its own prediction, which arrives with the rest of its batch.
    prediction = await request.app.state.batcher.predict((features.feature_1, features.feature_2))
    return PredictResponse(prediction=prediction, model_version=MODEL.version)
