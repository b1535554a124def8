"""Exercise 10, another fix: the batcher hands batches to a one-thread executor.

One thread means one model call at a time by construction, so the batcher need not wait for a
batch before gathering the next one.
"""

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from lab.model import load_model
from lab.schemas import Health, PredictRequest, PredictResponse
from lab.workloads import BatchModel

MODEL = BatchModel(load_model())
MAX_BATCH = 32
MAX_WAIT_S = 0.005

Item = tuple[tuple[float, float], asyncio.Future[float]]


async def batch_forever(queue: asyncio.Queue[Item], executor: ThreadPoolExecutor) -> None:
    loop = asyncio.get_running_loop()
    while True:
        batch = [await queue.get()]
        await asyncio.sleep(MAX_WAIT_S)
        while len(batch) < MAX_BATCH and not queue.empty():
            batch.append(queue.get_nowait())
        batch = [(row, future) for row, future in batch if not future.done()]
        if not batch:
            continue
        call = loop.run_in_executor(executor, MODEL.predict_batch, [row for row, _ in batch])
        call.add_done_callback(functools.partial(deliver, batch=batch))


def deliver(done: asyncio.Future[list[float]], *, batch: list[Item]) -> None:
    for index, (_, future) in enumerate(batch):
        if future.done():
            continue
        error = done.exception()
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(done.result()[index])


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    queue: asyncio.Queue[Item] = asyncio.Queue()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="model") as executor:
        task = asyncio.create_task(batch_forever(queue, executor))  # referenced until shutdown
        app.state.queue = queue
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", model_version=MODEL.version)


@app.post("/predict")
async def predict(features: PredictRequest, request: Request) -> PredictResponse:
    future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    await request.app.state.queue.put(((features.feature_1, features.feature_2), future))
    return PredictResponse(prediction=await future, model_version=MODEL.version)
