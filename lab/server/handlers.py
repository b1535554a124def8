"""Which requests are *in their handler*: the endpoint and dependency functions, counted while they run.

A request inside the app is not always running. Before FastAPI calls a `def` endpoint it waits
for a thread-pool token; before any endpoint it may wait for its body, or for the event loop to
get to it. The timing middleware sees all of that as "in flight". This module wraps each route's
endpoint and dependency functions, keeping their kind (a coroutine function stays one, a plain
function stays plain, so FastAPI still runs it on the loop or in a worker thread exactly as before),
and counts a request as in its handler only from the moment FastAPI calls one of them until it
returns:

    broken twin (async def + time.sleep), N at once:  1 in a handler, N - 1 queued for the loop
    def twin, 100 at once:                            40 in a handler (AnyIO's tokens), 60 waiting

Per request, the first call's start and the last one's end are kept (`HandlerTimes`), so the
timeline can draw queued, in-handler and answered phases from the server's own records.
Generator dependencies (`yield`) are left as they are: they set up and tear down around the
handler rather than run it.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from lab.instruments import Instruments

__all__ = ["CURRENT", "HandlerTimes", "track_handlers"]


@dataclass
class HandlerTimes:
    """One request's handler phase (perf_counter seconds); None until a handler function runs."""

    path: str = ""  # the request's path, for the per-path peaks
    start: float | None = None
    end: float | None = None
    running: int = 0  # handler functions of this request running now (one, unless one calls another)


# The request being served, set by the timing middleware; AnyIO copies it into worker threads.
CURRENT: contextvars.ContextVar[HandlerTimes | None] = contextvars.ContextVar("lab_handler_times", default=None)


def track_handlers(app: FastAPI, instruments: Instruments, skip: tuple[str, ...] = ()) -> int:
    """Wrap every route's endpoint and dependencies; returns how many routes.

    Each function is wrapped once, so the same dependency gets the same wrapper everywhere and
    FastAPI's per-request dependency cache still sees one dependency.
    """
    wrapped: dict[int, Callable[..., Any]] = {}
    routes = 0
    for path, dependant in _dependants(app.router.routes):
        if not path.startswith(skip):
            _wrap(dependant, instruments, wrapped)
            routes += 1
    return routes


def _dependants(routes: list[Any]) -> Iterator[tuple[str, Dependant]]:
    """(path, dependant) of every API route, those of included routers too.

    FastAPI 0.165 keeps an included router as one lazy entry and builds each of its routes (with
    its own `Dependant`, the one its request handler runs) on first use: build them now, so that
    the dependants wrapped here are the ones that run. Integrations are meant to wrap
    `dependant.call` this way (see `_EffectiveRouteContext.from_api_route` in fastapi/routing.py).
    """
    for route in routes:
        if isinstance(route, APIRoute):
            yield route.path, route.dependant
        elif hasattr(route, "effective_candidates"):  # an included router
            for candidate in route.effective_candidates():
                dependant = getattr(candidate, "dependant", None)
                if isinstance(dependant, Dependant) and isinstance(candidate.original_route, APIRoute):
                    yield candidate.path, dependant
                elif hasattr(candidate, "effective_candidates"):
                    yield from _dependants([candidate])


def _wrap(dependant: Dependant, instruments: Instruments, wrapped: dict[int, Callable[..., Any]]) -> None:
    for sub in dependant.dependencies:
        _wrap(sub, instruments, wrapped)
    call = dependant.call
    if call is None or getattr(call, "__lab_handler__", False):
        return
    if inspect.isgeneratorfunction(call) or inspect.isasyncgenfunction(call):
        return
    if id(call) not in wrapped:
        wrapped[id(call)] = _counted(call, instruments)
    dependant.call = wrapped[id(call)]


def _counted(call: Callable[..., Any], instruments: Instruments) -> Callable[..., Any]:
    """`call`, counted in `instruments.in_handler` while it runs; async if `call` is."""
    # A callable object with an `async def __call__` is a coroutine function to FastAPI too.
    is_async = inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(type(call).__call__)

    if is_async:

        @functools.wraps(call)
        async def counted_async(*args: Any, **kwargs: Any) -> Any:
            times = _enter(instruments)
            try:
                return await call(*args, **kwargs)
            finally:
                _leave(instruments, times)

        wrapper: Callable[..., Any] = counted_async
    else:

        @functools.wraps(call)
        def counted(*args: Any, **kwargs: Any) -> Any:
            times = _enter(instruments)
            try:
                return call(*args, **kwargs)
            finally:
                _leave(instruments, times)

        wrapper = counted
    wrapper.__lab_handler__ = True  # type: ignore[attr-defined]
    return wrapper


def _enter(instruments: Instruments) -> HandlerTimes | None:
    times = CURRENT.get()
    if times is None:  # not under the timing middleware: count it as its own request
        instruments.in_handler.enter()
        return None
    if times.running == 0:
        instruments.in_handler.enter()
        instruments.handler_gauge(times.path).enter()
        if times.start is None:
            times.start = time.perf_counter()
    times.running += 1
    return times


def _leave(instruments: Instruments, times: HandlerTimes | None) -> None:
    if times is None:
        instruments.in_handler.leave()
        return
    times.running -= 1
    if times.running == 0:
        times.end = time.perf_counter()
        instruments.in_handler.leave()
        instruments.handler_gauge(times.path).leave()
