"""What went wrong in the learner's process, named at its file and line.

Did not load (a traceback at import), raised (HTTP 500 with a traceback in the log), hung (a
faulthandler dump shows where), crashed (the process exited), or left threads running the
learner's code after every response was sent. Each becomes one `Fault` with one line of text.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from concurrent.futures import Future
from pathlib import Path

from lab.course.results import Fault, Run
from lab.errors import ServerError
from lab.launch.process import ServerProcess
from lab.load.fire import BURST_DEADLINE

__all__ = ["FAULTHANDLER_ENV", "diagnose", "group_threads", "start_error"]

LEAK_SETTLE_S = 0.3  # after the burst, before asking which threads still run the learner's code
FAULTHANDLER_ENV = {"PYTHONFAULTHANDLER": "1"}  # SIGABRT then dumps every thread's stack: where it hung


def start_error(server: ServerProcess, started: Future[ServerProcess], file: Path) -> str | None:
    """Why the server did not start, pointing into `file` when its output says where."""
    try:
        started.result()
    except ServerError as exc:
        message = str(exc)
        if file.name in message:
            return message  # already `file:line: Kind: message` (lab.server.host's own report)
        site = _error_site(server.log_text(), file)
        return f"{site} (at start-up: {message})" if site else message
    return None


def diagnose(server: ServerProcess, run: Run, file: Path, solution: Run) -> Fault | None:
    """What went wrong with the learner's process, if anything, in order of how much it explains."""
    summary = run.summary
    unanswered = sum(summary.errors.get(kind, 0) for kind in (BURST_DEADLINE, "Timeout", "ReadTimeout"))
    if not server.alive:
        tail = server.log_tail()
        said = f" (its last words: {tail})" if tail else ""
        return Fault(
            "crash",
            f"{file.name}: the server process exited during the burst{said}: "
            "something in the code ended it (os._exit, sys.exit in a thread, a fatal error)",
        )
    if unanswered:
        where = _hang_site(server, file)
        return Fault(
            "hang",
            f"{where}: {unanswered} of {summary.requests} requests got no answer within {run.timeout_s:.0f} s: "
            "the endpoint never returns, or takes far longer than the solution (an endless loop, a lock never "
            "released, a wait for nothing)",
        )
    errors = sum(n for code, n in summary.status_counts.items() if code.startswith("5"))
    if errors:
        where = _error_site(server.log_text(), file) or f"{file.name}: HTTP 500"
        return Fault("error", f"{where} ({errors} of {summary.requests} requests answered 5xx)")
    return _leak(server, run, file, solution)


def _hang_site(server: ServerProcess, file: Path) -> str:
    """Where the stuck process is: the learner's frame nearest the top of any thread's stack."""
    return _first_frame(_dump_stacks(server), file) or file.name


def _dump_stacks(server: ServerProcess) -> str:
    """Every thread's stack, from faulthandler (PYTHONFAULTHANDLER) on SIGABRT. This ends the process:
    only for a server that is done with."""
    if server.pid is None:
        return ""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(server.pid, signal.SIGABRT)
    deadline = time.monotonic() + 3
    while server.alive and time.monotonic() < deadline:
        time.sleep(0.02)
    return server.log_text()


def _leak(server: ServerProcess, run: Run, file: Path, solution: Run) -> Fault | None:
    """Threads still running the learner's code after every response was sent.

    Idle pool threads (AnyIO's, asyncio's executor) wait inside the standard library; a thread whose
    stack is in the learner's file is doing work nobody waits for. Only looked at when the burst left
    more new threads than the solution's did, after a short settle, so that work just finishing can.
    """
    grew = run.threads_after - run.threads_before
    if server.pid is None or grew <= 0 or grew <= solution.threads_after - solution.threads_before:
        return None
    time.sleep(LEAK_SETTLE_S)
    for stack in _thread_stacks(_dump_stacks(server)):
        where = _first_frame(stack, file)
        if where is not None:
            return Fault(
                "leak",
                f"{where}: still running in a thread after every response was sent: work your code started "
                "that nobody waits for (a thread started per request, or a timeout that abandoned its work)",
            )
    return None


def _thread_stacks(dump: str) -> list[str]:
    """The stacks of a faulthandler dump's other threads; the current thread is the signal handler's."""
    stacks = re.split(r"^(?=Thread 0x|Current thread 0x)", dump, flags=re.MULTILINE)
    return [stack for stack in stacks if stack.startswith("Thread 0x")]


def group_threads(pgid: int) -> int:
    """Threads of every process in the server's process group (workers included), from /proc."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            total += len(os.listdir(entry / "task"))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return total


_TRACEBACK_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')
_FAULTHANDLER_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<func>\S+)')
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Group|Warning)\b.*")


def _first_frame(dump: str, file: Path) -> str | None:
    """`exercise.py:14 (in predict)`: the learner's frame nearest the top of a faulthandler dump."""
    for line in dump.splitlines():
        match = _FAULTHANDLER_FRAME.match(line)
        if match and _same_file(match["file"], file):
            return f"{file.name}:{match['line']} (in {match['func']})"
    return None


def _error_site(log: str, file: Path) -> str | None:
    """`exercise.py:14 (in predict): ZeroDivisionError: division by zero` from the server's last traceback."""
    lines = log.splitlines()
    starts = [i for i, line in enumerate(lines) if "Traceback (most recent call last)" in line]
    if not starts:
        return None
    block = lines[starts[-1] :]
    site = None
    for line in block:
        match = _TRACEBACK_FRAME.match(line)
        if match and _same_file(match["file"], file):
            site = f"{file.name}:{match['line']} (in {match['func']})"  # keep the deepest
    exception = next((line.strip() for line in reversed(block) if _EXCEPTION_LINE.match(line)), None)
    if site is None and exception is None:
        return None
    return ": ".join(part for part in (site or file.name, exception) if part)


def _same_file(reported: str, file: Path) -> bool:
    try:
        return Path(reported).resolve() == file
    except OSError:
        return False
