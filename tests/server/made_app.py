"""A server for `test_made.py`: what its requests make, per request or once in the lifespan.

Nothing here runs work in another process: a pool's processes start only when work is submitted, so
making one costs nothing, and the process started per request is a fork that ends at once.
"""

import multiprocessing
import os
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lab.client import httpx


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Made once, before any request: not counted.
    with ProcessPoolExecutor(max_workers=1) as pool:
        async with httpx.AsyncClient() as client:
            app.state.pool, app.state.client = pool, client
            yield


app = FastAPI(lifespan=lifespan)


@app.get("/pool")
async def pool_per_request() -> dict[str, bool]:
    with ProcessPoolExecutor(max_workers=1):
        pass
    return {"made": True}


@app.get("/process")
def process_per_request() -> dict[str, int | None]:
    process = multiprocessing.get_context("fork").Process(target=os._exit, args=(0,))
    process.start()
    process.join(10)
    return {"exitcode": process.exitcode}


@app.get("/client")
def client_per_request() -> dict[str, bool]:
    with httpx.Client():
        pass
    return {"made": True}


@app.get("/async-client")
async def async_client_per_request() -> dict[str, bool]:
    async with httpx.AsyncClient():
        pass
    return {"made": True}


@app.get("/shared")
async def shared() -> dict[str, bool]:
    return {"made": False}
