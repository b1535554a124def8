"""`instrument(app)`: give any FastAPI app the lab's eyes: timing, loop lag, `/lab/stats`, `/metrics`.

The lab's own server is built with it, and so is every learner's exercise app before it is
served, so both report the same truth in the same shape.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Response

from lab.instruments import INSTRUMENTS
from lab.protocol import RESET_PATH, STATS_PATH
from lab.server import metrics
from lab.server.handlers import track_handlers
from lab.server.limits import limit
from lab.server.made import count_what_requests_make
from lab.server.timing import TimingMiddleware

router = APIRouter(tags=["lab"])


@router.get(STATS_PATH)
async def stats(records: bool = True) -> dict[str, Any]:
    """What the server measured about itself since the last reset (see `lab.instruments`)."""
    return INSTRUMENTS.snapshot().to_json(with_requests=records)


@router.post(RESET_PATH)
async def reset_stats(records: bool = True) -> dict[str, Any]:
    """Start a new measurement window and return the stats it closed."""
    closed = INSTRUMENTS.snapshot().to_json(with_requests=records)
    INSTRUMENTS.reset()
    return closed


@router.get("/metrics", response_class=Response)
async def prometheus_metrics() -> Response:
    """Latency histograms and loop-lag gauges in Prometheus text format."""
    return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


def instrument(app: FastAPI) -> FastAPI:
    """Add body limits, the timing middleware and the lab's read-out routes to `app`, once; count what its
    requests make (`lab.server.made`)."""
    if not isinstance(app, FastAPI):  # learners' files can define anything as `app`
        raise TypeError(f"expected a FastAPI app, got {type(app).__name__}")
    # What requests make (pools, processes, clients) is counted from here on: the app's imports are done.
    count_what_requests_make(INSTRUMENTS)
    if not getattr(app.state, "lab_instrumented", False):
        limit(app)  # a learner's app, too, answers oversized bodies and NaN with a 4xx, not a 500
        track_handlers(app, INSTRUMENTS)  # "in its handler" means its endpoint or a dependency is running
        app.add_middleware(TimingMiddleware)  # added last: outermost, so it times every answer
        app.include_router(router)
        app.state.lab_instrumented = True
    return app
