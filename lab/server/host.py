"""The child process behind `ServerProcess`: load an app, instrument it, serve it on an inherited socket.

    python -m lab.server.host lab.server.app:app --fd 5
    python -m lab.server.host exercises/exercise_01_sleepy_endpoint.py --fd 5

Mistakes in the loaded code (a syntax error, a failing import, no `app`) end the process with
one line that names the file and line, which the parent shows to the learner as it is.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import signal
import socket
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import uvicorn

from lab.errors import LoadError
from lab.server.observability import instrument

TARGET_ENV = "LAB_TARGET"
STORE_URL_ENV = "LAB_STORE_URL"  # set for the loaded code when started with --with-store
EXIT_LOAD_ERROR = 3


def load_app(target: str) -> Any:
    """Import `module:attr`, or run a Python file and take its `app`, then instrument it."""
    if target.endswith(".py"):
        module = _import_file(Path(target))
        attr = "app"
    else:
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # anything the imported code raises is the learner's to see
            raise LoadError(_describe(exc, module_name)) from None
        attr = attr or "app"
    app = getattr(module, attr, None)
    if app is None:
        raise LoadError(f"{target}: no `{attr}` defined (expected a FastAPI app named `{attr}`)")
    try:
        return instrument(app)
    except TypeError as exc:
        raise LoadError(f"{target}: `{attr}` is not usable: {exc}") from None


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
    except Exception as exc:
        raise LoadError(_describe(exc, str(path))) from None
    return module


def _describe(exc: BaseException, where: str) -> str:
    """`file:line: Kind: message`, pointing at the deepest frame that is not the lab's own."""
    if isinstance(exc, SyntaxError):
        return f"{exc.filename or where}:{exc.lineno}: SyntaxError: {exc.msg}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "importlib" not in f.filename]
    frame = frames[-1] if frames else None
    place = f"{frame.filename}:{frame.lineno}" if frame else where
    return f"{place}: {type(exc).__name__}: {exc}"


def app_from_env() -> Any:
    """Factory for uvicorn's worker processes, which re-import the target by name."""
    return load_app(os.environ[TARGET_ENV])


def exit_with_parent(parent_pid: int, interval_s: float = 0.5) -> None:
    """End this server (its whole process group) if the lab process that started it dies.

    The server runs in its own session, so nothing else would stop it after a SIGKILLed parent
    or a crashed notebook kernel.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval_s)
        os.killpg(os.getpgid(0), signal.SIGTERM)

    threading.Thread(target=watch, name="lab-parent-watch", daemon=True).start()


# Lab servers speak HTTP only: ws="none" spares every server importing a websockets implementation.
SERVING: dict[str, Any] = {"log_level": "warning", "access_log": False, "timeout_graceful_shutdown": 2, "ws": "none"}


def warm_up() -> None:
    """Import, once, everything serving imports lazily, so that a warm host's forks do not (lab.launch.warm).

    Instrumenting a throw-away app and loading a uvicorn config pulls in FastAPI's routing and
    pydantic's schema machinery, uvicorn's protocol, loop and lifespan modules; the rest is what
    exercise files import. The HTTP client too: httpx2 imports its transport (httpcore, h11, the TLS
    trust store) only when a first client is made, which in a server happens on its event loop and
    showed as ~0.1-0.3 s of loop lag in checks of exercises that call the feature store. Nothing
    here starts a thread or opens a socket: the host forks.
    """
    import anyio._backends._asyncio  # noqa: F401 - what the first `to_thread` call would import
    import fastapi.concurrency  # noqa: F401
    import uvloop  # noqa: F401
    from fastapi import FastAPI

    import lab.model
    import lab.schemas
    import lab.workloads  # noqa: F401
    from lab.client import httpx

    httpx.Client().close()
    uvicorn.Config(instrument(FastAPI()), **SERVING).load()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.server.host")
    parser.add_argument("target")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--with-store", action="store_true", help="start a fake feature store first")
    args = parser.parse_args(argv)
    exit_with_parent(os.getppid())
    if args.with_store:
        # Its own thread and event loop: it keeps answering while the loaded app blocks its loop.
        from lab.launch.process import ThreadServer
        from lab.server.store import create_store

        os.environ[STORE_URL_ENV] = ThreadServer(create_store()).start().url
    try:
        app = load_app(args.target)
    except LoadError as exc:
        print(exc, flush=True)
        return EXIT_LOAD_ERROR
    serve(app, args.target, socket.socket(fileno=args.fd), args.workers)
    return 0


def serve(app: Any, target: str, sock: socket.socket, workers: int = 1) -> None:
    """Serve a loaded app on a socket that is already listening, until SIGINT or SIGTERM."""
    common: dict[str, Any] = SERVING
    if workers > 1:
        # Workers are separate processes: each imports the target again, by name, through the env.
        os.environ[TARGET_ENV] = target
        config = uvicorn.Config("lab.server.host:app_from_env", factory=True, workers=workers, **common)
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(uvicorn.Config(app, **common)).run(sockets=[sock])


if __name__ == "__main__":
    sys.exit(main())
