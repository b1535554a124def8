"""The room's guess, typed key by key into a live screen (or read as a plain line when not a terminal).

Key-by-key input uses termios: POSIX terminals only. Elsewhere, and when stdin is not a
terminal, a whole line is read instead.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

__all__ = ["read_keyboard_line"]


def read_keyboard_line(on_change: Callable[[str], None], limit: int = 40, timeout_s: float = 600.0) -> str | None:
    """One line from the keyboard, echoed through `on_change` (the live screen draws it); None at end of input.

    On a terminal the keys are read one by one, so the screen can show them; otherwise, a plain line.
    """
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.strip() if line else None
    import select
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)  # keys arrive one by one, unechoed; Ctrl-C still interrupts
    typed = ""
    deadline = time.monotonic() + timeout_s
    try:
        for _ in range(1_000):  # bounded: a line is a few keystrokes
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
            key = os.read(fd, 1).decode(errors="ignore")
            if key in ("\r", "\n"):
                return typed.strip()
            if key == "\x04":
                return None
            if key in ("\x7f", "\b"):
                typed = typed[:-1]
            elif key.isprintable() and len(typed) < limit:
                typed += key
            on_change(typed)
        return typed.strip()
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
