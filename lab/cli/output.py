"""How every `lab` command ends and prints: one line on stderr and exit 2 (usage) or 1 (failure).

    fail("no such thing", EXIT_USAGE)   # a mistake the command itself finds
    show(renderable)                    # rich output, guarded against a closed pipe or a full disk
    print_json(data)

A `LabError` raised by the layer a command calls needs nothing here: `lab.cli.usage.LabGroup` turns it
into the same one line. Commands print through these helpers only, so the exit codes and the guards are
the same everywhere.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "console",
    "fail",
    "guard_streams",
    "interrupt_on_sigterm",
    "print_json",
    "show",
    "warn",
]

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """One line on stderr, a non-zero exit: how every mistake ends."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    typer.echo(f"warning: {message}", err=True)


_stdout_closed = False  # fd 1 was closed when the command started (`lab ... >&-`)


def guard_streams() -> None:
    """Make the standard streams safe before a command runs.

    A closed fd 0, 1 or 2 (`>&-`) would be handed to the next socket the command opens: uvloop then aborts
    on an assertion (exit 134), and `print` would write into a connection. Each is held open on /dev/null;
    output meant for a closed stdout then ends in one line (`writable_stdout`). Text the terminal's encoding
    cannot show (`PYTHONIOENCODING=latin-1` and a check mark) is replaced, not a UnicodeEncodeError.
    """
    global _stdout_closed
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
            if null != fd:  # the lowest free number: the closed one itself, unless a lower one was closed too
                os.dup2(null, fd)
                os.close(null)
            if fd == 1:
                _stdout_closed = True
    if sys.stdout is None or _stdout_closed:
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115 - the process's stdout
    if sys.stderr is None:
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115 - the process's stderr
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")


def console() -> Console:
    from lab.view.theme import console

    return console()


def show(renderable: Any, on: Console | None = None, *, crop: bool = True) -> None:
    """Print a rich renderable (to `on`, or a new console on stdout); `crop=False` leaves lines wider than
    the console whole (source code: the terminal folds them, a pipe gets them as they are)."""
    with writable_stdout():
        (on or console()).print(renderable, crop=crop)


def print_json(data: Any) -> None:
    with writable_stdout():
        sys.stdout.write(json.dumps(data, indent=2) + "\n")


@contextmanager
def writable_stdout() -> Iterator[None]:
    """Output that cannot be written (a full disk, a closed pipe) ends in one line, not a traceback."""
    if _stdout_closed:
        fail("cannot write the output: standard output is closed")
    try:
        yield
        sys.stdout.flush()  # now, not at exit, where the error could no longer be reported well
    except OSError as exc:
        # Point fd 1 at /dev/null so that the interpreter's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        fail(f"cannot write the output: {exc.strerror or exc}")


@contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP (the terminal closed) into KeyboardInterrupt, so `with` blocks unwind
    and stop the servers they started, as after Ctrl-C."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
