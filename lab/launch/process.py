"""Server lifecycle: start a uvicorn server on a free loopback port, wait until it answers, stop it.

Two flavours, one interface (`.url`, context manager):

- `ServerProcess`: uvicorn in its own process. Used for every measurement and for learners' code:
  a learner's hang or crash can never take the lab down, and neither `stop()` nor the lab's own death
  leaves anything running (`lab.contain`: what is contained on which operating system).
- `ThreadServer`: uvicorn in a daemon thread of this process, with its own event loop. Used in
  notebooks (where the lab's own loop is Jupyter's) and for the fake downstream store.

The parent binds the socket itself and hands it over, so the port is known before the server
starts and no other program can take it in between.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Protocol, Self

from lab import contain
from lab.client import httpx
from lab.contain import MESSAGE_LIMIT as MESSAGE_LIMIT
from lab.contain import clip as clip
from lab.contain import exit_status as exit_status
from lab.contain import exited as exited
from lab.errors import ServerError
from lab.model import CALIBRATION_ENV, iterations_per_ms
from lab.protocol import STATS_PATH

# Below the server, so that server processes use them too; named here as well, where the lab starts servers.
from lab.serving import DEFAULT_HOST as DEFAULT_HOST
from lab.serving import ThreadServer as ThreadServer
from lab.serving import bind_socket as bind_socket
from lab.serving import url_of as url_of

if TYPE_CHECKING:
    import psutil

LAB_APP = "lab.server.app:app"  # the lab's own inference server, as an import string
READY_PATH = STATS_PATH
LOG_HEAD_BYTES = 64 * 1024  # of a child's output, kept from its start (where the first traceback is)
LOG_TAIL_BYTES = 256 * 1024  # and from its end (where it said why it died)
DUMP_WAIT_S = 1.0  # per process, for its stack dump to be written before the next one starts...
DUMP_BUDGET_S = 3.0  # ...and for all of them: a learner's server may have started many
STOP_GRACE_S = 2.0  # SIGTERM, then SIGKILL: a loop that spins never runs uvicorn's SIGTERM handler

_SUBREAPER = contain.SubreaperHold()


class Child(Protocol):
    """What `ServerProcess` uses of its child: a `subprocess.Popen`, or a warm host's fork (`lab.launch.warm`)."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


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
        self._mark = uuid.uuid4().hex  # in the env of everything this server starts: found and killed at stop
        self._holds_subreaper = False
        self.timed_out = False  # set when it never answered within startup_timeout_s
        self._started: int | None = None  # the child's start time: everything it starts is younger

    def start(self) -> Self:
        sock = bind_socket(self.host, self.port)
        self.url = url_of(sock)
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server; closed in stop()
        cmd = [sys.executable, "-m", "lab.server.host", self.target, "--fd", str(sock.fileno())]
        if self.workers > 1:
            cmd += ["--workers", str(self.workers)]
        if self.with_store:
            cmd.append("--with-store")
        env = {
            **os.environ,
            CALIBRATION_ENV: str(iterations_per_ms()),
            **self.env,
            contain.PARENT_ENV: str(os.getpid()),  # checked first thing in the child: is its parent still there?
            contain.MARK_ENV: self._mark,
        }
        _SUBREAPER.acquire()  # before the fork: a daemon the server starts at once must come back to us
        self._holds_subreaper = True
        # From the one long-lived spawning thread: the child's parent death signal follows that thread.
        spawned = contain.spawn(
            subprocess.Popen,
            cmd,
            pass_fds=(sock.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: stop() takes workers down too
        )
        try:
            self._proc = spawned.result()
            self._started = contain.started(self._proc.pid)
        except BaseException:  # Ctrl-C while forking: the child may exist all the same, so stop it too
            with contextlib.suppress(Exception):
                self._proc = spawned.result(timeout=5)
            self.stop(grace_s=0)
            raise
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
        with httpx.Client(timeout=1.0, verify=False, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self._proc is not None and exited(self._proc):
                    message = self.log_tail()
                    self.stop()  # reaps it: the return code is known from here on
                    code = self._proc.returncode if self._proc is not None else None
                    raise ServerError(
                        message or f"the server for {self.target} exited at start-up ({exit_status(code)})"
                    )
                try:
                    if client.get(self.url + READY_PATH).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
        self.timed_out = True
        self.dump_stacks()  # where it is stuck: the caller can name the line (lab.course.faults)
        self.stop()
        raise ServerError(f"the server for {self.target} did not answer within {self.startup_timeout_s:.0f} s")

    def dump_stacks(self) -> None:
        """SIGABRT: with PYTHONFAULTHANDLER set, each process prints every thread's stack, then dies.

        Every process of the group gets it, the others first (with uvicorn workers, the code that is stuck
        runs in a worker), and one at a time: dumps written at once to the one log interleave character by
        character, and no line can be read from them. Ends the server: only for one that is done with.
        """
        if self._proc is None or self.env.get("PYTHONFAULTHANDLER", os.environ.get("PYTHONFAULTHANDLER")) is None:
            return
        import psutil

        pgid = self._proc.pid
        deadline = time.monotonic() + DUMP_BUDGET_S
        for process in group_processes(pgid):
            if process.pid != pgid:
                with contextlib.suppress(psutil.Error):
                    process.send_signal(signal.SIGABRT)
                    _wait_gone(process, min(DUMP_WAIT_S, max(0.0, deadline - time.monotonic())))
        with contextlib.suppress(OSError):
            os.kill(pgid, signal.SIGABRT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(3)

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """How the process ended (negative: the signal that killed it); None while it runs."""
        return self._proc.poll() if self._proc is not None else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def log_tail(self) -> str:
        """The last meaningful line the child printed (usually the reason it died), cut to `MESSAGE_LIMIT`."""
        lines = [line.strip() for line in self.log_text().splitlines() if line.strip()]
        return clip(lines[-1]) if lines else ""

    def log_text(self) -> str:
        """Everything the child printed so far (or, once stopped, in all)."""
        if self._log is None:
            return self._last_log
        return read_bounded(self._log)

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """SIGTERM the whole process group, SIGKILL it after `grace_s`, then kill every descendant left.

        Descendants are taken before the server goes (its children are reparented when it dies) and again
        after, by marker, for what was forked meanwhile or escaped the group with `setsid`.
        """
        proc = self._proc
        if proc is not None:
            tree = contain.members(proc.pid, self._mark, self._started)
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(grace_s)
            _signal_group(proc.pid, signal.SIGKILL)  # a spinning server, workers, stray children
            proc.wait()
            contain.kill_tree(tree | contain.members(proc.pid, self._mark, self._started), spare=proc.pid)
        self._release_subreaper()
        if self._log is not None:
            self._last_log = self.log_text()
            self._log.close()
            self._log = None

    def _release_subreaper(self) -> None:
        if self._holds_subreaper:
            self._holds_subreaper = False
            _SUBREAPER.release()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def read_bounded(log: IO[bytes], head: int = LOG_HEAD_BYTES, tail: int = LOG_TAIL_BYTES) -> str:
    """A child's output, its start and its end only: a learner's server that prints in a loop must not
    make the lab read gigabytes. The start keeps the first traceback, the end the reason it died."""
    size = log.seek(0, os.SEEK_END)
    log.seek(0)
    if size <= head + tail:
        return log.read().decode(errors="replace")
    start = log.read(head).decode(errors="replace")
    log.seek(size - tail)
    end = log.read(tail).decode(errors="replace")
    return f"{start}\n[... {size - head - tail:,} bytes of output left out ...]\n{end}"


def group_processes(pgid: int) -> list[psutil.Process]:
    """The processes of a process group (a server's: its workers, pools and whatever its code started).

    psutil lists them on Linux, macOS and Windows alike (/proc exists only on Linux).
    """
    import psutil

    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):  # gone meanwhile, or not ours to read
            if os.getpgid(process.pid) == pgid:
                found.append(process)
    return found


def group_usage(pgid: int) -> tuple[int, float, float | None]:
    """The threads of a process group's processes, the CPU seconds (user and system) they have used, with
    what their exited children used (a pool's processes, uvicorn's workers), and the seconds their live
    threads have spent runnable but waiting for a CPU (`lab.run_queue`; None where Linux keeps no count)."""
    import psutil

    from lab.run_queue import threads_waited_for_cpu_s

    threads, cpu_s, waited_s = 0, 0.0, 0.0
    counted = False  # no process's threads had a count: not Linux
    for process in group_processes(pgid):
        with contextlib.suppress(psutil.Error):  # gone meanwhile
            with process.oneshot():
                threads += process.num_threads()
                times = process.cpu_times()
            cpu_s += times.user + times.system + times.children_user + times.children_system
            waited = threads_waited_for_cpu_s(process.pid)
            counted = counted or waited is not None
            waited_s += waited or 0.0
    return threads, cpu_s, waited_s if counted else None


def _wait_gone(process: psutil.Process, timeout_s: float) -> None:
    """Until `process` has exited (a zombie its parent has not reaped counts), at most `timeout_s`."""
    import psutil

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.Error:
            return
        time.sleep(0.02)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def python_file(target: str) -> Path | None:
    """The path, if `target` names a Python file rather than an import string."""
    return Path(target) if target.endswith(".py") else None
