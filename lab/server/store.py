"""A fake feature store: the slow downstream service that inference endpoints call.

It runs in its own thread with its own event loop (see `lab.serving.ThreadServer`), so that it keeps
answering even while the lab server's event loop is blocked, exactly like a real remote service.
It counts how many requests it is serving at once: the proof of whether callers overlap.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Annotated

from fastapi import FastAPI, Query

from lab.instruments import INSTRUMENTS

STORE_GAUGE = "store_in_flight"
STORE_REQUESTS = "store_requests"
DEFAULT_LATENCY_MS = 200


def features_for(entity_id: str) -> tuple[float, float]:
    """Deterministic features for an entity, so a caller's prediction can be checked."""
    digest = hashlib.sha256(entity_id.encode()).digest()
    return (digest[0] / 25.5 - 5.0, digest[1] / 25.5 - 5.0)


def create_store() -> FastAPI:
    store = FastAPI(title="Fake feature store")
    in_flight = INSTRUMENTS.gauge(STORE_GAUGE)

    @store.get("/features/{entity_id}")
    async def features(
        entity_id: str, latency_ms: Annotated[int, Query(ge=0, le=10_000)] = DEFAULT_LATENCY_MS
    ) -> dict[str, float | str]:
        with in_flight.track():
            await asyncio.sleep(latency_ms / 1000)
        INSTRUMENTS.count(STORE_REQUESTS)  # answered: the caller's work was really done
        feature_1, feature_2 = features_for(entity_id)
        return {"entity_id": entity_id, "feature_1": feature_1, "feature_2": feature_2}

    @store.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "healthy"}

    return store
