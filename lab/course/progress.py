"""The learner's state, kept in the project under `.lab/`: progress, pristine originals, backups.

    store = ProgressStore(root)
    progress = store.load()           # never fails: a damaged file is set aside and rebuilt
    progress.done.add("exercise-3")
    store.save(progress)              # atomic: a crash mid-write leaves the old file whole
    with store.locked():              # around a load-change-save: `lab` commands at once lose no update
        ...

Nothing here ever deletes the learner's work: `lab reset` first copies the current file to
`.lab/backups/<file>.<timestamp>.py`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from lab.course.catalog import EXERCISES_DIR, Catalog, Exercise, shipped_root
from lab.errors import ProgressError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent `lab` commands may then lose an update
    fcntl = None  # type: ignore[assignment]

STATE_DIR = ".lab"
PROGRESS_FILE = "progress.json"
LOCK_FILE = "progress.lock"
SHIPPED_FILE = "shipped.json"  # a `lab init` workspace: each file's hash as shipped (lab.course.workspace)
FORMAT_VERSION = 1


@dataclass
class Progress:
    done: set[str] = field(default_factory=set)
    hints_shown: dict[str, int] = field(default_factory=dict)  # exercise id -> hint steps shown
    current: str | None = None
    # The exercise whose check passed last, while nothing else was checked since: a bare `lab solution` means it.
    just_passed: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "done": sorted(self.done),
            "hints_shown": dict(sorted(self.hints_shown.items())),
            "current": self.current,
            "just_passed": self.just_passed,
        }

    @classmethod
    def from_json(cls, data: Any) -> Progress:
        """Raise ValueError for anything but the exact format this version writes."""
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            raise ValueError("unknown format")
        done, hints, current = data.get("done", []), data.get("hints_shown", {}), data.get("current")
        if not (isinstance(done, list) and all(isinstance(d, str) for d in done)):
            raise ValueError("`done` is not a list of ids")
        if not (isinstance(hints, dict) and all(isinstance(n, int) and n >= 0 for n in hints.values())):
            raise ValueError("`hints_shown` is not a table of counts")
        if current is not None and not isinstance(current, str):
            raise ValueError("`current` is not an id")
        just_passed = data.get("just_passed")  # absent in files an earlier lab wrote
        return cls(set(done), dict(hints), current, just_passed if isinstance(just_passed, str) else None)


class ProgressStore:
    """`.lab/progress.json` in the project root."""

    def __init__(self, root: Path) -> None:
        self.dir = root / STATE_DIR
        self.path = self.dir / PROGRESS_FILE
        self.warning: str | None = None  # set by load() when a damaged file was set aside

    def load(self) -> Progress:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Progress()
        except (OSError, UnicodeDecodeError) as exc:
            return self._set_aside(f"cannot be read ({exc})")
        try:
            return Progress.from_json(json.loads(text))
        except json.JSONDecodeError as exc:
            return self._set_aside(f"is not valid JSON ({exc.msg}, line {exc.lineno})")
        except RecursionError:  # '[' * 2000: valid enough to start parsing, too deep to finish
            return self._set_aside("is nested too deeply to be progress")
        except ValueError as exc:
            return self._set_aside(f"has an unexpected format ({exc})")

    def _set_aside(self, problem: str) -> Progress:
        """Keep the damaged file for the curious, start afresh, and say so."""
        aside = self.path.with_name(f"{PROGRESS_FILE}.corrupt-{_stamp()}")
        try:
            os.replace(self.path, aside)
            kept = f"kept as {aside}"
        except OSError:
            kept = "it could not be moved aside"
        self.warning = f"{self.path} {problem}: starting a fresh progress file ({kept})"
        return Progress()

    def save(self, progress: Progress) -> None:
        make_state_dir(self.dir)
        write_atomically(self.path, json.dumps(progress.to_json(), indent=2) + "\n")

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold `.lab/progress.lock` for a load-change-save: twelve `lab hint` at once save twelve hints.

        The atomic rename keeps readers safe; only writers need the lock. Where no lock can be taken
        (a read-only project, Windows), the body runs unlocked and the save says what went wrong.
        """
        make_state_dir(self.dir)
        try:
            handle = open(self.dir / LOCK_FILE, "a")  # noqa: SIM115 - held for the `with` body
        except OSError:
            yield
            return
        with handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # released when the file closes
            yield


def make_state_dir(folder: Path) -> None:
    """Create `.lab/` with a `.gitignore` of its own: the learner's state never lands in a commit."""
    with contextlib.suppress(OSError):  # a read-only project: the write that follows says so
        folder.mkdir(parents=True, exist_ok=True)
        ignore = folder / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# The lab's state for this learner: progress, originals, backups.\n*\n")


def write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename over it: readers see old or new, never half."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ProgressError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        # mkstemp makes the file 0600: keep the mode the file had (an exercise stays 0644), else the umask's.
        os.chmod(temporary, _mode_of(path))
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise ProgressError(f"cannot write {path}: {exc.strerror or exc}") from None


def _mode_of(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _stamp() -> str:
    """A sortable, file-name-safe timestamp (to the microsecond, so two in a row differ)."""
    return datetime.now().strftime("%Y%m%d-%H%M%S-%f")


class Workspace:
    """The exercise files' safety net: a pristine original for each, and backups of the learner's versions."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / STATE_DIR
        self.originals = root / STATE_DIR / "originals"
        self.backups = root / STATE_DIR / "backups"

    @property
    def made_by_init(self) -> bool:
        """A `lab init` workspace: its originals are the lab's shipped files, whatever git says."""
        return (self.dir / SHIPPED_FILE).is_file()

    def keep_originals(self, files: list[Path]) -> None:
        """On first sight, copy each exercise file: the fallback original outside a git checkout."""
        if self.made_by_init:
            return
        for file in files:
            copy = self.originals / file.name
            if file.is_file() and not copy.exists():
                with contextlib.suppress(OSError):  # a read-only project: git is still there
                    make_state_dir(self.dir)
                    self.originals.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(file, copy)

    def original_text(self, file: Path) -> str:
        """The exercise as the lab ships it (a `lab init` workspace: the learner may commit their own work),
        else as committed (`git show HEAD:...`, a clone), else the copy kept at first run."""
        if self.made_by_init:
            shipped = shipped_root() / EXERCISES_DIR / file.name
            try:
                return shipped.read_text(encoding="utf-8")
            except OSError:
                raise ProgressError(f"no shipped copy of {file.name} in this lab ({shipped})") from None
        committed = _git_show(file)
        if committed is not None:
            return committed
        copy = self.originals / file.name
        try:
            return copy.read_text(encoding="utf-8")
        except OSError:
            raise ProgressError(f"no pristine copy of {file.name}: not in a git checkout, and no {copy}") from None

    def backup(self, file: Path) -> Path:
        """Copy the learner's current version aside, under a name that sorts by time."""
        target = self.backups / f"{file.stem}.{_stamp()}{file.suffix}"
        try:
            make_state_dir(self.dir)
            self.backups.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)
        except OSError as exc:
            raise ProgressError(f"cannot back up {file}: {exc.strerror or exc}") from None
        return target

    def reset(self, file: Path) -> Path | None:
        """Restore the original; the learner's version is backed up first (None: there was none to keep)."""
        original = self.original_text(file)
        if not file.is_file():
            write_atomically(file, original)
            return None
        if _read(file) == original:  # untouched: nothing to restore, and a backup would only be clutter
            return None
        saved = self.backup(file)
        write_atomically(file, original)
        return saved


def _read(file: Path) -> str | None:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _git_show(file: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(file.parent), "show", f"HEAD:./{file.name}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def record(store: ProgressStore, catalog: Catalog, exercise: Exercise, passed: bool, *, move: bool = True) -> Progress:
    """Note a check: a pass marks the exercise done and makes the next open one current; a failure unmarks it.

    "Done" is what the exercise's last check said, so that `lab list` and `lab check --all` never disagree.
    `move=False` (`lab check --all`) records the verdict but leaves "current" where the learner put it.
    """
    with store.locked():
        progress = store.load()
        progress.just_passed = exercise.id if passed and move else None  # --all passes many: none "just" passed
        if passed:
            progress.done.add(exercise.id)
            if move or progress.current == exercise.id:
                following = next_open(catalog, progress, after=exercise)
                progress.current = following.id if following else None
        else:
            progress.done.discard(exercise.id)
            if move:
                progress.current = exercise.id
        store.save(progress)
    return progress


def forget(store: ProgressStore, exercise: Exercise) -> Progress:
    """`lab reset`: the restored original does not pass, so the exercise is no longer done."""
    with store.locked():
        progress = store.load()
        progress.done.discard(exercise.id)
        if progress.just_passed == exercise.id:
            progress.just_passed = None
        store.save(progress)
    return progress


def next_open(catalog: Catalog, progress: Progress, after: Exercise | None = None) -> Exercise | None:
    """The first exercise not done, looking after `after` first and then from the start."""
    order = list(catalog.exercises)
    if after is not None and after in order:
        index = order.index(after) + 1
        order = order[index:] + order[:index]
    return next((e for e in order if e.id not in progress.done), None)


def current_exercise(catalog: Catalog, progress: Progress) -> Exercise | None:
    """The exercise the learner is on: the recorded one, else the first not done."""
    for exercise in catalog.exercises:
        if exercise.id == progress.current:
            return exercise
    return next_open(catalog, progress)
