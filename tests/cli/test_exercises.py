"""The exercise commands, through typer's CliRunner, on a copy of the fixture project (`LAB_ROOT`)."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from lab.cli import app
from lab.course.catalog import load_catalog
from lab.course.progress import ProgressStore
from lab.course.watch import watch_exercises

FIXTURE_ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "exercises"
FIXED_SLEEP = FIXTURE_ROOT / "faults" / "fixed_sleep.py"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the fixture project: progress, originals and backups land in its .lab/."""
    root = tmp_path / "project"
    shutil.copytree(FIXTURE_ROOT, root)
    monkeypatch.setenv("LAB_ROOT", str(root))
    return root


def lab(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def one_error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


def test_list_json(project: Path) -> None:
    result = lab("list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["id"] for r in rows] == ["exercise-1", "exercise-2", "exercise-3"]
    assert rows[0] == {
        "id": "exercise-1",
        "title": "Fixture: the sleepy endpoint",
        "file": "exercise_01_sleep.py",
        "done": False,
    }
    assert (project / ".lab" / "originals" / "exercise_01_sleep.py").is_file()  # kept at first run


def test_list_table(project: Path) -> None:
    result = lab("list")
    assert result.exit_code == 0 and "exercise-3" in result.stdout and "0 of 3 pass" in result.stdout


@pytest.mark.parametrize("command", ["check", "run", "hint", "solution", "reset"])
def test_an_unknown_id_is_one_line_and_exit_2(project: Path, command: str) -> None:
    result = lab(command, "exercise-99")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "no exercise 'exercise-99'" in line and "exercise-1, exercise-2, exercise-3" in line


def test_a_broken_catalog_is_one_line(project: Path) -> None:
    (project / "exercises" / "info.toml").write_text("[[exercise]]\nid = 'exercise-1'\n")
    result = lab("list")
    assert result.exit_code == 1
    assert "exercise-1: missing required key 'file'" in one_error_line(result)


def test_check_all_and_an_id_together_is_a_usage_error(project: Path) -> None:
    result = lab("check", "1", "--all")
    assert result.exit_code == 2 and "not both" in one_error_line(result)


def test_hint_shows_one_more_step_each_time(project: Path) -> None:
    outputs = [lab("hint", "1").stdout for _ in range(4)]
    assert "hint 1/3" in outputs[0] and "hint 2/3" not in outputs[0]
    assert "hint 2/3" in outputs[1] and "hint 3/3" not in outputs[1]
    assert "hint 3/3" in outputs[2] and "last hint" in outputs[2]
    assert outputs[3] == outputs[2]  # no more hints: the same three again
    assert ProgressStore(project).load().hints_shown == {"exercise-1": 3}


def test_hint_without_hints(project: Path) -> None:
    result = lab("hint", "3")
    assert result.exit_code == 0 and "has no hints" in result.stdout


def test_solution_refuses_before_a_pass_and_force_warns(project: Path) -> None:
    refused = lab("solution", "1")
    assert refused.exit_code == 1
    assert "not passed yet" in one_error_line(refused) and refused.stdout == ""
    forced = lab("solution", "1", "--force")
    assert forced.exit_code == 0
    assert "warning: showing the solution" in forced.stderr
    assert "await asyncio.sleep" in forced.stdout


def test_solution_in_a_pipe_is_the_file_itself_however_long_its_lines(project: Path) -> None:
    """Redirected, it is the source byte for byte: nothing wrapped or cut at 80 columns."""
    source = project / "solutions" / "exercise_01_sleep.py"
    source.write_text(source.read_text() + "# " + "a long comment line " * 8 + "ends here\n")
    forced = lab("solution", "1", "--force")
    assert forced.exit_code == 0
    assert forced.stdout == source.read_text()  # raw: `lab solution 1 --force > file.py` is the file itself


def test_reset_restores_the_original_and_keeps_a_backup(project: Path) -> None:
    lab("list")  # the first run keeps the originals
    file = project / "exercises" / "exercise_01_sleep.py"
    original = file.read_text()
    file.write_text("# my half-finished attempt\n")
    result = lab("reset", "1")
    assert result.exit_code == 0, result.output
    assert file.read_text() == original
    (backup,) = (project / ".lab" / "backups").iterdir()
    assert backup.read_text() == "# my half-finished attempt\n"
    assert str(backup) in result.stdout


@pytest.mark.parametrize("command", [["list"], ["hint", "1"], ["list", "--json"]])
def test_a_deeply_nested_progress_file_is_set_aside_not_a_traceback(project: Path, command: list[str]) -> None:
    (project / ".lab").mkdir()
    (project / ".lab" / "progress.json").write_text("[" * 2000)
    result = lab(*command)
    assert result.exit_code == 0 and result.exception is None, result.output
    assert "nested too deeply" in result.stderr and list((project / ".lab").glob("progress.json.corrupt-*"))


def test_reset_of_an_untouched_file_says_so_and_keeps_no_backup(project: Path) -> None:
    result = lab("reset", "1")
    assert result.exit_code == 0, result.output
    assert "is already its original text" in result.stdout
    assert not (project / ".lab" / "backups").exists()


def test_list_in_a_pipe_keeps_whole_paths(project: Path) -> None:
    long_name = "exercise_01_" + "a_rather_long_file_name_" * 4 + "sleep.py"
    info = project / "exercises" / "info.toml"
    info.write_text(info.read_text().replace('"exercise_01_sleep.py"', f'"{long_name}"'))
    (project / "exercises" / "exercise_01_sleep.py").rename(project / "exercises" / long_name)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | {"LAB_ROOT": str(project)}
    done = subprocess.run(
        [sys.executable, "-m", "lab", "list"], capture_output=True, text=True, timeout=60, env=env, check=True
    )
    assert f"exercises/{long_name}" in done.stdout


def test_a_corrupt_progress_file_is_reported_and_rebuilt(project: Path) -> None:
    (project / ".lab").mkdir()
    (project / ".lab" / "progress.json").write_text("{ not json")
    result = lab("hint", "1")
    assert result.exit_code == 0
    assert "warning:" in result.stderr and "progress.json.corrupt-" in result.stderr
    assert list((project / ".lab").glob("progress.json.corrupt-*"))
    assert ProgressStore(project).load().hints_shown == {"exercise-1": 1}


def test_check_fails_then_passes_and_unlocks_the_solution(project: Path) -> None:
    failed = lab("check", "1", "--json")
    assert failed.exit_code == 1, failed.output
    data = json.loads(failed.stdout)
    assert data["exercise"] == "exercise-1" and data["passed"] is False and data["verdict"] == "failed"
    assert any("event loop's longest single stall was" in r for r in data["reasons"])
    assert data["findings"][0]["code"] == "ASYNC251"

    shutil.copy(FIXED_SLEEP, project / "exercises" / "exercise_01_sleep.py")
    passed = lab("check", "1")
    assert passed.exit_code == 0, passed.output
    assert "PASSED" in passed.stdout
    progress = ProgressStore(project).load()
    assert progress.done == {"exercise-1"} and progress.current == "exercise-2"
    assert lab("solution", "1").exit_code == 0


def test_check_all_json(project: Path) -> None:
    # A one-exercise catalog keeps this fast: --all's loop and its JSON shape are what is tested.
    info = project / "exercises" / "info.toml"
    info.write_text(info.read_text().split('[[exercise]]\nid = "exercise-2"')[0])
    shutil.copy(FIXED_SLEEP, project / "exercises" / "exercise_01_sleep.py")
    result = lab("check", "--all", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["passed"] == 1 and data["total"] == 1 and data["results"][0]["passed"] is True


def _read_all(fd: int) -> str:
    chunks = []
    while select.select([fd], [], [], 0.5)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def test_check_all_shows_progress_on_a_terminal_and_leaves_current_alone(project: Path) -> None:
    info = project / "exercises" / "info.toml"
    info.write_text(info.read_text().split('[[exercise]]\nid = "exercise-3"')[0])  # exercises 1 and 2
    (project / ".lab").mkdir()
    (project / ".lab" / "progress.json").write_text(json.dumps({"version": 1, "current": "exercise-2"}))
    env = {k: v for k, v in os.environ.items() if k != "TTY_INTERACTIVE"} | {"LAB_ROOT": str(project)}
    command = [sys.executable, "-m", "lab", "check", "--all"]
    leader, follower = pty.openpty()  # stderr a terminal, stdout a pipe
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=follower, env=env, timeout=180, text=True)
        os.close(follower)
        follower = -1
        on_terminal = _read_all(leader)
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    assert "1/2 exercise-1" in on_terminal and "2/2 exercise-2" in on_terminal, on_terminal
    assert "2/2" not in done.stdout, "the spinner is on stderr only"
    assert "exercises pass" in done.stdout
    assert ProgressStore(project).load().current == "exercise-2", "--all must not move the learner"
    piped = subprocess.run(command, capture_output=True, env=env, timeout=180, text=True)
    assert "1/2" not in piped.stderr and "checking" not in piped.stderr, "silent when stderr is not a terminal"


def test_a_broken_solution_is_the_labs_fault_in_one_line(project: Path) -> None:
    shutil.copy(FIXTURE_ROOT / "faults" / "raises.py", project / "solutions" / "exercise_01_sleep.py")
    result = lab("check", "1")
    assert result.exit_code == 1
    assert "the solution itself failed" in one_error_line(result)
    assert "exercise-1" not in ProgressStore(project).load().done


def test_run_walks_through_side_by_side(project: Path) -> None:
    result = lab("run", "1")
    assert result.exit_code == 1
    for words in ("your code", "solution", "longest loop stall", "#8", "FAILED", "ASYNC251"):
        assert words in result.stdout, words
    # Both files are called exercise_01_sleep.py: the panes say which folder each comes from.
    assert "your code: exercises/exercise_01_sleep.py" in result.stdout
    assert "solution: solutions/exercise_01_sleep.py" in result.stdout


def test_watch_rechecks_on_save_and_moves_on(project: Path) -> None:
    catalog = load_catalog(project)
    store = ProgressStore(project)
    results: list[tuple[str, bool]] = []
    stop = threading.Event()

    def report(result: object) -> None:
        results.append((result.exercise.id, result.passed))  # type: ignore[attr-defined]
        if len(results) >= 3:
            stop.set()  # seen enough: exercise-1 failed, then passed, then exercise-2 checked

    finished: list[bool] = []
    watcher = threading.Thread(
        target=lambda: finished.append(
            watch_exercises(catalog, store, catalog.resolve("1"), report=report, poll=True, stop=stop)
        ),
        daemon=True,
    )
    watcher.start()
    deadline = time.monotonic() + 60
    while not results and time.monotonic() < deadline:
        time.sleep(0.05)
    assert results == [("exercise-1", False)]
    time.sleep(0.5)  # let the watcher start polling before the save
    shutil.copy(FIXED_SLEEP, project / "exercises" / "exercise_01_sleep.py")
    watcher.join(90)
    stop.set()
    assert not watcher.is_alive()
    assert results[:2] == [("exercise-1", False), ("exercise-1", True)]
    assert results[2] == ("exercise-2", False)
    assert finished == [False]
    assert "exercise-1" in store.load().done


def test_watch_sees_a_save_even_when_no_file_event_arrives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import watchfiles

    from lab.course import watch

    def no_events(*args: object, **kwargs: object) -> Iterator[set[tuple[int, str]]]:
        for _ in range(100):  # what a file system without events gives: timeouts only
            time.sleep(0.02)
            yield set()

    monkeypatch.setattr(watchfiles, "watch", no_events)
    file = tmp_path / "exercise.py"
    file.write_text("one")
    before = watch._stamp(file)
    saver = threading.Timer(0.2, lambda: file.write_text("two, longer"))
    saver.start()
    assert watch._saved(file, before, None, threading.Event())
    saver.join()
    assert watch._saved(file, before, None, threading.Event())  # already saved since `before`: at once
    assert not watch._saved(file, watch._stamp(file), None, threading.Event())  # never saved: gives up
