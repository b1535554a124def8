"""`WarmServerProcess`: a `ServerProcess` forked from the warm host (`lab.launch.warm`), not started cold.

    with server_process("exercises/exercise_01_sleepy_endpoint.py") as server:  # warm where it can be
        server.url

The fork runs `lab.server.host.main` exactly as `python -m lab.server.host` would, on a socket this
process bound, so readiness, logs, `alive` and `stop` (the whole process group, then SIGKILL) are
`ServerProcess`'s own, unchanged: only how the child comes to exist differs.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from typing import IO, Any, Self

from lab import contain
from lab.contain import FORK_WORKERS_ENV
from lab.errors import ServerError
from lab.launch.process import Child, ServerProcess
from lab.launch.warm import shared_host, warm_available
from lab.serving import bind_socket, url_of

__all__ = ["WarmServerProcess", "server_process"]


def server_process(target: str, **kwargs: Any) -> ServerProcess:
    """A `WarmServerProcess` where warm hosts work, else the cold `ServerProcess`: one interface."""
    if warm_available():
        return WarmServerProcess(target, **kwargs)
    return ServerProcess(target, **kwargs)


class WarmServerProcess(ServerProcess):
    """`ServerProcess`, forked from the shared warm host instead of started as a fresh interpreter.

    Everything but `start` is `ServerProcess`'s own: readiness, logs, `alive`, and `stop`, which ends
    the fork's whole process group.
    """

    def start(self) -> Self:
        argv = [self.target]
        if self.workers > 1:
            argv += ["--workers", str(self.workers)]
        if self.with_store:
            argv.append("--with-store")
        sock = bind_socket(self.host, self.port)
        self.url = url_of(sock)
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server; closed in stop()
        env = {
            **os.environ,
            **self.env,
            contain.MARK_ENV: self._mark,  # stop() finds everything the server starts by this mark
            FORK_WORKERS_ENV: "1",
        }
        with contextlib.suppress(ServerError):  # no host would start: _fork says so, and we start cold
            env[contain.PARENT_ENV] = str(shared_host().pid)  # the fork's parent: it dies with the host
        try:
            self._proc = _fork(argv, sock, self._log, env)
            if self._proc is not None:
                self._started = contain.started(self._proc.pid)
        finally:
            sock.close()  # the fork has its own copy
        if self._proc is None:  # no warm host would start: the learner must not pay for that
            self._log.close()
            self._log = None
            return super().start()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self


def _fork(argv: list[str], sock: socket.socket, log: IO[bytes], env: dict[str, str]) -> Child | None:
    """A fork of the shared host; a second host if the first died meanwhile; None if neither would."""
    for _ in range(2):
        try:
            return shared_host().fork(argv, sock, log, env)
        except ServerError:
            continue
    return None
