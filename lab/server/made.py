"""What requests make for themselves: process pools, the interpreters they start, HTTP clients.

A process pool or an HTTP client is meant to be made once, where the server starts (the lifespan), and
shared by every request. Made inside a route, it is made again for every request: a fresh interpreter
per prediction, new connections per call. The time that costs moves with the machine; the count does
not. So the constructors are counted, in the served process, only while a request is inside the app:
what the imports and the lifespan make is not counted, what requests make is (counters in `/lab/stats`,
read against the solution's own count by `lab.course.grade`).

Counting wraps the classes' own methods in place (no subclass, nothing the learner sees changes), once
per process, when `lab.server.observability.instrument` prepares an app. HTTP clients are counted in
the HTTP libraries already imported by then (the app's imports run first).
"""

from __future__ import annotations

import concurrent.futures.process
import functools
import multiprocessing.process
import sys
from collections.abc import Callable
from typing import Any

from lab.instruments import INSTRUMENTS, Instruments
from lab.protocol import HTTP_CLIENTS, PROCESS_POOLS, PROCESSES

__all__ = ["count_what_requests_make"]

HTTP_LIBRARIES = ("httpx2", "httpx")  # the lab's (lab.client) and the one learners may import themselves
_MARK = "_lab_counted"


def _count_calls(owner: type, method: str, counter: str, instruments: Instruments) -> None:
    original: Callable[..., Any] = getattr(owner, method)
    if getattr(original, _MARK, False):
        return  # already counted (a forked server inherits its warm host's classes)

    @functools.wraps(original)
    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        if instruments.in_flight.current > 0:  # a request is being served: this one is made per request
            instruments.count(counter)
        return original(self, *args, **kwargs)

    setattr(counted, _MARK, True)
    setattr(owner, method, counted)


def count_what_requests_make(instruments: Instruments = INSTRUMENTS) -> None:
    """Count process pools, processes and HTTP clients made while requests are served, from now on."""
    _count_calls(concurrent.futures.process.ProcessPoolExecutor, "__init__", PROCESS_POOLS, instruments)
    _count_calls(multiprocessing.process.BaseProcess, "start", PROCESSES, instruments)
    for name in HTTP_LIBRARIES:
        library = sys.modules.get(name)
        for client in (getattr(library, "Client", None), getattr(library, "AsyncClient", None)):
            if isinstance(client, type):
                _count_calls(client, "__init__", HTTP_CLIENTS, instruments)
