"""The course object: where the project is, which exercise the learner is on, and what a check changes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lab.course.course import ALL_DONE, Course, find_root
from lab.course.progress import Progress, ProgressStore
from lab.course.results import CheckResult
from lab.errors import CatalogError, LabError, UnknownExercise

FIXTURE_ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "exercises"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FIXTURE_ROOT, root)
    return root


def passed(course: Course, ref: str, ok: bool = True) -> CheckResult:
    exercise = course.exercise(ref)
    return CheckResult(exercise=exercise, learner_file=exercise.path, passed=ok, reasons=[])


def test_find_root_searches_upward_then_honours_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAB_ROOT", raising=False)
    (tmp_path / "exercises").mkdir()
    (tmp_path / "solutions").mkdir()
    (tmp_path / "exercises" / "info.toml").write_text("")
    deep = tmp_path / "exercises" / "a" / "b"
    deep.mkdir(parents=True)
    assert find_root(deep) == tmp_path.resolve()
    monkeypatch.setenv("LAB_ROOT", str(FIXTURE_ROOT))
    assert find_root(deep) == FIXTURE_ROOT.resolve()


def test_find_root_outside_any_workspace_says_run_lab_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAB_ROOT", raising=False)
    with pytest.raises(LabError, match=r"^no lab workspace here: run `lab init`$") as caught:
        find_root(tmp_path)
    assert caught.value.usage
    (tmp_path / ".lab").mkdir()  # a `lab init` workspace is found by its state folder alone, as git finds `.git`
    assert find_root(tmp_path / "deeper") == tmp_path.resolve()
    assert find_root(PROJECT_ROOT / "lab" / "course") == PROJECT_ROOT  # a clone is a workspace as it is


def test_open_finds_the_project_and_keeps_the_originals(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_ROOT", str(project))
    course = Course.open()
    assert course.catalog.root == project.resolve()
    assert course.progress == Progress()
    assert sorted(p.name for p in (project / ".lab" / "originals").iterdir()) == [
        e.file for e in course.catalog.exercises
    ]


def test_open_outside_a_project_is_a_catalog_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="not found"):
        Course.open(tmp_path)


def test_a_damaged_progress_file_is_warned_of_once(project: Path) -> None:
    (project / ".lab").mkdir()
    (project / ".lab" / "progress.json").write_text("{not json")
    said: list[str] = []
    course = Course.open(project, warn=said.append)
    assert course.progress == Progress()
    assert len(said) == 1 and "is not valid JSON" in said[0]


def test_the_exercise_named_or_the_current_one(project: Path) -> None:
    course = Course.open(project)
    assert course.exercise(None).id == "exercise-1"  # nothing done: the first
    assert course.exercise("3").id == "exercise-3"
    with pytest.raises(UnknownExercise):
        course.exercise("99")
    course.record(passed(course, "1"))
    assert course.exercise(None).id == "exercise-2"  # a pass moves the learner on, in this object too
    assert Course.open(project).exercise(None).id == "exercise-2"  # and on disk


def test_every_exercise_done_is_a_usage_error(project: Path) -> None:
    course = Course.open(project)
    for ref in ("1", "2", "3"):
        course.record(passed(course, ref))
    with pytest.raises(LabError, match="every exercise is done") as caught:
        course.exercise(None)
    assert caught.value.usage and str(caught.value) == ALL_DONE


def test_record_without_moving_leaves_the_learner_where_they_were(project: Path) -> None:
    course = Course.open(project)
    course.record(passed(course, "2", ok=False))  # the learner is on exercise-2
    course.record(passed(course, "1"), move=False)
    assert course.progress.done == {"exercise-1"} and course.progress.current == "exercise-2"


def test_a_progress_file_that_cannot_be_saved_is_only_warned_of(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[str] = []
    course = Course.open(project, warn=said.append)

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)  # every atomic save fails, as on a full disk
    course.record(passed(course, "1"))
    assert course.next_hint(course.exercise("1")) == 1  # the hint is still shown
    assert [line.split(":")[0] for line in said] == ["progress not saved", "progress not saved"]


def test_hints_count_up_to_the_last_and_are_saved(project: Path) -> None:
    course = Course.open(project)
    exercise = course.exercise("1")
    shown = [course.next_hint(exercise) for _ in range(len(exercise.hints) + 2)]
    assert shown == [*range(1, len(exercise.hints) + 1), len(exercise.hints), len(exercise.hints)]
    assert ProgressStore(project).load().hints_shown == {"exercise-1": len(exercise.hints)}


def test_reset_backs_up_the_learners_version(project: Path) -> None:
    course = Course.open(project)
    exercise = course.exercise("1")
    original = exercise.path.read_text()
    assert course.reset(exercise) is None  # untouched: nothing to restore
    exercise.path.write_text("# mine\n")
    backup = course.reset(exercise)
    assert backup is not None and backup.read_text() == "# mine\n"
    assert exercise.path.read_text() == original


def test_the_solution_once_passed_or_forced_with_a_warning(project: Path) -> None:
    said: list[str] = []
    course = Course.open(project, warn=said.append)
    exercise = course.exercise("1")
    with pytest.raises(LabError, match="exercise-1 is not passed yet") as refused:
        course.solution(exercise)
    assert not refused.value.usage and said == []
    assert course.solution(exercise, force=True) == exercise.solution_path.read_text()
    assert len(said) == 1 and "before you passed it" in said[0]
    course.record(passed(course, "1"))
    assert course.solution(exercise) == exercise.solution_path.read_text() and len(said) == 1
    exercise.solution_path.unlink()
    with pytest.raises(LabError, match="cannot read .*exercise_01"):
        course.solution(exercise)
