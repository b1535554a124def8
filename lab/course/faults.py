"""What went wrong in the learner's process, named at its file and line.

Did not load (a traceback at import, `sys.exit`, a start-up that never ends), raised (HTTP 500 with a
traceback in the log), hung (a faulthandler dump shows where), crashed (the process, or one of its
workers, died: a fatal error's faulthandler dump names the frame), or left threads running the
learner's code after every response was sent. Each becomes one `Fault` with one line of text, bounded
in length (`lab.launch.process.clip`) whatever the learner's code printed.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import Future
from pathlib import Path

from lab.course.results import Fault, Run
from lab.errors import ServerError
from lab.launch.process import ServerProcess, clip, exit_status
from lab.load.fire import BURST_DEADLINE
from lab.server.host import WORKER_DIED

__all__ = ["FAULTHANDLER_ENV", "diagnose", "start_error"]

LEAK_SETTLE_S = 0.3  # after the burst, before asking which threads still run the learner's code
WORKER_NOTICE_S = 1.5  # uvicorn's supervisor looks at its workers every 0.5 s: time to say one died
FAULTHANDLER_ENV = {"PYTHONFAULTHANDLER": "1"}  # SIGABRT then dumps every thread's stack: where it hung


def start_error(server: ServerProcess, started: Future[ServerProcess], file: Path) -> str | None:
    """Why the server did not start, pointing into `file` when its output says where."""
    try:
        started.result()
    except ServerError as exc:
        message = clip(str(exc))
        if server.timed_out:
            where = _first_frame(server.log_text(), file) or file.name
            return clip(
                f"{where}: still starting after {server.startup_timeout_s:.0f} s: something at import or in the "
                "lifespan never finishes (a sleep, a lock, a wait for a server that is not there)"
            )
        if file.name in message:
            return message  # already `file:line: Kind: message` (lab.server.host's own report)
        log = server.log_text()
        site = _fatal_error(log, file) or _error_site(log, file)
        return clip(f"{site} (at start-up: {message})") if site else message
    return None


def diagnose(server: ServerProcess, run: Run, file: Path, solution: Run) -> Fault | None:
    """What went wrong with the learner's process, if anything, in order of how much it explains."""
    summary = run.summary
    unanswered = sum(summary.errors.get(kind, 0) for kind in (BURST_DEADLINE, "Timeout", "ReadTimeout"))
    if not server.alive:
        return Fault(
            "crash",
            f"{file.name}: the server process exited during the burst ({exit_status(server.returncode)}): something "
            f"in the code ended it (os._exit, sys.exit in a thread, a fatal error){_last_words(server, file)}",
        )
    if server.workers > 1 and summary.errors:  # failed connections, not answers: did a worker die?
        died = _worker_died(server)
        if died is not None:
            return Fault(
                "crash",
                f"{file.name}: {died}, and the requests it held failed with it: something in the code ended the "
                f"process (os._exit, a fatal error){_last_words(server, file, tail=False)}",
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


def _worker_died(server: ServerProcess) -> str | None:
    """The supervisor's line for a worker that died (`lab.server.host`), waiting for it a moment."""
    deadline = time.monotonic() + WORKER_NOTICE_S
    while True:
        line = next((line for line in server.log_text().splitlines() if line.startswith(WORKER_DIED)), None)
        if line is not None:
            return clip(line.removeprefix("lab: ").split(";")[0] + " during the burst")
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)


def _last_words(server: ServerProcess, file: Path, *, tail: bool = True) -> str:
    """`; its last words: ...`: a fatal error at the learner's frame, else its last traceback, else (`tail`)
    the last line it printed."""
    log = server.log_text()
    said = _fatal_error(log, file) or _error_site(log, file) or (server.log_tail() if tail else None)
    return clip(f"; its last words: {said}") if said else ""


def _fatal_error(log: str, file: Path) -> str | None:
    """`exercise.py:14 (in predict): Fatal Python error: Segmentation fault`, from faulthandler's report.

    Its last line lists the loaded extension modules, which says nothing: the frame and the error do.
    """
    lines = log.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Fatal Python error:")]
    if not starts:
        return None
    fatal = lines[starts[-1]].strip()
    where = _first_frame("\n".join(lines[starts[-1] :]), file)
    return f"{where}: {fatal}" if where else fatal


def _hang_site(server: ServerProcess, file: Path) -> str:
    """Where the stuck process is: the learner's frame nearest the top of any thread's stack."""
    return _first_frame(_dump_stacks(server), file) or file.name


def _dump_stacks(server: ServerProcess) -> str:
    """Every thread's stack, from faulthandler (PYTHONFAULTHANDLER) on SIGABRT. This ends the process:
    only for a server that is done with."""
    if server.pid is None:
        return ""
    server.dump_stacks()
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
