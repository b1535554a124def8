"""`lab watch`: check the current exercise every time its file is saved; move on when it passes.

    watch_exercises(catalog, store, start, report=print_result)

File events come from watchfiles (inotify and friends). Where they never arrive (some network and
container file systems, WSL on Windows drives), the watch still wakes every second and compares the
file's modification stamp itself, so a save is never missed; `poll=True` (or
`WATCHFILES_FORCE_POLLING=1`) makes watchfiles poll too, and `lab watch` chooses it by itself where the
exercise lives on a file system known to send no events (`polling_reason`: WSL's drvfs and 9p, NFS, SMB, ...).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

from lab.course.catalog import Catalog, Exercise
from lab.course.check import check_exercise
from lab.course.progress import ProgressStore, next_open, record
from lab.course.results import CheckResult

DEBOUNCE_MS = 300  # editors save in several writes; one check per save
POLL_DELAY_MS = 300
STAMP_CHECK_MS = 1000  # the fallback: how often the file's stamp is compared when no event arrives

Stamp = tuple[int, int, int] | None

# File systems whose changes never reach inotify (made on another machine, or by the Windows side of WSL).
NO_EVENTS = frozenset(
    {"9p", "drvfs", "nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "vboxsf", "prl_fs", "fuse.vmhgfs-fuse"}
)
MOUNTS = Path("/proc/mounts")
_OCTAL = re.compile(r"\\([0-7]{3})")  # how /proc/mounts writes a space, a tab, a backslash in a mount point


def mount_type(path: Path, mounts: str) -> str | None:
    """The file system type of the mount that holds `path` (the longest mount point above it), from the text
    of /proc/mounts (octal escapes such as `\\040` for a space decoded); None when no line applies."""
    best: tuple[int, str] | None = None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = Path(_OCTAL.sub(lambda match: chr(int(match[1], 8)), fields[1]))
        if (path == point or point in path.parents) and (best is None or len(point.parts) > best[0]):
            best = (len(point.parts), fields[2])
    return None if best is None else best[1]


def polling_reason(path: Path, mounts: Path = MOUNTS) -> str | None:
    """Why saves to `path` must be polled for (its file system sends no change events), or None."""
    try:
        kind = mount_type(path.resolve(), mounts.read_text(encoding="utf-8", errors="replace"))
    except OSError:  # no /proc (macOS): events work there
        return None
    if kind in NO_EVENTS:
        return f"{path.parent} is on a {kind} file system, which sends no change events"
    return None


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
        before = _stamp(exercise.path)  # a save during the check counts too
        result = check_exercise(exercise)
        report(result)
        progress = record(store, catalog, exercise, result.passed)
        if result.passed:
            exercise = next_open(catalog, progress, after=exercise)
            continue
        if not _saved(exercise.path, before, poll, stop):
            return False
    return exercise is None


def _stamp(path: Path) -> Stamp:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def _saved(path: Path, before: Stamp, poll: bool | None, stop: threading.Event) -> bool:
    """Block until `path` differs from `before` (True) or until stopped / Ctrl-C (False)."""
    import logging

    import watchfiles

    logging.getLogger("watchfiles").setLevel(logging.ERROR)  # the lab says "Stopped watching." itself
    # Watch the folder, not the file: editors that save by renaming a new file over the old one
    # would otherwise leave the watch on a file that no longer exists.
    wakes = watchfiles.watch(
        path.parent,
        watch_filter=lambda change, changed: Path(changed).name == path.name,
        debounce=DEBOUNCE_MS,
        stop_event=stop,
        raise_interrupt=False,
        force_polling=poll,
        poll_delay_ms=POLL_DELAY_MS,
        recursive=False,
        rust_timeout=STAMP_CHECK_MS,
        yield_on_timeout=True,  # wake up even without events: the stamp comparison is the fallback
    )
    if _stamp(path) not in (before, None):
        return True
    # An event or a timeout: either way, a new stamp is a save; no file (deleted, mid-rename) waits on.
    return any(_stamp(path) not in (before, None) for _ in wakes)
