"""The lab's Python API: what notebooks, scripts and tests call.

    import lab

    with lab.serve() as server:  # the lab's inference server, in a child process, on a free port
        result = await lab.burst(f"{server.url}/sleep/broken", requests=10)
    result  # renders itself: a table and a timeline, in Jupyter as in a terminal
    lab.plot.timeline(result)  # the same timeline as a matplotlib figure

Names are imported on first use (PEP 562 `__getattr__`), so `import lab` and `lab --help` do not
pay for FastAPI, uvicorn, rich or the HTTP client until something needs them.
"""

from __future__ import annotations

import importlib
import sys
import types
import weakref
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:  # what type checkers and editors see; at run time these load lazily
    from types import TracebackType

    from lab import plot
    from lab.burst import BurstError, BurstResult, burst, run_burst
    from lab.measure import Sample, Summary, percentile, summarize
    from lab.scenarios import SCENARIOS, VARIANTS, Scenario
    from lab.server import ServerError, ServerProcess, ThreadServer
    from lab.verdict import Verdict

__all__ = [
    "SCENARIOS",
    "VARIANTS",
    "BurstError",
    "BurstResult",
    "Sample",
    "Scenario",
    "ServerError",
    "ServerProcess",
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
    "BurstError": ("lab.burst", "BurstError"),
    "BurstResult": ("lab.burst", "BurstResult"),
    "Sample": ("lab.measure", "Sample"),
    "Scenario": ("lab.scenarios", "Scenario"),
    "ServerError": ("lab.server", "ServerError"),
    "ServerProcess": ("lab.server", "ServerProcess"),
    "Summary": ("lab.measure", "Summary"),
    "ThreadServer": ("lab.server", "ThreadServer"),
    "Verdict": ("lab.verdict", "Verdict"),
    "burst": ("lab.burst", "burst"),
    "percentile": ("lab.measure", "percentile"),
    "plot": ("lab.plot", None),
    "run_burst": ("lab.burst", "run_burst"),
    "summarize": ("lab.measure", "summarize"),
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


class _Package(types.ModuleType):
    """`lab.burst` is the burst *function*, though `lab/burst.py` is also a submodule.

    Importing a submodule sets it as an attribute of its package, which would replace the
    function with the module whenever anything imports `lab.burst` first. The module stays
    reachable as `sys.modules["lab.burst"]` and through `from lab.burst import ...`.
    """

    def __setattr__(self, name: str, value: object) -> None:
        entry = _LAZY.get(name)
        if isinstance(value, types.ModuleType) and entry is not None and entry[1] is not None:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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


def serve(app: object = "lab.app:app", *, workers: int = 1, with_store: bool = False) -> Serving:
    """Start a server on a free 127.0.0.1 port and wait until it answers; returns a `Serving`.

        with lab.serve() as server: ...           # the lab's inference server, one worker process
        with lab.serve(workers=2) as server: ...  # uvicorn with two worker processes
        server = lab.serve(my_app)                # any ASGI app object: in a thread of this process

    An import string or a `.py` path (`app`) runs in a child process (`ServerProcess`): its
    crashes and blocked loops stay out of the caller, and stopping it stops its workers. An app
    object runs in a background thread with its own event loop (`ThreadServer`).
    """
    from lab.server import ServerProcess, ThreadServer

    if isinstance(app, str):
        server: ServerProcess | ThreadServer = ServerProcess(app, workers=workers, with_store=with_store)
        target = app
    else:
        if workers != 1 or with_store:
            raise ValueError("workers and with_store need a server process: pass an import string, e.g. 'lab.app:app'")
        server = ThreadServer(app)
        target = type(app).__name__
    server.start()
    return Serving(server, target)
