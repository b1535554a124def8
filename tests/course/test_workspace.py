"""A learner's workspace: the course the wheel carries, `lab init`, and `lab update` against a changed course."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from lab.course.catalog import load_catalog, shipped_root
from lab.course.course import Course
from lab.course.progress import ProgressStore, Workspace
from lab.course.workspace import file_digest, init_workspace, plan_update, update_workspace
from lab.errors import LabError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EXERCISES = len(list((shipped_root() / "solutions").glob("exercise_*.py")))  # as the package ships them
COURSE_FOLDERS = ("exercises", "solutions", "notebooks")
SKIPPED = {"__pycache__", ".ipynb_checkpoints"}


def _course_files(root: Path) -> dict[str, bytes]:
    found = {}
    for folder in COURSE_FOLDERS:
        for path in (root / folder).rglob("*"):
            if path.is_file() and not SKIPPED & set(path.relative_to(root).parts):
                found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    """A stand-in for an installed lab's course: a copy of the checkout's exercises/ and solutions/."""
    source = tmp_path / "shipped"
    for folder in ("exercises", "solutions"):
        shutil.copytree(PROJECT_ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return source


@pytest.mark.skipif(shutil.which("uv") is None, reason="builds the wheel with uv")
def test_the_wheel_carries_the_course_byte_for_byte(tmp_path: Path) -> None:
    subprocess.run(
        ["uv", "build", "--wheel", "--out-dir", str(tmp_path), str(PROJECT_ROOT)],
        check=True,
        capture_output=True,
        timeout=240,
    )
    (wheel,) = tmp_path.glob("concurrency_lab-*.whl")
    prefix = "lab/_course/"
    with zipfile.ZipFile(wheel) as archive:
        carried = {n[len(prefix) :]: archive.read(n) for n in archive.namelist() if n.startswith(prefix)}
    expected = _course_files(PROJECT_ROOT)
    assert sorted(carried) == sorted(expected)
    assert "exercises/info.toml" in carried and len([n for n in carried if n.startswith("solutions/")]) == EXERCISES
    assert all(carried[name] == expected[name] for name in expected)


def test_a_clone_reads_its_own_folders() -> None:
    assert shipped_root() == PROJECT_ROOT


def test_init_makes_a_workspace_beside_the_files_already_there(tmp_path: Path, shipped: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "README.md").write_text("mine\n")
    (tmp_path / "ws" / "notes.txt").write_text("also mine\n")
    result = init_workspace(tmp_path / "ws", shipped)
    root = result.root
    assert not result.already
    assert (root / "README.md").read_text() == "mine\n" and (root / "notes.txt").read_text() == "also mine\n"
    assert "lab check" in (root / "README-lab.md").read_text()  # its own README beside the learner's
    assert not (root / "solutions").exists()  # read from the package, never copied
    for path in (shipped / "exercises").iterdir():
        assert (root / "exercises" / path.name).read_bytes() == path.read_bytes()
    catalog = load_catalog(root)
    assert len(catalog.exercises) == EXERCISES
    # The checker finds each solution in the lab itself, not in the workspace.
    assert catalog.exercises[0].solution_path == shipped_root() / "solutions" / catalog.exercises[0].file
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    assert init_workspace(root, shipped).already
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before  # again: nothing changed


def test_init_refuses_to_overwrite_and_says_so_in_one_line(tmp_path: Path, shipped: Path) -> None:
    (tmp_path / "exercises").mkdir()
    mine = tmp_path / "exercises" / "exercise_01_sleepy_endpoint.py"
    mine.write_text("my own file\n")
    with pytest.raises(LabError, match="already exists") as caught:
        init_workspace(tmp_path, shipped)
    assert caught.value.usage and "\n" not in str(caught.value)
    assert mine.read_text() == "my own file\n" and not (tmp_path / ".lab").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_init_in_an_unwritable_folder_is_one_usage_line(tmp_path: Path, shipped: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    with pytest.raises(LabError, match="cannot create a lab workspace") as caught:
        init_workspace(locked, shipped)
    assert caught.value.usage and "\n" not in str(caught.value)


def test_init_in_an_unwritable_folder_as_root_too(tmp_path: Path, shipped: Path) -> None:
    """Root ignores permissions: a path under a file cannot be made by anyone."""
    (tmp_path / "a-file").write_text("")
    with pytest.raises(LabError, match="cannot create a lab workspace") as caught:
        init_workspace(tmp_path / "a-file" / "ws", shipped)
    assert caught.value.usage and "\n" not in str(caught.value)


def test_plan_update_from_hashes_alone() -> None:
    recorded = {"a": "1", "b": "1", "c": "1", "d": "1"}
    current: dict[str, str | None] = {"a": "1", "b": "edited", "c": None, "d": "2", "e": None}
    shipped = {"a": "2", "b": "2", "c": "2", "d": "2", "e": "1"}
    assert plan_update(recorded, current, shipped) == {
        "a": "refresh",  # untouched: the new original
        "b": "keep",  # the learner's: left alone
        "c": "add",  # deleted: back
        "d": "same",
        "e": "add",  # a new exercise
    }


def test_update_refreshes_the_untouched_keeps_the_edited_adds_the_new(tmp_path: Path, shipped: Path) -> None:
    root = init_workspace(tmp_path / "ws", shipped).root
    store = ProgressStore(root)
    progress = store.load()
    progress.done.add("exercise-1")
    store.save(progress)
    edited = root / "exercises" / "exercise_01_sleepy_endpoint.py"
    edited.write_text(edited.read_text() + "# my fix\n")
    untouched = root / "exercises" / "exercise_02_which_thread_pool.py"
    # The lab is upgraded: both files change upstream, and an exercise is added.
    (shipped / "exercises" / edited.name).write_text("# new upstream 1\n")
    (shipped / "exercises" / untouched.name).write_text("# new upstream 2\n")
    (shipped / "exercises" / "exercise_15_new.py").write_text("# new exercise\n")
    result = update_workspace(root, shipped)
    assert result.refreshed == [f"exercises/{untouched.name}"]
    assert result.kept == [f"exercises/{edited.name}"]
    assert result.added == ["exercises/exercise_15_new.py"]
    assert edited.read_text().endswith("# my fix\n")
    assert untouched.read_text() == "# new upstream 2\n"
    assert (root / "exercises" / "exercise_15_new.py").read_text() == "# new exercise\n"
    assert store.load().done == {"exercise-1"}
    # Again: nothing new; the edited file is still the learner's, now measured against the same old original.
    again = update_workspace(root, shipped)
    assert (again.added, again.refreshed, again.kept) == ([], [], [f"exercises/{edited.name}"])


def test_update_in_a_clone_says_git_pull(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="git pull") as caught:
        update_workspace(tmp_path)
    assert caught.value.usage


def test_reset_in_a_workspace_restores_what_the_lab_ships(tmp_path: Path, shipped: Path) -> None:
    root = init_workspace(tmp_path / "ws", shipped).root
    mine = root / "exercises" / "exercise_03_the_41st_request.py"
    mine.write_text("# mine\n")
    backup = Workspace(root).reset(mine)
    assert backup is not None and backup.read_text() == "# mine\n"
    assert file_digest(mine) == file_digest(shipped_root() / "exercises" / mine.name)
    assert not (root / ".lab" / "originals").exists()  # the lab's own copy is the original: none kept


def test_a_failing_check_and_a_reset_unmark_done(tmp_path: Path, shipped: Path) -> None:
    """`lab check --all` and `lab list` never disagree: done is what the last check said."""
    from lab.course.results import CheckResult

    course = Course.open(init_workspace(tmp_path / "ws", shipped).root)
    first, second = course.catalog.exercises[:2]
    for exercise, ok in ((first, True), (second, True)):
        course.record(CheckResult(exercise=exercise, learner_file=exercise.path, passed=ok, reasons=[]), move=False)
    assert course.progress.done == {first.id, second.id}
    course.record(CheckResult(exercise=first, learner_file=first.path, passed=False, reasons=[]), move=False)
    assert course.progress.done == {second.id}
    course.reset(second)
    assert course.progress.done == set()


def test_a_bare_solution_means_the_exercise_that_just_passed(tmp_path: Path, shipped: Path) -> None:
    """Issue 23, item 13: after a pass the learner is on the next exercise, and `lab solution` means the one passed."""
    from lab.course.results import CheckResult

    course = Course.open(init_workspace(tmp_path / "ws", shipped).root)
    first, second, third = course.catalog.exercises[:3]

    def check(exercise: object, ok: bool, *, move: bool = True) -> None:
        course.record(CheckResult(exercise=exercise, learner_file=Path(), passed=ok, reasons=[]), move=move)  # type: ignore[arg-type]

    check(first, True)
    assert course.exercise(None) == second and course.solution_exercise(None) == first
    check(second, False)  # something else was checked since: back to the current exercise
    assert course.solution_exercise(None) == second
    check(third, True, move=False)  # `lab check --all` passes many at once: none of them "just" passed
    assert course.solution_exercise(None) == second
