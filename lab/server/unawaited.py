"""Coroutines that were created and never awaited, named at the line that created them.

`asyncio.sleep(0.2)` without `await` does nothing: the coroutine object is made and dropped, and the
handler returns at once, which looks exactly like a perfect fix. Python notices when the object is
garbage-collected and issues a RuntimeWarning; with coroutine origin tracking on (one frame deep:
cheap), the warning says where the coroutine was created. This module turns those warnings into
`UnawaitedCoroutine` records in the server's instruments, shown in `/lab/stats`.
"""

from __future__ import annotations

import linecache
import re
import sys
import warnings
from typing import TextIO

from lab.instruments import Instruments
from lab.protocol import UnawaitedCoroutine

__all__ = ["parse_warning", "watch_unawaited"]

_NEVER_AWAITED = re.compile(r"coroutine '(?P<name>[^']+)' was never awaited")
_watching = False
_ORIGIN = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<function>\S+)')


def parse_warning(message: str, filename: str, lineno: int) -> UnawaitedCoroutine | None:
    """The coroutine and where it was created, from a "was never awaited" RuntimeWarning; else None."""
    named = _NEVER_AWAITED.search(message)
    if named is None:
        return None
    origins = _ORIGIN.findall(message)
    file, line, function = origins[-1] if origins else (filename, str(lineno), "?")
    code = linecache.getline(file, int(line)).strip()
    return UnawaitedCoroutine(named["name"], file, int(line), function, code, 1)


def watch_unawaited(instruments: Instruments) -> None:
    """From now on, record every never-awaited coroutine of this process in `instruments`.

    Other warnings still go where they went before. Once per process: a second call does nothing.
    """
    global _watching
    if _watching:
        return
    _watching = True
    sys.set_coroutine_origin_tracking_depth(max(1, sys.get_coroutine_origin_tracking_depth()))
    warnings.filterwarnings("always", message="coroutine .* was never awaited", category=RuntimeWarning)
    shown = warnings.showwarning

    def showwarning(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        found = parse_warning(str(message), filename, lineno) if issubclass(category, RuntimeWarning) else None
        if found is not None:
            instruments.note_unawaited(found)
        shown(message, category, filename, lineno, file, line)

    warnings.showwarning = showwarning
