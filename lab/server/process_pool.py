"""The lab server's process pool, counted: how many calls run in a process, and how many wait for one.

A request awaiting `loop.run_in_executor(pool, ...)` is in its handler the whole time, but while every
process is busy it is only queued. The pool cannot see when a worker picks a call up, yet it does not
need to: a `ProcessPoolExecutor` of n processes runs at most n calls, so of k outstanding, min(k, n) run
and the rest wait. Two gauges in `/lab/stats` keep those counts (`process_pool_busy`, `process_pool_waiting`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from lab.instruments import INSTRUMENTS

BUSY = "process_pool_busy"
WAITING = "process_pool_waiting"

T = TypeVar("T")


class CountedProcessPool(ProcessPoolExecutor):
    def __init__(self, max_workers: int, *args: Any, **kwargs: Any) -> None:
        super().__init__(max_workers, *args, **kwargs)
        self._size = max_workers
        self._outstanding = 0
        self._lock = threading.Lock()  # done-callbacks run on the pool's management thread
        self._busy = INSTRUMENTS.gauge(BUSY)
        self._waiting = INSTRUMENTS.gauge(WAITING)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future = super().submit(fn, *args, **kwargs)
        with self._lock:
            self._outstanding += 1
            (self._busy if self._outstanding <= self._size else self._waiting).enter()
        future.add_done_callback(self._done)
        return future

    def _done(self, _: Future[Any]) -> None:
        with self._lock:
            self._outstanding -= 1
            # One call fewer: a waiting one if more than n were out, else one that ran.
            (self._waiting if self._outstanding >= self._size else self._busy).leave()
