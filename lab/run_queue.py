"""What the OS's scheduler says about a thread: how long it has waited, runnable, for a CPU.

A late heartbeat or a slow burst is the code's doing only if the code had a CPU: Linux counts, per
thread, the time spent on a run queue (/proc/.../schedstat, second field, in ns). Elsewhere there is
no such count, and the callers say nothing about the machine.
"""

from __future__ import annotations

import os

__all__ = ["RunQueueClock", "run_queue_clock", "threads_waited_for_cpu_s", "waited_for_cpu_s"]


class RunQueueClock:
    """For one thread: seconds it has spent runnable but waiting for a CPU, so far (call it to read).

    Linux's scheduler counts it per thread (/proc/thread-self/schedstat, second field, in ns). Opened
    once by the thread it is for, read with pread: about a microsecond.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def __call__(self) -> float:
        try:
            return _waited_s(os.pread(self._fd, 64, 0))
        except (OSError, IndexError, ValueError):
            return 0.0

    def close(self) -> None:
        os.close(self._fd)


def run_queue_clock() -> RunQueueClock | None:
    """The calling thread's run-queue clock; None where there is no such file (macOS, Windows)."""
    try:
        return RunQueueClock(os.open("/proc/thread-self/schedstat", os.O_RDONLY))
    except OSError:
        return None


def waited_for_cpu_s(pid: int) -> float | None:
    """Seconds process `pid`'s main thread (a uvicorn server's event loop) has spent runnable, waiting for a
    CPU, so far; None where Linux's schedstat is missing, or the process is gone."""
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as file:
            return _waited_s(file.read())
    except (OSError, IndexError, ValueError):
        return None


def threads_waited_for_cpu_s(pid: int) -> float | None:
    """Seconds all of process `pid`'s live threads have spent runnable, waiting for a CPU, so far (a thread
    that has exited takes its count with it); None where Linux's schedstat is missing, or the process is gone.

    A thread that computes is either on a CPU or waiting for one: its CPU time plus this wait is its
    whole time, however busy the machine. A thread that waits (a sleep, a socket) is neither.
    """
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    waited_s = 0.0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as file:
                waited_s += _waited_s(file.read())
        except (OSError, IndexError, ValueError):  # the thread ended meanwhile
            continue
    return waited_s


def _waited_s(schedstat: bytes) -> float:
    """The run-queue wait in a schedstat line (`on-cpu-ns waited-ns timeslices`), in seconds."""
    return int(schedstat.split()[1]) / 1e9
