"""Restarting a lab server as the kubelet restarts a container: SIGTERM, the grace period, SIGKILL, start again.

    restarter = Restarter(server, grace_s=manifest.grace_period_s)   # a server the lab started
    prober = Prober(server.url, specs, on_restart=restarter.on_restart)
    ...
    restarter.downtimes        # when each restart took the server down and when it answered again
    restarter.close()          # stops the server that runs now (the last one started)

Only for a server the lab started (`lab.launch`'s `ServerProcess`): the new one is the same app on the same
port, bound by this process and handed to the child as the first was, so the traffic, which keeps coming,
finds it at the same address; between the two, its connections are refused, as a real pod's are.

`ServerProcess.stop(grace_s)` already does the kubelet's sequence (SIGTERM to the whole process group, wait up
to the grace period, SIGKILL); this module adds the back-off wait, the restart on the same port, and the
record of each downtime, on the caller's clock, for the traffic engine to count what the restart lost.
A server that does not come back raises `ServerError` (one line) from `restart()`; called by the prober, it
reaches the caller of `Prober.stop()`.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from lab.errors import LabError
from lab.launch.process import ServerProcess, exit_status
from lab.load.kubelet import Decision
from lab.load.probes import DEFAULT_GRACE_S

__all__ = ["MAX_RESTARTS", "Downtime", "Restarter"]

MAX_RESTARTS = 20  # per run: beyond this the model still counts restarts, but no more processes are started


@dataclass(frozen=True)
class Downtime:
    """One restart: the server was down from `down_at` (SIGTERM sent) to `up_at` (answering again)."""

    number: int
    down_at: float  # on the Restarter's clock (time.monotonic unless told)
    up_at: float
    killed: bool  # it outlived the grace period and was SIGKILLed
    ended: str  # how the old process ended: "exit code 0", "killed by signal 9 (SIGKILL)"
    pid: int | None  # the new server's
    # When the new process was started on the port (the old one gone, the back-off waited): from then the port
    # takes connections again, though a server flooded by the waiting traffic may answer much later (`up_at`).
    started_at: float | None = None


class Restarter:
    """Restarts `server` on demand; `server` is the one running now (a new object after each restart)."""

    def __init__(
        self,
        server: ServerProcess,
        *,
        grace_s: float = DEFAULT_GRACE_S,
        clock: Callable[[], float] = time.monotonic,
        max_restarts: int = MAX_RESTARTS,
    ) -> None:
        if grace_s < 0:
            raise LabError(f"the grace period cannot be negative (got {grace_s:g} s)", usage=True)
        if not server.alive:
            raise LabError("--restart needs a server the lab started and that is running", usage=True)
        self.server = server
        self.grace_s = grace_s
        self.clock = clock
        self.max_restarts = max_restarts
        self.downtimes: list[Downtime] = []
        self.skipped = 0  # restarts asked for beyond max_restarts
        # Restarts whose new process never answered (one line each): kept here too, because the prober may have
        # stopped by then and its caller would never see the error.
        self.failures: list[str] = []
        self._closing = threading.Event()
        self._lock = threading.Lock()  # one restart at a time, and none once closing

    def on_restart(self, decision: Decision) -> None:
        """The prober's callback: restart with the kubelet's CrashLoopBackOff delay."""
        self.restart(backoff_s=decision.backoff_s)

    def restart(self, backoff_s: float = 0.0) -> Downtime | None:
        """SIGTERM, up to `grace_s`, SIGKILL; wait `backoff_s`; start the same app on the same port.

        None when nothing was restarted: past `max_restarts`, or closing.
        """
        with self._lock:
            if self._closing.is_set():
                return None
            if len(self.downtimes) >= self.max_restarts:
                self.skipped += 1
                return None
            old = self.server
            down_at = self.clock()
            old.stop(grace_s=self.grace_s)
            code = old.returncode
            # The back-off, cut short by close(): the run is over, the server still comes back (the caller stops it).
            self._closing.wait(backoff_s)
            started_at = self.clock()
            try:
                self.server = new = self._start_like(old)
            except LabError as exc:
                self.failures.append(f"restart {len(self.downtimes) + 1} failed: {exc}")
                raise
            downtime = Downtime(
                number=len(self.downtimes) + 1,
                down_at=down_at,
                up_at=self.clock(),
                killed=code == -signal.SIGKILL,
                ended=exit_status(code),
                pid=new.pid,
                started_at=started_at,
            )
            self.downtimes.append(downtime)
            return downtime

    @staticmethod
    def _start_like(old: ServerProcess) -> ServerProcess:
        """The same app, host, port and settings: the same kind of process (warm or cold) as before."""
        port = urlsplit(old.url).port
        new = type(old)(
            old.target,
            host=old.host,
            port=port or 0,
            workers=old.workers,
            startup_timeout_s=old.startup_timeout_s,
            env=dict(old.env),
            with_store=old.with_store,
        )
        return new.start()

    def close(self) -> None:
        """Stop the server that runs now; a restart under way finishes first (its back-off cut short)."""
        self._closing.set()
        with self._lock:
            self.server.stop()
