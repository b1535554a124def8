"""Calling a slow downstream service (a fake feature store the lab starts itself, ~200 ms a call)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request

from lab.scenarios import MAX_DELAY_MS
from lab.schemas import PredictResponse
from lab.server.scenarios.params import DelayMs

if TYPE_CHECKING:
    from lab.client import httpx

router = APIRouter(prefix="/downstream", tags=["downstream"])

# Longer than the slowest store answer a request may ask for: the client's 5 s default is not.
STORE_TIMEOUT_S = MAX_DELAY_MS / 1000 + 5


def _store_url(request: Request, delay_ms: int) -> str:
    return f"{request.app.state.store_url}/features/customer-42?latency_ms={delay_ms}"


def _predict(request: Request, features: dict[str, float]) -> PredictResponse:
    model = request.app.state.model
    return PredictResponse(
        prediction=model.predict(features["feature_1"], features["feature_2"]), model_version=model.version
    )


@router.get("/sync")
def downstream_sync(request: Request, delay_ms: DelayMs = 200) -> PredictResponse:
    # `def` + a blocking client, made once in the lifespan: each call blocks a worker thread (and holds
    # a token while it waits). A client made per request would also load TLS certificates per request:
    # CPU work that holds the GIL, so the threads would take turns and the burst would come in waves.
    client: httpx.Client = request.app.state.store_sync_client
    features = client.get(_store_url(request, delay_ms)).raise_for_status().json()
    return _predict(request, features)


@router.get("/async")
async def downstream_async(request: Request, delay_ms: DelayMs = 200) -> PredictResponse:
    # `async def` + the one AsyncClient made in the lifespan: waits without a thread, reuses connections.
    client: httpx.AsyncClient = request.app.state.store_client
    response = await client.get(_store_url(request, delay_ms))
    return _predict(request, response.raise_for_status().json())


@router.get("/broken")
async def downstream_broken(request: Request, delay_ms: DelayMs = 200) -> PredictResponse:
    # THE MISTAKE: a synchronous HTTP client inside `async def` blocks the event loop for the whole call.
    from lab.client import httpx

    with httpx.Client(trust_env=False) as client:
        features = client.get(_store_url(request, delay_ms)).raise_for_status().json()
    return _predict(request, features)
