"""`lab watch`: check the current exercise every time its file is saved; move on when it passes.

    watch_exercises(catalog, store, start, report=print_result)

File events come from watchfiles (inotify and friends). Where they never arrive (some network and
container file systems, WSL on Windows drives), `poll=True` makes it look at the file's mtime
instead; watchfiles also honours `WATCHFILES_FORCE_POLLING=1`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from lab.catalog import Catalog, Exercise
from lab.checker import CheckResult, check_exercise
from lab.progress import ProgressStore, next_open, record

DEBOUNCE_MS = 300  # editors save in several writes; one check per save
POLL_DELAY_MS = 300


def watch_exercises(
    catalog: Catalog,
    store: ProgressStore,
    start: Exercise,
    *,
    report: Callable[[CheckResult], None],
    announce: Callable[[Exercise], None] = lambda exercise: None,
    poll: bool | None = None,
    stop: threading.Event | None = None,
) -> bool:
    """Check `start` now and on every save; True when every exercise is done, False when stopped."""
    exercise: Exercise | None = start
    stop = stop or threading.Event()
    while exercise is not None and not stop.is_set():
        announce(exercise)
        result = check_exercise(exercise)
        report(result)
        progress = record(store, catalog, exercise, result.passed)
        if result.passed:
            exercise = next_open(catalog, progress, after=exercise)
            continue
        if not _saved(exercise.path, poll, stop):
            return False
    return exercise is None


def _saved(path: Path, poll: bool | None, stop: threading.Event) -> bool:
    """Block until `path` changes (True) or until stopped / Ctrl-C (False)."""
    import logging

    import watchfiles

    logging.getLogger("watchfiles").setLevel(logging.ERROR)  # the lab says "Stopped watching." itself
    # Watch the folder, not the file: editors that save by renaming a new file over the old one
    # would otherwise leave the watch on a file that no longer exists.
    changes = watchfiles.watch(
        path.parent,
        watch_filter=lambda change, changed: Path(changed).name == path.name,
        debounce=DEBOUNCE_MS,
        stop_event=stop,
        raise_interrupt=False,
        force_polling=poll,
        poll_delay_ms=POLL_DELAY_MS,
        recursive=False,
    )
    # A change that left no file (deleted, or mid-rename) waits for the next one.
    return any(path.is_file() for _ in changes)
