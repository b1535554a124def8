"""The lab's Python API: what notebooks, scripts and tests call.

    import lab

    with lab.serve() as server:  # the lab's inference server, in a child process, on a free port
        result = await lab.burst(f"{server.url}/sleep/broken", requests=10)
    result  # renders itself: a table and a timeline, in Jupyter as in a terminal
    lab.plot.timeline(result)  # the same timeline as a matplotlib figure

Names are imported on first use (PEP 562 `__getattr__`), so `import lab` and `lab --help` do not
pay for FastAPI, uvicorn, rich or the HTTP client until something needs them.

The package, by side of the socket (imports flow down this list; `tests/test_layers.py` keeps it so):

    cli/       the `lab` command: one module per command group
    demo/      `lab demo`: the race plan, the runner, the keyboard
    view/      the only importers of rich and matplotlib
    course/    the exercises: catalog, check, faults, grade, lint, progress, watch
    load/      the client side: fire, burst, the stats client, measure, verdict, compare
    server/    the measured server: app, scenario twins, instruments' middleware, limits, metrics
    launch/    starting and stopping server processes
    model.py schemas.py workloads.py instruments.py client.py scenarios.py durations.py
               what exercises import (paths kept), and the shared vocabulary
    protocol.py errors.py
               the wire format of `/lab/stats` and `X-Lab-*`; the error tree
"""

from __future__ import annotations

import importlib
import weakref
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:  # what type checkers and editors see; at run time these load lazily
    from types import TracebackType

    from lab.errors import BurstError, LabError, ServerError
    from lab.launch.process import ServerProcess, ThreadServer
    from lab.load.burst import BurstResult, burst, run_burst
    from lab.load.measure import Sample, Summary, percentile, summarize
    from lab.load.verdict import Verdict
    from lab.protocol import ServerStats
    from lab.scenarios import SCENARIOS, VARIANTS, Scenario
    from lab.view import plot

__all__ = [
    "SCENARIOS",
    "VARIANTS",
    "BurstError",
    "BurstResult",
    "LabError",
    "Sample",
    "Scenario",
    "ServerError",
    "ServerProcess",
    "ServerStats",
    "Serving",
    "Summary",
    "ThreadServer",
    "Verdict",
    "burst",
    "percentile",
    "plot",
    "run_burst",
    "serve",
    "summarize",
]

# name -> (module, attribute); attribute None means the name is the submodule itself.
_LAZY: dict[str, tuple[str, str | None]] = {
    "SCENARIOS": ("lab.scenarios", "SCENARIOS"),
    "VARIANTS": ("lab.scenarios", "VARIANTS"),
    "BurstError": ("lab.errors", "BurstError"),
    "BurstResult": ("lab.load.burst", "BurstResult"),
    "LabError": ("lab.errors", "LabError"),
    "Sample": ("lab.load.measure", "Sample"),
    "Scenario": ("lab.scenarios", "Scenario"),
    "ServerError": ("lab.errors", "ServerError"),
    "ServerProcess": ("lab.launch.process", "ServerProcess"),
    "ServerStats": ("lab.protocol", "ServerStats"),
    "Summary": ("lab.load.measure", "Summary"),
    "ThreadServer": ("lab.launch.process", "ThreadServer"),
    "Verdict": ("lab.load.verdict", "Verdict"),
    "burst": ("lab.load.burst", "burst"),
    "percentile": ("lab.load.measure", "percentile"),
    "plot": ("lab.view.plot", None),
    "run_burst": ("lab.load.burst", "run_burst"),
    "summarize": ("lab.load.measure", "summarize"),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'lab' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # cached: the next access is a plain attribute lookup
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class Serving:
    """A started server. `.url` is where it listens; `.stop()` (or the end of a `with` block) stops it.

    Made by `serve()`. If a notebook never reaches its last cell, the server still stops when this
    object is garbage collected (re-running `server = lab.serve()`) or when the kernel exits.
    """

    def __init__(self, server: ServerProcess | ThreadServer, target: str) -> None:
        self.server = server
        self.url = server.url
        self.target = target
        # Holds `server.stop`, not `self`: it can run when `self` is collected, and at interpreter exit.
        self._stop = weakref.finalize(self, server.stop)

    @property
    def running(self) -> bool:
        return self._stop.alive

    def stop(self) -> None:
        """Stop the server (its worker processes too); calling it again does nothing."""
        self._stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Serving {self.target} at {self.url} ({state})>"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        import asyncio

        # Stopping waits for the process to exit: do it off the caller's event loop.
        await asyncio.to_thread(self.stop)


def serve(app: object = "lab.server.app:app", *, workers: int = 1, with_store: bool = False) -> Serving:
    """Start a server on a free 127.0.0.1 port and wait until it answers; returns a `Serving`.

        with lab.serve() as server: ...           # the lab's inference server, one worker process
        with lab.serve(workers=2) as server: ...  # uvicorn with two worker processes
        server = lab.serve(my_app)                # any ASGI app object: in a thread of this process

    An import string or a `.py` path (`app`) runs in a child process (`ServerProcess`): its
    crashes and blocked loops stay out of the caller, and stopping it stops its workers. An app
    object runs in a background thread with its own event loop (`ThreadServer`).
    """
    from lab.errors import LabError
    from lab.launch.process import ServerProcess, ThreadServer

    if isinstance(app, str):
        server: ServerProcess | ThreadServer = ServerProcess(app, workers=workers, with_store=with_store)
        target = app
    else:
        if workers != 1 or with_store:
            raise LabError(
                "workers and with_store need a server process: pass an import string, e.g. 'lab.server.app:app'",
                usage=True,
            )
        server = ThreadServer(app)
        target = type(app).__name__
    server.start()
    return Serving(server, target)
