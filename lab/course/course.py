"""The course a learner is taking: one object every exercise command is handed.

    course = Course.open(warn=print)            # the project root, its catalog and the learner's progress
    exercise = course.exercise("3")             # or course.exercise(None): the one the learner is on
    result = course.check(exercise)
    course.record(result)                       # a pass marks it done and moves the learner on

It carries the catalog, the progress store and what was loaded from it, so that commands no longer thread
the three through one another. Where the project is found is `find_root`, and only there. `warn` receives
what the learner should know but that does not stop the command: a damaged progress file set aside, a
progress file that could not be saved.

Only the catalog and the progress store are imported here: `lab list`, `lab hint` and `lab reset` stay
free of the checker and its servers (tests/test_startup.py); `check` and `watch` import them when called.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lab.course.catalog import EXERCISES_DIR, INFO_FILE, ROOT_ENV, Catalog, Exercise, load_catalog
from lab.course.progress import STATE_DIR, Progress, ProgressStore, Workspace, current_exercise, forget, record
from lab.errors import LabError, ProgressError

if TYPE_CHECKING:
    from lab.course.results import CheckResult

__all__ = ["ALL_DONE", "NO_WORKSPACE", "Course", "find_root", "workspace_root"]

ALL_DONE = "every exercise is done: name one to revisit it, e.g. `lab check 1`"
NO_WORKSPACE = "no lab workspace here: run `lab init`"


def find_root(start: Path | None = None) -> Path:
    """The learner's workspace, found as git finds a repository: `$LAB_ROOT`, else `start` (the current
    folder) or its nearest parent holding `.lab/` (a `lab init` workspace, or a clone used once) or
    `exercises/info.toml` (a clone of the lab, a workspace as it is). None: `NO_WORKSPACE`, exit 2."""
    root = workspace_root(start)
    if root is None:
        raise LabError(NO_WORKSPACE, usage=True)
    return root


def workspace_root(start: Path | None = None) -> Path | None:
    """`find_root`, or None outside any workspace (a bare `lab` then shows the help)."""
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV]).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / STATE_DIR).is_dir() or (folder / EXERCISES_DIR / INFO_FILE).is_file():
            return folder
    return None


def _ignore(message: str) -> None:
    """The default `warn`: a caller that does not ask is not told."""


@dataclass
class Course:
    """The catalog, the learner's progress store, and the progress as it was when the command started."""

    catalog: Catalog
    store: ProgressStore
    progress: Progress
    warn: Callable[[str], None] = _ignore

    @classmethod
    def open(cls, root: Path | None = None, *, warn: Callable[[str], None] = _ignore) -> Course:
        """The course at `root` (default: `find_root()`); raises `CatalogError` when there is none."""
        catalog = load_catalog(root or find_root())
        # The fallback pristine copy for `lab reset` outside git: taken the first time the lab sees each file.
        Workspace(catalog.root).keep_originals([e.path for e in catalog.exercises])
        store = ProgressStore(catalog.root)
        progress = store.load()
        if store.warning:
            warn(store.warning)
        return cls(catalog, store, progress, warn)

    def exercise(self, ref: str | None) -> Exercise:
        """The exercise `ref` names (`3`, `exercise-3`, its file); None: the one the learner is on."""
        if ref is not None:
            return self.catalog.resolve(ref)
        exercise = current_exercise(self.catalog, self.progress)
        if exercise is None:
            raise LabError(ALL_DONE, usage=True)
        return exercise

    def solution_exercise(self, ref: str | None) -> Exercise:
        """`lab solution`'s exercise: the one named, else the one that just passed, else the current one."""
        if ref is None and self.progress.just_passed is not None:
            return self.catalog.resolve(self.progress.just_passed)
        return self.exercise(ref)

    def passed(self, exercise: Exercise) -> bool:
        """Whether the exercise's last check passed (`lab list`'s tick)."""
        return exercise.id in self.progress.done

    def check(self, exercise: Exercise) -> CheckResult:
        """Run the learner's file and the solution under the exercise's burst, and judge."""
        from lab.course.check import check_exercise

        return check_exercise(exercise)

    def record(self, result: CheckResult, *, move: bool = True) -> None:
        """Note a check (`move=False`: the learner stays on their exercise); a failed save is only warned of."""
        try:
            self.progress = record(self.store, self.catalog, result.exercise, result.passed, move=move)
        except ProgressError as exc:
            self.warn(f"progress not saved: {exc}")

    def next_hint(self, exercise: Exercise) -> int:
        """How many of the exercise's hints to show now: one more than last time, saved for next time."""
        shown = 1
        try:
            with self.store.locked():  # load again under the lock: another `lab hint` may have saved meanwhile
                progress = self.store.load()
                shown = min(len(exercise.hints), progress.hints_shown.get(exercise.id, 0) + 1)
                progress.hints_shown[exercise.id] = shown
                self.store.save(progress)
            self.progress = progress
        except ProgressError as exc:
            self.warn(f"progress not saved: {exc}")
        return shown

    def solution(self, exercise: Exercise, *, force: bool = False) -> str:
        """The reference solution's text, once the exercise is passed (or with `force`, warned of)."""
        if exercise.id not in self.progress.done:
            if not force:
                raise LabError(
                    f"{exercise.id} is not passed yet: try `lab hint {exercise.id}`, pass `lab check {exercise.id}`, "
                    "or add --force to look anyway"
                )
            self.warn(f"showing the solution of {exercise.id} before you passed it: reading is not the same as solving")
        try:
            return exercise.solution_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise LabError(f"cannot read {exercise.solution_path}: {exc.strerror or exc}") from None

    def reset(self, exercise: Exercise) -> Path | None:
        """Restore the exercise's original text; the learner's version is backed up first (its path, or None).

        The original does not pass, so the exercise is no longer done."""
        backup = Workspace(self.catalog.root).reset(exercise.path)
        try:
            self.progress = forget(self.store, exercise)
        except ProgressError as exc:
            self.warn(f"progress not saved: {exc}")
        return backup

    def watch(
        self,
        start: Exercise,
        *,
        report: Callable[[CheckResult], None],
        announce: Callable[[Exercise], None],
        poll: bool | None = None,
    ) -> bool:
        """Check `start` on every save, moving on as each passes: True once every exercise is done."""
        from lab.course.watch import watch_exercises

        return watch_exercises(self.catalog, self.store, start, report=report, announce=announce, poll=poll)
