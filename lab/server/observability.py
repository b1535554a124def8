"""`instrument(app)`: give any FastAPI app the lab's eyes: timing, loop lag, `/lab/stats`, `/metrics`.

The lab's own server is built with it, and so is every learner's exercise app before it is
served, so both report the same truth in the same shape.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute, Mount, WebSocketRoute

from lab.instruments import INSTRUMENTS
from lab.protocol import RESET_PATH, ROUTES_PATH, STATS_PATH
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


@router.get(ROUTES_PATH, include_in_schema=False)
async def unlisted_routes(request: Request) -> dict[str, Any]:
    """The routes `lab scan` cannot burst, which the OpenAPI schema leaves out or cannot tell apart: WebSocket
    routes, mounted sub-apps, routes left out of the schema, and endpoints that answer with a stream."""
    return {"routes": [r for route in request.app.routes if (r := _unlisted(route)) is not None]}


def _unlisted(route: BaseRoute) -> dict[str, str] | None:
    path = getattr(route, "path", "")
    if isinstance(route, (WebSocketRoute, APIWebSocketRoute)):
        return {"path": path, "kind": "websocket"}
    if isinstance(route, Mount):
        return {"path": path or "/", "kind": "mount"}
    if isinstance(route, APIRoute):
        response_class = route.response_class
        streams = isinstance(response_class, type) and issubclass(response_class, StreamingResponse)
        if streams or _returns_stream(route):
            return {"path": path, "kind": "streaming"}
        return None if route.include_in_schema or path.startswith("/lab/") else {"path": path, "kind": "hidden"}
    return {"path": path, "kind": "hidden"} if path and path not in _DOCS else None


_DOCS = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")


def _returns_stream(route: APIRoute) -> bool:
    """An endpoint annotated to return a `StreamingResponse` (FastAPI's schema says nothing about streams)."""
    returns = getattr(route.endpoint, "__annotations__", {}).get("return")
    return isinstance(returns, type) and issubclass(returns, StreamingResponse) or returns == "StreamingResponse"


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
