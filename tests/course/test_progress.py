"""The learner's state: progress survives damage, writes are atomic, and nothing of theirs is ever lost."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lab.course.catalog import load_catalog
from lab.course.progress import (
    Progress,
    ProgressError,
    ProgressStore,
    Workspace,
    current_exercise,
    next_open,
    record,
    write_atomically,
)

FIXTURE_ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "exercises"


def test_the_state_folder_ignores_itself_in_git(tmp_path: Path) -> None:
    ProgressStore(tmp_path).save(Progress())
    assert (tmp_path / ".lab" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_a_missing_file_is_a_fresh_start(tmp_path: Path) -> None:
    store = ProgressStore(tmp_path)
    assert store.load() == Progress() and store.warning is None


def test_round_trip(tmp_path: Path) -> None:
    store = ProgressStore(tmp_path)
    store.save(Progress({"exercise-2", "exercise-1"}, {"exercise-3": 2}, "exercise-3"))
    data = json.loads((tmp_path / ".lab" / "progress.json").read_text())
    assert data == {
        "version": 1,
        "done": ["exercise-1", "exercise-2"],
        "hints_shown": {"exercise-3": 2},
        "current": "exercise-3",
        "just_passed": None,
    }
    assert store.load() == Progress({"exercise-1", "exercise-2"}, {"exercise-3": 2}, "exercise-3")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"version": 1, "done": ["exercise-1"', "not valid JSON"),
        ("\x00\x01garbage", "not valid JSON"),
        ('{"version": 99}', "unexpected format"),
        ('["exercise-1"]', "unexpected format"),
        ('{"version": 1, "done": "exercise-1"}', "unexpected format"),
        ('{"version": 1, "hints_shown": {"exercise-1": -1}}', "unexpected format"),
        ('{"version": 1, "current": 3}', "unexpected format"),
    ],
)
def test_a_damaged_file_is_set_aside_reported_and_rebuilt(tmp_path: Path, text: str, problem: str) -> None:
    store = ProgressStore(tmp_path)
    store.path.parent.mkdir()
    store.path.write_text(text)
    assert store.load() == Progress()
    assert store.warning is not None and problem in store.warning and "\n" not in store.warning
    (aside,) = store.path.parent.glob("progress.json.corrupt-*")
    assert aside.read_text() == text  # kept as it was, for the curious
    assert aside.name in store.warning
    store.save(Progress({"exercise-1"}))
    assert ProgressStore(tmp_path).load().done == {"exercise-1"}


def test_an_undecodable_file_is_set_aside(tmp_path: Path) -> None:
    store = ProgressStore(tmp_path)
    store.path.parent.mkdir()
    store.path.write_bytes(b"\xff\xfe\xfa")
    assert store.load() == Progress() and store.warning is not None


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "state.json"
    write_atomically(target, "old")

    def crash(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(ProgressError, match="cannot write .*No space left"):
        write_atomically(target, "new")
    assert target.read_text() == "old"  # the old file is whole
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # the temporary file is gone


def test_an_unwritable_folder_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ProgressError, match="cannot write"):
        write_atomically(blocker / "sub" / "state.json", "x")


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FIXTURE_ROOT, root)
    return root


def test_reset_outside_git_restores_the_copy_kept_at_first_run_and_backs_up(tmp_path: Path) -> None:
    root = _project(tmp_path)
    file = root / "exercises" / "exercise_01_sleep.py"
    original = file.read_text()
    workspace = Workspace(root)
    workspace.keep_originals([file])
    file.write_text("# my attempt\n")
    workspace.keep_originals([file])  # a later run never overwrites the pristine copy
    backup = workspace.reset(file)
    assert file.read_text() == original
    assert backup is not None and backup.read_text() == "# my attempt\n"
    assert backup.parent == root / ".lab" / "backups" and backup.name.startswith("exercise_01_sleep.")
    file.write_text("# my second attempt\n")
    second = workspace.reset(file)  # resetting twice keeps two backups, never overwrites one
    assert second is not None and second != backup and backup.exists()


def test_reset_of_an_untouched_file_writes_no_backup(tmp_path: Path) -> None:
    root = _project(tmp_path)
    file = root / "exercises" / "exercise_01_sleep.py"
    workspace = Workspace(root)
    workspace.keep_originals([file])
    assert workspace.reset(file) is None
    assert not (root / ".lab" / "backups").exists()


@pytest.mark.parametrize("mode", [0o644, 0o755, 0o664])
def test_reset_keeps_the_files_mode(tmp_path: Path, mode: int) -> None:
    root = _project(tmp_path)
    file = root / "exercises" / "exercise_01_sleep.py"
    Workspace(root).keep_originals([file])
    file.write_text("# my attempt\n")
    file.chmod(mode)
    Workspace(root).reset(file)
    assert file.stat().st_mode & 0o777 == mode  # was 0600: mkstemp's mode


def test_a_restored_deleted_file_gets_the_umasks_mode(tmp_path: Path) -> None:
    root = _project(tmp_path)
    file = root / "exercises" / "exercise_01_sleep.py"
    Workspace(root).keep_originals([file])
    file.unlink()
    umask = os.umask(0o022)
    try:
        Workspace(root).reset(file)
    finally:
        os.umask(umask)
    assert file.stat().st_mode & 0o777 == 0o644


def test_a_deeply_nested_file_is_set_aside_like_any_damaged_one(tmp_path: Path) -> None:
    store = ProgressStore(tmp_path)
    store.dir.mkdir()
    store.path.write_text("[" * 2000)  # json.loads: RecursionError, not a JSONDecodeError
    assert store.load() == Progress()
    assert store.warning is not None and "nested too deeply" in store.warning
    assert not store.path.exists() and list(store.dir.glob("progress.json.corrupt-*"))


def test_twelve_lab_hints_at_once_save_twelve(tmp_path: Path) -> None:
    """Twelve real processes load, change and save at the same moment: the lock makes each see the last save."""
    repo = Path(__file__).resolve().parents[2]
    root = tmp_path / "project"
    for folder in ("exercises", "solutions"):
        shutil.copytree(repo / folder, root / folder)
    env = {**os.environ, "LAB_ROOT": str(root)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "lab", "hint", str(n)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        for n in range(1, 13)
    ]
    errors = [proc.communicate(timeout=120)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 12, errors
    shown = ProgressStore(root).load().hints_shown
    assert shown == {f"exercise-{n}": 1 for n in range(1, 13)}


def test_locked_serializes_load_change_save(tmp_path: Path) -> None:
    """The same race in threads, made likely: each holds the loaded state a moment before saving."""
    store = ProgressStore(tmp_path)

    def bump(name: str) -> None:
        with ProgressStore(tmp_path).locked():
            progress = ProgressStore(tmp_path).load()
            time.sleep(0.02)  # without the lock, every thread would save what it read before the others
            progress.hints_shown[name] = 1
            ProgressStore(tmp_path).save(progress)

    threads = [threading.Thread(target=bump, args=(f"exercise-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(store.load().hints_shown) == 8


def test_reset_in_a_git_checkout_restores_the_committed_text(tmp_path: Path) -> None:
    root = _project(tmp_path)
    file = root / "exercises" / "exercise_01_sleep.py"
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "exercises"], check=True)
    committed = file.read_text()
    file.write_text("# my attempt\n")
    backup = Workspace(root).reset(file)  # no .lab/originals exists: git alone is the source
    assert file.read_text() == committed
    assert backup is not None and backup.read_text() == "# my attempt\n"


def test_reset_without_any_original_is_one_line(tmp_path: Path) -> None:
    root = _project(tmp_path)
    with pytest.raises(ProgressError, match="no pristine copy"):
        Workspace(root).reset(root / "exercises" / "exercise_01_sleep.py")


def test_reset_of_a_deleted_file_restores_it_without_a_backup(tmp_path: Path) -> None:
    root = _project(tmp_path)
    file = root / "exercises" / "exercise_01_sleep.py"
    Workspace(root).keep_originals([file])
    file.unlink()
    assert Workspace(root).reset(file) is None
    assert file.is_file()


def test_record_and_next_open(tmp_path: Path) -> None:
    catalog = load_catalog(FIXTURE_ROOT)
    first, second, third = catalog.exercises
    store = ProgressStore(tmp_path)
    assert current_exercise(catalog, store.load()) == first
    progress = record(store, catalog, second, passed=True)
    assert progress.done == {"exercise-2"} and progress.current == "exercise-3"
    progress = record(store, catalog, third, passed=True)
    assert progress.current == "exercise-1"  # wraps around to the first one not done
    progress = record(store, catalog, first, passed=False)
    assert progress.current == "exercise-1" and "exercise-1" not in progress.done
    progress = record(store, catalog, first, passed=True)
    assert progress.current is None and next_open(catalog, progress) is None
    assert current_exercise(catalog, progress) is None


def test_check_all_records_passes_but_leaves_current_alone(tmp_path: Path) -> None:
    catalog = load_catalog(FIXTURE_ROOT)
    first, second, third = catalog.exercises
    store = ProgressStore(tmp_path)
    record(store, catalog, first, passed=False)  # the learner is on exercise-1
    record(store, catalog, second, passed=True, move=False)
    progress = record(store, catalog, third, passed=False, move=False)
    assert progress.current == "exercise-1" and progress.done == {"exercise-2"}
    progress = record(store, catalog, first, passed=True, move=False)  # current itself passed: move on
    assert progress.current == "exercise-3"
