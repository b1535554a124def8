"""Containment: nothing a server process starts may outlive the lab, or the server's own stop().

What is contained, and how:

- **The lab dies (Ctrl-C, SIGTERM, SIGHUP, SIGKILL, a crashed kernel).** Every server process, and every
  uvicorn worker and process-pool worker under it, is told its parent's pid up front (`PARENT_ENV`)
  and calls `die_with_parent()` first thing: on Linux the kernel then SIGKILLs it the moment its parent
  dies (`PR_SET_PDEATHSIG`), and a parent that is already gone (`getppid()` no longer the pid it was
  told) ends it at once. Elsewhere a thread polls `getppid()` instead (`watch_parent`), which works
  while the process still runs Python bytecode now and then.
- **`stop()` on a server whose code spins, ignores SIGTERM or forks.** SIGTERM to its process group,
  SIGKILL after a short grace, then every descendant found by walking `/proc` (parent links) plus
  every process that still carries the server's marker (`MARK_ENV`, inherited by everything it
  starts), which catches a handler that daemonizes with fork-`setsid`-fork: the daemon leaves the
  process group, and the parent chain, but not its environment.
- **Orphans.** While it runs servers, the lab is a child subreaper (`PR_SET_CHILD_SUBREAPER`): a
  learner's double-forked daemon is reparented to the lab instead of init, and `kill_tree` reaps it.
- **Warm servers** (`lab.launch.warm`) are forks, not fresh interpreters, and `/proc/<pid>/environ` shows
  a process's *initial* environment block, which a fork copies from its parent: every fork of the warm
  host would show the host's. So the host starts with a placeholder mark of a mark's length
  (`MARK_PLACEHOLDER`) and each fork overwrites it in place with its own (`carry_mark`), first thing:
  from then on the fork and everything it forks carry its mark exactly as a cold server's processes do,
  and what it execs inherits the mark from `os.environ` as before. One mechanism for both kinds, read
  the same way by `members`. (Rewriting the command line instead would only name the fork, not what it
  forks without exec; pids reported back by the host would miss grandchildren; a cgroup needs
  privileges the lab does not require.) The host itself is a subreaper and dies with the lab (its
  parent death signal is SIGTERM, so it first ends every server and daemon it forked).

What is not: macOS and Windows have neither `PR_SET_PDEATHSIG`, subreapers, nor `/proc`. There the lab
relies on process groups and the `getppid()` watch only: a server whose loop spins in C code
survives the lab's SIGKILL, and a daemon that left the process group with `setsid` survives the
server. On Linux too, a daemon that clears its environment *and* outlives a SIGKILLed lab escapes
(that takes a cgroup, which the lab does not require).

This module imports nothing heavy: server processes call it before importing uvicorn or FastAPI. It sits
below both the launcher (`lab.launch`) and the server (`lab.server`): it is what the two sides of a
server process agree on, with the environment variables that carry it and how a process's end is told.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

_T = TypeVar("_T")

__all__ = [
    "EXIT_ORPHANED",
    "FORK_WORKERS_ENV",
    "MARK_ENV",
    "MARK_PLACEHOLDER",
    "PARENT_ENV",
    "Member",
    "SubreaperHold",
    "become_subreaper",
    "can_carry_marks",
    "carry_mark",
    "clip",
    "die_with_parent",
    "exit_status",
    "kill_tree",
    "members",
    "pool_worker",
    "spawn",
    "spawning_deaf_to_ctrl_c",
    "started",
    "watch_parent",
]

PARENT_ENV = "LAB_PARENT_PID"  # the pid that started this process: if it is gone, so are we
MARK_ENV = "LAB_SERVER_MARK"  # one value per server; every process it starts inherits it
MARK_PLACEHOLDER = "0" * 32  # in a warm host's environment: each fork writes its own mark over it (uuid4().hex)
EXIT_ORPHANED = 4  # the parent was gone before the child could ask the kernel to follow it
# Set in every warm fork's environment: a server with uvicorn workers forks them from its warm state, FastAPI
# and uvicorn imported, instead of spawning fresh interpreters that import it all again (~1.5 s each).
FORK_WORKERS_ENV = "LAB_FORK_WORKERS"
MESSAGE_LIMIT = 300  # characters of what a child said: a 1 MB print is not a message

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_PROC = Path("/proc")
# /proc/<pid>/stat fields 50 and 51 (Linux 3.5+): where the initial environment block starts and ends.
_ENV_START_FIELD, _ENV_END_FIELD = 50, 51


def _prctl(option: int, value: int) -> bool:
    """prctl(2) through libc; False where there is no such call (not Linux) or it failed."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(option, value, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def die_with_parent(parent_pid: int | None = None, sig: int = signal.SIGKILL) -> bool:
    """In a child: be sent `sig` (SIGKILL) when the parent dies; exit now if it already has.

    The order matters: the death signal first, then the check. A parent that dies after the check
    triggers the signal; one that died before it fails the check. Between the two nothing is missed.
    Returns whether the kernel will send it (Linux); elsewhere the caller needs `watch_parent`.
    """
    if parent_pid is None:
        parent_pid = parent_from_env()
    if parent_pid is None:
        return False
    armed = _prctl(_PR_SET_PDEATHSIG, sig)
    if os.getppid() != parent_pid:
        os._exit(EXIT_ORPHANED)
    return armed


def parent_from_env() -> int | None:
    try:
        return int(os.environ[PARENT_ENV])
    except (KeyError, ValueError):
        return None


def watch_parent(parent_pid: int, grace_s: float = 1.0, interval_s: float = 0.5) -> None:
    """The portable fallback: when the parent is gone, SIGTERM our process group, then SIGKILL it."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval_s)
        group = os.getpgid(0)
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGTERM)
        time.sleep(grace_s)  # reached only if SIGTERM did not end us: a loop that spins, a handler that hangs
        os.killpg(group, signal.SIGKILL)

    threading.Thread(target=watch, name="lab-parent-watch", daemon=True).start()


def spawn(start: Callable[..., _T], *args: Any, **kwargs: Any) -> Future[_T]:
    """Run `start` (a `subprocess.Popen`) on the one thread that starts every lab child process.

    PR_SET_PDEATHSIG follows the *thread* that forked the child, not the process: a server (or warm
    host) started from a short-lived thread, such as one of `lab check`'s pool, would be killed when
    that thread ends. This thread lives as long as the process.
    """
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            from concurrent.futures import ThreadPoolExecutor  # here: server processes import this module

            _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lab-spawn")
    return _spawner.submit(start, *args, **kwargs)


_spawner: ThreadPoolExecutor | None = None
_spawner_lock = threading.Lock()


def pool_worker(parent_pid: int) -> None:
    """`ProcessPoolExecutor(initializer=pool_worker, initargs=(os.getpid(),))`: a worker that dies with its server.

    Ctrl-C in a terminal reaches the whole foreground process group: the server stops its pool
    itself, so the workers ignore SIGINT instead of each printing a KeyboardInterrupt traceback.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent_pid)


@contextlib.contextmanager
def spawning_deaf_to_ctrl_c() -> Iterator[None]:
    """Processes started inside this block ignore SIGINT from their first instruction.

    Ctrl-C reaches the whole foreground process group, pool workers too: one still importing (before
    `pool_worker` runs) would print a KeyboardInterrupt traceback. An ignored signal stays ignored
    across exec (a blocked one does not survive multiprocessing's spawn), and Python keeps it so.
    This process ignores it too meanwhile: keep the block to the few milliseconds of starting them.
    Only the main thread may change handlers: elsewhere, as is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


@dataclass(frozen=True)
class Member:
    """A process, named by pid and start time (a pid alone can be reused once the process is gone)."""

    pid: int
    started: int


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time) from /proc/<pid>/stat, or None if it is gone."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command name can contain spaces and parentheses
    return fields[0], int(fields[1]), int(fields[19])


def _pids() -> list[int]:
    try:
        return [int(entry.name) for entry in _PROC.iterdir() if entry.name.isdigit()]
    except OSError:
        return []


def _carries(pid: int, marker: bytes) -> bool:
    try:
        return marker in (_PROC / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:  # gone, or another user's
        return False


def started(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot (None if it is gone)."""
    stat = _stat(pid)
    return stat[2] if stat is not None else None


def members(root: int, mark: str | None = None, since: int | None = None) -> set[Member]:
    """Every live descendant of `root` (root included), and every process carrying `MARK_ENV=mark`.

    `since` (a start time, as from `started`): only processes started since can carry the mark, and
    reading every other process's environment is most of the cost of a scan.
    """
    stats = {pid: stat for pid in _pids() if (stat := _stat(pid)) is not None}
    children: dict[int, list[int]] = {}
    for pid, (_, ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = [root] if root in stats else []
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    if mark is not None:
        marker = f"{MARK_ENV}={mark}".encode()
        found |= {
            pid
            for pid, (_, _, start) in stats.items()
            if pid not in found and (since is None or start >= since) and _carries(pid, marker)
        }
    return {Member(pid, stats[pid][2]) for pid in found}


def kill_tree(tree: set[Member], *, spare: int | None = None, timeout_s: float = 2.0) -> None:
    """SIGKILL every member still alive, and reap the ones that are (or became) our children.

    `spare` is the pid whose `Popen` object reaps it, so that its exit status stays its owner's.
    """
    me = os.getpid()
    pending = {m for m in tree if m.pid != me}
    pids = {m.pid for m in pending}
    deadline = time.monotonic() + timeout_s
    while pending:
        for member in list(pending):
            stat = _stat(member.pid)
            if stat is None or stat[2] != member.started:
                pending.discard(member)  # gone (or the pid was reused): nothing of ours left there
                continue
            state, ppid, _ = stat
            if state != "Z":
                with contextlib.suppress(OSError):
                    os.kill(member.pid, signal.SIGKILL)
            elif ppid == me and member.pid != spare:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(member.pid, os.WNOHANG)  # a zombie reparented to us: ours to reap
            elif ppid not in pids:
                pending.discard(member)  # dead, and its parent is outside the tree: not ours to reap
        if time.monotonic() > deadline:
            return  # bounded: what is left is not ours to kill (another user's, or uninterruptible)
        if pending:
            time.sleep(0.01)


def _environ_block() -> tuple[int, bytes] | None:
    """This process's initial environment block, as /proc shows it, and its address."""
    try:
        fields = (_PROC / "self" / "stat").read_text().rsplit(")", 1)[1].split()
        # fields[0] is field 3 (the state): field N is fields[N - 3].
        start, end = int(fields[_ENV_START_FIELD - 3]), int(fields[_ENV_END_FIELD - 3])
        block = (_PROC / "self" / "environ").read_bytes()
    except (OSError, IndexError, ValueError):
        return None
    # The same length as the range the kernel reads it from: the address is the block's.
    return (start, block) if end - start == len(block) else None


def _placeholder_at(block: bytes) -> int | None:
    """Where the placeholder's value starts in the block, if the block holds `MARK_ENV=MARK_PLACEHOLDER`."""
    entry = f"\0{MARK_ENV}={MARK_PLACEHOLDER}\0".encode()
    at = (b"\0" + block + b"\0").find(entry)
    return None if at < 0 else at + len(MARK_ENV) + 1


def can_carry_marks() -> bool:
    """For the warm host, once, before it forks: can each fork write its own mark over the placeholder?"""
    found = _environ_block()
    return found is not None and _placeholder_at(found[1]) is not None


def carry_mark(mark: str) -> bool:
    """In a fork of the warm host: show `MARK_ENV=mark` in /proc/self/environ from now on.

    /proc reads a process's initial environment block, which a fork shares with its parent and
    `os.environ` never changes: the host started with `MARK_PLACEHOLDER` there, and this writes the
    fork's own mark over it, in place (the same length: the block's bytes and C's `environ` stay
    valid). Everything the fork then forks copies the block; what it execs gets `os.environ`.
    True once /proc shows the new mark.
    """
    found = _environ_block()
    if found is None or len(mark.encode()) != len(MARK_PLACEHOLDER) or not mark.isalnum():
        return False
    start, block = found
    at = _placeholder_at(block)
    if at is None:
        return False
    ctypes.memmove(start + at, mark.encode(), len(MARK_PLACEHOLDER))
    try:
        return f"{MARK_ENV}={mark}".encode() in (_PROC / "self" / "environ").read_bytes().split(b"\0")
    except OSError:
        return False


def become_subreaper() -> bool:
    """For a process that starts servers for its whole life (the warm host): orphans of its subtree
    come back to it, not to init. False where the call does not exist (not Linux)."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


class SubreaperHold:
    """The lab is a child subreaper while at least one server is running (Linux only).

    Counted, because servers start and stop side by side from several threads; when the last one
    stops, orphans go back to the system's reaper, so a notebook kernel does not collect them forever.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0

    def acquire(self) -> None:
        with self._lock:
            if self._holders == 0:
                _prctl(_PR_SET_CHILD_SUBREAPER, 1)
            self._holders += 1

    def release(self) -> None:
        with self._lock:
            self._holders = max(0, self._holders - 1)
            if self._holders == 0:
                _prctl(_PR_SET_CHILD_SUBREAPER, 0)


def clip(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` cut at `limit` characters, with an ellipsis saying that it was."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def exit_status(code: int | None) -> str:
    """`exit code 3`, `killed by signal 11 (SIGSEGV)`: how a process ended, from its return code."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by signal {-code} ({signal.Signals(-code).name})"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def exited(child: Any) -> bool:
    """Whether `child` (a `subprocess.Popen`, or anything with `poll()`) has ended, read without reaping it
    and without taking `Popen`'s lock.

    For loops that Ctrl-C interrupts (waiting for a server to answer, asking the warm host if it lives):
    `Popen.poll()` takes its lock with `acquire(False)` and enters the `try` that releases it one bytecode
    later. A KeyboardInterrupt raised in between (Ctrl-C, or SIGTERM turned into one) leaves the lock held
    for good, and `stop()`'s `wait()` then waits for it for ever: the lab hangs where it should stop its
    server. `waitid(WNOWAIT)` holds nothing.
    """
    if not isinstance(child, subprocess.Popen) or not hasattr(os, "waitid"):
        return bool(child.poll() is not None)  # a warm fork's poll reads its pidfd; Windows' Popen takes no lock
    if child.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # reaped meanwhile by a `poll()` elsewhere
        return True
