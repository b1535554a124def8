"""NumPy inference: kernels that release the GIL. Threads scale; the event loop must still be left alone.

The model (`lab.numpy_model`) spends its time in BLAS matmuls and ufuncs, which release the GIL, so
`def` handlers in FastAPI's thread pool compute on every core at once. Releasing the GIL does not
free the event loop, though: called from `async def`, the same call holds the loop thread to the end.

The server runs as a well-configured inference server does: its lifespan caps the BLAS library to
one intra-op thread per request thread (threadpoolctl, once, at start-up), so request threads
times BLAS threads never exceed the cores (exercise 14 is what happens otherwise).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from lab.model import passes_for
from lab.schemas import Waited
from lab.server.scenarios.params import CpuMs

router = APIRouter(prefix="/numpy", tags=["numpy"])

FEATURES = (1.5, 0.3)  # every request scores the same candidates: the answers must match across twins


class Scored(Waited):
    """`Waited`, plus the model's answer: a client can check that every twin did the same work."""

    prediction: float


def _predict(request: Request, delay_ms: int) -> float:
    state = request.app.state
    return float(state.numpy_model.predict(*FEATURES, passes=passes_for(delay_ms, state.numpy_ms_per_pass)))


def _answer(request: Request, variant: str, delay_ms: int, prediction: float) -> Scored:
    version = request.app.state.numpy_model.version
    return Scored(variant=variant, delay_ms=delay_ms, model_version=version, prediction=prediction)


@router.get("/sync")
def numpy_sync(request: Request, delay_ms: CpuMs = 100) -> Scored:
    # `def`: a worker thread. BLAS releases the GIL, so the threads really compute side by side.
    return _answer(request, "sync", delay_ms, _predict(request, delay_ms))


@router.get("/async")
async def numpy_async(request: Request, delay_ms: CpuMs = 100) -> Scored:
    # `async def` + `run_in_threadpool`: the loop awaits while a worker thread runs the kernels. No
    # process pool needed: the GIL is not what limits this work.
    prediction = await run_in_threadpool(_predict, request, delay_ms)
    return _answer(request, "async", delay_ms, prediction)


@router.get("/broken")
async def numpy_broken(request: Request, delay_ms: CpuMs = 100) -> Scored:
    # THE MISTAKE: the kernels release the GIL, but they run on the event-loop thread, which waits for them.
    return _answer(request, "broken", delay_ms, _predict(request, delay_ms))
