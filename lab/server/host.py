"""The child process behind `ServerProcess`: load an app, instrument it, serve it on an inherited socket.

    python -m lab.server.host lab.server.app:app --fd 5
    python -m lab.server.host exercises/exercise_01_sleepy_endpoint.py --fd 5

Mistakes in the loaded code (a syntax error, a failing import, `sys.exit` at import, no `app`) end
the process with one line that names the file and line, which the parent shows to the learner as it is.

Before anything heavy is imported, the process asks to die with the lab (`lab.contain`): the
imports take most of a second, and a lab killed in that second must not leave this server behind.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import importlib.util
import inspect
import os
import signal
import socket
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from lab import contain
from lab.contain import FORK_WORKERS_ENV
from lab.errors import LoadError

TARGET_ENV = "LAB_TARGET"
STORE_URL_ENV = "LAB_STORE_URL"  # set for the loaded code when started with --with-store
EXIT_LOAD_ERROR = 3
WORKER_DIED = "lab: a worker process died"  # the supervisor's line, which lab.course.faults looks for


def load_app(target: str) -> Any:
    """Import `module:attr` (from the current directory, as uvicorn does), or run a Python file and take
    its `app`, then instrument it."""
    from lab.server.observability import instrument  # FastAPI: heavy, so only once the process is contained

    if target.endswith(".py"):
        module = _import_file(Path(target))
        attr = "app"
    else:
        module_name, _, attr = target.partition(":")
        if os.getcwd() not in sys.path:  # as uvicorn does (`--app-dir .`): `main:app` is found from here
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(module_name)
        except (Exception, SystemExit) as exc:  # anything the imported code raises is the learner's to see
            raise LoadError(_describe(exc, module_name)) from None
        attr = attr or "app"
    app = getattr(module, attr, None)
    if app is None:
        raise LoadError(f"{target}: no `{attr}` defined (expected a FastAPI app named `{attr}`)")
    app = _made_if_factory(app, target, attr)
    try:
        return instrument(app)
    except TypeError as exc:
        raise LoadError(f"{target}: `{attr}` is not usable: {exc}") from None


def _made_if_factory(app: Any, target: str, attr: str) -> Any:
    """`main:create_app`, a factory as `uvicorn --factory` takes one: a plain function that needs no argument
    and returns the app. Told apart by its signature, so no flag is needed: an ASGI app written as a function
    takes three (scope, receive, send), and a FastAPI app is an object, not a function."""
    if not inspect.isfunction(app) or any(
        p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in inspect.signature(app).parameters.values()
    ):
        return app
    try:
        made = app()
    except (Exception, SystemExit) as exc:  # the factory is the user's code: its error is theirs to see
        raise LoadError(_describe(exc, target)) from None
    if inspect.isawaitable(made):
        with contextlib.suppress(AttributeError):
            made.close()  # type: ignore[attr-defined]  # a coroutine never awaited: no warning about it
        raise LoadError(f"{target}: `{attr}()` is async: a factory must return the app itself")
    return made


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise LoadError(f"{path}: no such file")
    sys.path.insert(0, str(path.parent.resolve()))  # so the file can import its neighbours
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # SystemExit too: `sys.exit()` at import must not end us silently
        raise LoadError(_describe(exc, str(path))) from None
    return module


def _describe(exc: BaseException, where: str) -> str:
    """`file:line: Kind: message`, pointing at the deepest frame of the user's own code.

    Not a library's: `anyio.to_thread.current_default_thread_limiter()` called at import fails deep
    inside AnyIO, but the line to change is the one that called it.
    """
    if isinstance(exc, SyntaxError):
        return f"{exc.filename or where}:{exc.lineno}: SyntaxError: {exc.msg}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "importlib" not in f.filename]
    own = [f for f in frames if not _is_library(f.filename)]
    if not own and isinstance(exc, ModuleNotFoundError) and exc.name and where.startswith(exc.name):
        return f"{where}: {type(exc).__name__}: {exc} (run it from the folder that holds it, as uvicorn would)"
    place = f"{own[-1].filename}:{own[-1].lineno}" if own else where
    if isinstance(exc, SystemExit):
        return f"{place}: sys.exit({exc.code!r}) at import: the module ended the process while it was loading"
    return f"{place}: {type(exc).__name__}: {one_line(str(exc))}"


def one_line(text: str) -> str:
    """Every line of a message, joined (the parent reads one line), and cut to a bounded length."""
    return contain.clip(" / ".join(line.strip() for line in text.splitlines() if line.strip()))


def _is_library(filename: str) -> bool:
    """Library code as the watchdog sees it, or the lab's own server machinery (this folder)."""
    from lab.server.watchdog import is_library_file

    return is_library_file(filename) or Path(filename).resolve().is_relative_to(Path(__file__).resolve().parent)


def app_from_env() -> Any:
    """Factory for uvicorn's worker processes, which import the target themselves, by name.

    A target that does not load ends the worker with its one line and uvicorn's start-up failure code:
    the supervisor then stops (lab's `Supervisor`), rather than starting the same failure again.
    """
    contain.die_with_parent()  # the supervisor's pid, set in `serve`: workers die with it, even SIGKILLed
    try:
        return load_app(os.environ[TARGET_ENV])
    except LoadError as exc:
        print(exc, flush=True)
        sys.exit(EXIT_LOAD_ERROR)


# Lab servers speak HTTP only: ws="none" spares every server importing a websockets implementation.
SERVING: dict[str, Any] = {"log_level": "warning", "access_log": False, "timeout_graceful_shutdown": 1, "ws": "none"}


def warm_up(argv: list[str] | None = None) -> None:
    """Import, once, everything serving imports lazily, so that a warm host's forks do not (lab.launch.warm).

    The host calls it once as it starts, and again with each server's `argv` before forking it.
    Instrumenting a throw-away app and loading a uvicorn config pulls in FastAPI's routing and
    pydantic's schema machinery, uvicorn's protocol, loop and lifespan modules; the rest is what
    exercise files import. Nothing here starts a thread or opens a socket: the host forks.
    """
    _warm_serving()
    if argv is not None and "--with-store" in argv:
        _warm_http_client()


@functools.cache
def _warm_serving() -> None:
    import anyio._backends._asyncio  # noqa: F401 - what the first `to_thread` call would import
    import fastapi.concurrency  # noqa: F401
    import uvicorn
    import uvloop  # noqa: F401
    from fastapi import FastAPI

    import lab.model
    import lab.schemas
    import lab.workloads
    from lab.server.observability import instrument

    uvicorn.Config(instrument(FastAPI()), **SERVING).load()
    # The CPU work's burn rate, measured once here: every fork inherits it, so a check's two servers do
    # equal work, and the lab process, busy importing its own side meanwhile, need not measure it.
    lab.model.iterations_per_ms()


@functools.cache
def _warm_http_client() -> None:
    """For servers that call the feature store: httpx2 imports its transport (httpcore, h11, the TLS trust
    store) only when a first client is made, which in a server happens on its event loop and showed as
    ~0.1-0.3 s of loop lag. Only for them: it is ~0.1 s of every other start on a 2-core machine."""
    from lab.client import httpx

    httpx.Client().close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.server.host")
    parser.add_argument("target")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--with-store", action="store_true", help="start a fake feature store first")
    args = parser.parse_args(argv)
    parent = contain.parent_from_env()
    # Linux: the kernel kills us with the lab. Elsewhere a thread notices, and ends our whole process
    # group (not on Linux: a thread would keep uvicorn's workers from being forked from here).
    if parent is not None and not contain.die_with_parent(parent):
        contain.watch_parent(parent)
    from lab.model import CALIBRATION_ENV, iterations_per_ms

    # For the processes it spawns (a learner's process pool imports lab.model afresh): the burn rate
    # this server was given, or inherited from its warm host, so that they all do equal work.
    os.environ[CALIBRATION_ENV] = str(iterations_per_ms())
    if args.with_store:
        # Its own thread and event loop: it keeps answering while the loaded app blocks its loop.
        from lab.server.store import create_store
        from lab.serving import ThreadServer

        os.environ[STORE_URL_ENV] = ThreadServer(create_store()).start().url
    sock = socket.socket(fileno=args.fd)
    # Forked workers import the target themselves: this process must not have (nor started a thread,
    # which a fork would copy without). Where it can't fork them, it loads the target first, so a
    # mistake is reported once, before any worker starts.
    fork = args.workers > 1 and os.environ.get(FORK_WORKERS_ENV) == "1" and threading.active_count() == 1
    if fork:
        return serve(None, args.target, sock, args.workers, fork=True)
    try:
        app = load_app(args.target)
    except LoadError as exc:
        print(exc, flush=True)
        return EXIT_LOAD_ERROR
    return serve(app, args.target, sock, args.workers)


def serve(app: Any, target: str, sock: socket.socket, workers: int = 1, *, fork: bool = False) -> int:
    """Serve a loaded app on a socket that is already listening, until SIGINT, SIGTERM or SIGHUP.

    SIGHUP (the terminal closed) stops the server like SIGTERM: uvicorn's default would restart the
    workers, or end the process without stopping its process pool. With `workers` > 1, `fork`: the
    workers are forks of this process (which must not have loaded the target, nor started a thread).
    Returns `EXIT_LOAD_ERROR` when a worker could not load the target (it printed why), else 0.
    """
    import uvicorn

    # Graceful shutdown gets 1 s (SERVING): the lab's stop() SIGKILLs after 2 s (`lab.launch.process.STOP_GRACE_S`).
    common: dict[str, Any] = SERVING
    if workers > 1:
        # Workers are separate processes: each imports the target again, by name, through the env.
        os.environ[TARGET_ENV] = target
        os.environ[contain.PARENT_ENV] = str(os.getpid())  # each worker dies with this supervisor
        config = uvicorn.Config("lab.server.host:app_from_env", factory=True, workers=workers, **common)
        return EXIT_LOAD_ERROR if _supervise(config, sock, fork) else 0
    signal.signal(signal.SIGHUP, lambda signum, frame: signal.raise_signal(signal.SIGTERM))
    uvicorn.Server(uvicorn.Config(app, **common)).run(sockets=[sock])
    return 0


def _supervise(config: Any, sock: socket.socket, fork: bool) -> bool:
    """Run uvicorn's worker supervisor, saying when a worker dies (it restarts it silently) and ending on
    SIGHUP. True when it stopped because a worker could not load the target."""
    from uvicorn.supervisors import Multiprocess

    if fork:
        import multiprocessing

        import uvicorn._subprocess

        # uvicorn starts every worker through this one context (spawn): a fork of this process has
        # everything but the learner's module imported already. Only this process is changed.
        uvicorn._subprocess.spawn = multiprocessing.get_context("fork")  # type: ignore[assignment]

    class Supervisor(Multiprocess):
        load_failed = False

        # Workers start deaf to Ctrl-C (uvicorn's own handler takes over once they serve): one still
        # importing would print a KeyboardInterrupt traceback. The supervisor stops them with SIGTERM.
        def init_processes(self) -> None:
            with contain.spawning_deaf_to_ctrl_c():
                super().init_processes()

        def keep_subprocess_alive(self) -> None:
            if any(process.exitcode == EXIT_LOAD_ERROR for process in self.processes):
                # The worker printed why as its last line; uvicorn would print a line of its own after it.
                self.load_failed = True
                self.should_exit.set()
                return
            before = {process.pid: process for process in self.processes}
            super().keep_subprocess_alive()
            for pid, process in before.items():
                if process not in self.processes and not self.should_exit.is_set():
                    how = contain.exit_status(process.exitcode)
                    print(f"{WORKER_DIED} [{pid}] ({how}); uvicorn started another", flush=True)

        def handle_hup(self) -> None:
            self.should_exit.set()

    supervisor = Supervisor(config, sockets=[sock])
    supervisor.run()
    return supervisor.load_failed


if __name__ == "__main__":
    sys.exit(main())
