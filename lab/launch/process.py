"""Server lifecycle: start a uvicorn server on a free loopback port, wait until it answers, stop it.

Two flavours, one interface (`.url`, context manager):

- `ServerProcess`: uvicorn in its own process. Used for every measurement and for learners' code:
  a learner's hang or crash can never take the lab down, and killing the process group leaves
  nothing running.
- `ThreadServer`: uvicorn in a daemon thread of this process, with its own event loop. Used in
  notebooks (where the lab's own loop is Jupyter's) and for the fake downstream store.

The parent binds the socket itself and hands it over, so the port is known before the server
starts and no other program can take it in between.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Protocol, Self

from lab.client import httpx
from lab.errors import ServerError
from lab.model import CALIBRATION_ENV, iterations_per_ms
from lab.protocol import STATS_PATH

if TYPE_CHECKING:
    import uvicorn

DEFAULT_HOST = "127.0.0.1"
LAB_APP = "lab.server.app:app"  # the lab's own inference server, as an import string
READY_PATH = STATS_PATH


class Child(Protocol):
    """What `ServerProcess` uses of its child: a `subprocess.Popen`, or a warm host's fork (`lab.launch.warm`)."""

    pid: int

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


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


class ServerProcess:
    """`with ServerProcess("lab.server.app:app") as server: server.url` runs a lab server in a child process.

    `target` is an import string (`module:attr`) or the path of a Python file defining `app`.
    Every FastAPI app is instrumented in the child (timing, loop lag, `/lab/stats`).
    """

    def __init__(
        self,
        target: str = LAB_APP,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        workers: int = 1,
        startup_timeout_s: float = 30.0,
        env: dict[str, str] | None = None,
        with_store: bool = False,
    ) -> None:
        self.target = target
        self.host = host
        self.port = port
        self.workers = workers
        self.startup_timeout_s = startup_timeout_s
        self.env = env or {}
        self.with_store = with_store  # start the fake feature store beside the app (LAB_STORE_URL)
        self.url = ""
        self._proc: Child | None = None
        self._log: IO[bytes] | None = None
        self._last_log = ""  # what the child printed, kept after stop(): a traceback says where it died

    def start(self) -> Self:
        sock = bind_socket(self.host, self.port)
        self.url = url_of(sock)
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server; closed in stop()
        cmd = [sys.executable, "-m", "lab.server.host", self.target, "--fd", str(sock.fileno())]
        if self.workers > 1:
            cmd += ["--workers", str(self.workers)]
        if self.with_store:
            cmd.append("--with-store")
        try:
            self._proc = subprocess.Popen(
                cmd,
                pass_fds=(sock.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env={**os.environ, CALIBRATION_ENV: str(iterations_per_ms()), **self.env},
                start_new_session=True,  # its own process group: stop() takes workers down too
            )
        finally:
            sock.close()  # the child has its own copy
        try:
            self._wait_ready()
        except BaseException:  # Ctrl-C while waiting too: `with` never called __exit__, so stop here
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        # verify=False: plain HTTP on loopback, and loading the CA bundle costs ~35 ms per start.
        with httpx.Client(timeout=1.0, verify=False) as client:
            while time.monotonic() < deadline:
                if not self.alive:
                    message = self.log_tail()
                    self.stop()
                    raise ServerError(message or f"the server for {self.target} exited at start-up")
                try:
                    if client.get(self.url + READY_PATH).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
        self.stop()
        raise ServerError(f"the server for {self.target} did not answer within {self.startup_timeout_s:.0f} s")

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def log_tail(self) -> str:
        """The last meaningful line the child printed: usually the reason it died."""
        lines = [line.strip() for line in self.log_text().splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def log_text(self) -> str:
        """Everything the child printed so far (or, once stopped, in all)."""
        if self._log is None:
            return self._last_log
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM the whole process group, then SIGKILL whatever is left after `grace_s`."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc is not None:
            _signal_group(proc.pid, signal.SIGKILL)  # workers or stray children the learner left behind
        if self._log is not None:
            self._last_log = self.log_text()
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


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

        config = uvicorn.Config(self.app, log_level="warning", access_log=False)  # type: ignore[arg-type]
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


def python_file(target: str) -> Path | None:
    """The path, if `target` names a Python file rather than an import string."""
    return Path(target) if target.endswith(".py") else None
