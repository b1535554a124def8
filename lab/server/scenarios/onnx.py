"""ONNX Runtime inference: `InferenceSession.run` releases the GIL. Threads scale; the loop must still be left alone.

The model (`lab.onnx_model`) is the NumPy model's MLP as an ONNX graph, on the same weights, so every twin
here must answer what `/numpy/...` answers (within float32 rounding). `run` computes in C++ without the
GIL, so `def` handlers in FastAPI's thread pool infer side by side; called from `async def`, the same
`run` still holds the event-loop thread until it returns.

The server runs as a well-configured inference server does: the lifespan creates the session once with
`intra_op_num_threads=1` (LAB_INTRA_OP_THREADS), so request threads times ONNX Runtime's own threads
never exceed the cores. ONNX Runtime is an optional extra: without it, these routes answer 503 with the
one line that says how to install it (the routes stay, so `/docs` and clients see the same server).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from lab.model import passes_for
from lab.scenarios import ONNX_EXTRA
from lab.server.scenarios.numpy import FEATURES, Scored
from lab.server.scenarios.params import CpuMs

if TYPE_CHECKING:
    from lab.onnx_model import OnnxModel

router = APIRouter(
    prefix="/onnx",
    tags=["onnx"],
    responses={503: {"description": "ONNX Runtime (the `onnx` extra) is not installed on this server"}},
)


def _model(request: Request) -> OnnxModel:
    model: OnnxModel | None = getattr(request.app.state, "onnx_model", None)
    if model is None:  # the lifespan found no onnxruntime to load it with
        raise HTTPException(503, ONNX_EXTRA.missing("the /onnx scenario"))
    return model


def _predict(request: Request, delay_ms: int) -> float:
    model = _model(request)
    per_pass_ms: float = request.app.state.onnx_ms_per_pass
    return model.predict(*FEATURES, passes=passes_for(delay_ms, per_pass_ms))


def _answer(request: Request, variant: str, delay_ms: int, prediction: float) -> Scored:
    return Scored(variant=variant, delay_ms=delay_ms, model_version=_model(request).version, prediction=prediction)


@router.get("/sync")
def onnx_sync(request: Request, delay_ms: CpuMs = 100) -> Scored:
    # `def`: a worker thread. `session.run` releases the GIL, so the threads really infer side by side.
    return _answer(request, "sync", delay_ms, _predict(request, delay_ms))


@router.get("/async")
async def onnx_async(request: Request, delay_ms: CpuMs = 100) -> Scored:
    # `async def` + `run_in_threadpool`: the loop awaits while a worker thread runs the session.
    _model(request)  # a 503 without the extra, before taking a thread
    prediction = await run_in_threadpool(_predict, request, delay_ms)
    return _answer(request, "async", delay_ms, prediction)


@router.get("/broken")
async def onnx_broken(request: Request, delay_ms: CpuMs = 100) -> Scored:
    # THE MISTAKE: `run` releases the GIL, but it runs on the event-loop thread, which waits for it.
    return _answer(request, "broken", delay_ms, _predict(request, delay_ms))
