"""Serving on a socket this process bound: the socket, its URL, and an ASGI app run in a thread (`ThreadServer`).

Below both the lab's launcher (`lab.launch`, which starts servers) and the server (`lab.server`, which
runs the fake feature store in a thread of its own process): each binds and serves the same way.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Self

from lab.errors import ServerError

if TYPE_CHECKING:
    import uvicorn

__all__ = ["DEFAULT_HOST", "ThreadServer", "bind_socket", "url_of"]

DEFAULT_HOST = "127.0.0.1"


def bind_socket(host: str = DEFAULT_HOST, port: int = 0) -> socket.socket:
    """A listening TCP socket; port 0 lets the kernel choose a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServerError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)  # uvicorn's default backlog: a smaller one adds SYN retransmits to bursts
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class ThreadServer:
    """`with ThreadServer(app) as server: server.url` runs an ASGI app in a background thread.

    The thread has its own event loop, so it works inside Jupyter, and it keeps answering when
    the caller's loop is blocked.
    """

    def __init__(self, app: object, *, host: str = DEFAULT_HOST, port: int = 0, startup_timeout_s: float = 30.0):
        self.app = app
        self.host = host
        self.port = port
        self.startup_timeout_s = startup_timeout_s
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        sock = bind_socket(self.host, self.port)
        self.url = url_of(sock)
        import uvicorn  # here, not at the top: a `lab check` process starts servers but never runs one

        # No log_config, log_level or access_log: each makes uvicorn reconfigure its global loggers, and the
        # fake store starts inside the lab app's lifespan: the uvicorn serving that app (`uvicorn lab.server.app:app`,
        # `fastapi dev`) would lose its "startup complete" line and its access log.
        config = uvicorn.Config(self.app, log_config=None, log_level=None)  # type: ignore[arg-type]
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout_s
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise ServerError(f"the in-thread server did not start within {self.startup_timeout_s:.0f} s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
