"""`lab init`, `lab update`, a bare `lab`, what a pass tells the learner, `lab class report` on the lab's own JSON,
`lab watch`'s choice to poll, and the proof: the built wheel, installed with pip in a fresh venv, used from nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from lab.cli import app
from lab.course.catalog import load_catalog
from lab.course.progress import ProgressStore
from lab.course.watch import NO_EVENTS, mount_type, polling_reason

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIXTURE_ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "exercises"
FIXED_SLEEP = FIXTURE_ROOT / "faults" / "fixed_sleep.py"
NO_WORKSPACE = "error: no lab workspace here: run `lab init`"
EXERCISES = len(load_catalog(PROJECT_ROOT).exercises)  # as the package ships them


def lab(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def lab_process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LAB_ROOT"}
    return subprocess.run(
        [sys.executable, "-m", "lab", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder with no workspace above it, as the current folder."""
    monkeypatch.delenv("LAB_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FIXTURE_ROOT, root)
    monkeypatch.setenv("LAB_ROOT", str(root))
    return root


@pytest.mark.parametrize("command", [["list"], ["check"], ["hint", "1"], ["reset"], ["update"]])
def test_outside_any_workspace_exercise_commands_say_run_lab_init(outside: Path, command: list[str]) -> None:
    result = lab(*command)
    assert result.exit_code == 2 and result.stderr.strip() == NO_WORKSPACE and result.stdout == ""


def test_bare_lab_outside_is_the_help_and_inside_says_where_you_are(tmp_path: Path) -> None:
    out = lab_process(cwd=tmp_path)
    assert out.returncode == 2 and "Usage: lab" in out.stderr and "init" in out.stderr
    assert lab_process("init", "ws", cwd=tmp_path).returncode == 0
    inside = lab_process(cwd=tmp_path / "ws" / "exercises")  # found upward, as git finds a repository
    assert inside.returncode == 0, inside.stderr
    lines = inside.stdout.splitlines()
    assert lines[0] == f"lab workspace {(tmp_path / 'ws').resolve()}: 0 of {EXERCISES} pass"
    assert lines[1].startswith("you are on exercise-1: The sleepy endpoint")
    assert "`lab check`" in lines[2]


def test_init_then_init_again_then_update(outside: Path) -> None:
    (outside / "notes.txt").write_text("mine\n")
    made = lab("init")
    assert made.exit_code == 0, made.output
    assert "made a lab workspace" in made.stdout and "next: lab check exercise-1" in made.stdout
    assert (outside / "notes.txt").read_text() == "mine\n"
    again = lab("init")
    assert again.exit_code == 0 and "nothing changed" in again.stdout
    listed = lab("list")
    assert listed.exit_code == 0 and f"0 of {EXERCISES} pass" in listed.stdout
    updated = lab("update")
    assert updated.exit_code == 0, updated.output
    assert updated.stdout.strip().endswith("your progress is unchanged")
    assert f"{EXERCISES + 2} already current" in updated.stdout  # the exercises, info.toml, their README


def test_init_where_nothing_can_be_written_is_one_line(outside: Path) -> None:
    (outside / "a-file").write_text("")
    result = lab("init", "a-file/ws")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot create a lab workspace") and len(result.stderr.splitlines()) == 1


def test_update_in_a_clone_says_git_pull(project: Path) -> None:
    result = lab("update")
    assert result.exit_code == 2 and "git pull" in result.stderr


def test_a_pass_says_next_and_unlocks_the_solution_hint_and_bare_solution(project: Path) -> None:
    """Issue 23, items 12 and 13."""
    for _ in range(3):
        lab("hint", "1")
    locked = lab("hint", "1")
    assert "Pass `lab check exercise-1` to unlock" in locked.stdout
    shutil.copy(FIXED_SLEEP, project / "exercises" / "exercise_01_sleep.py")
    passed = lab("check", "1")
    assert passed.exit_code == 0, passed.output
    assert "next: exercise-2" in passed.stdout
    shown = lab("solution")  # right after the pass: the exercise that passed, not the new current one
    assert shown.exit_code == 0 and shown.stdout == (project / "solutions" / "exercise_01_sleep.py").read_text()
    hint = lab("hint", "1")
    assert "unlock" not in hint.stdout and "you passed it" in hint.stdout


def test_bare_reset_resets_the_current_exercise_and_unmarks_it(project: Path) -> None:
    """Issue 23, items 6 and 13: `lab reset` defaults as hint, check and solution do; the original does not pass."""
    lab("list")  # outside git, the lab keeps its originals on first sight: before the learner's edit
    store = ProgressStore(project)
    progress = store.load()
    progress.done.add("exercise-2")
    progress.current = "exercise-2"
    store.save(progress)
    mine = project / "exercises" / "exercise_02_model.py"
    mine.write_text(mine.read_text() + "# mine\n")
    result = lab("reset")
    assert result.exit_code == 0, result.output
    assert "restored exercises/exercise_02_model.py" in result.stdout and "saved as" in result.stdout
    assert "exercise-2" not in store.load().done
    assert "0 of 3 pass" in lab("list").stdout


def _row(exercise: str, passed: bool) -> dict[str, object]:
    check = {"name": "loop_lag", "passed": passed, "reason": "the event loop was blocked for 1,000 ms"}
    return {"exercise": exercise, "title": "Title", "passed": passed, "verdict": "", "reasons": [], "checks": [check]}


def test_class_report_reads_the_labs_own_json(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    everything = {"results": [_row("exercise-1", True), _row("exercise-2", False)], "passed": 1, "total": 2}
    (folder / "ada.json").write_text(json.dumps(everything))  # `lab check --all --json`
    (folder / "bob.json").write_text(json.dumps(_row("exercise-2", False)))  # `lab check 2 --json`
    result = lab("class", "report", str(folder), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["learners"] == 2 and summary["skipped"] == []
    by_id = {e["exercise"]: e for e in summary["exercises"]}
    assert (by_id["exercise-1"]["passed"], by_id["exercise-2"]["failed"]) == (1, 2)
    assert by_id["exercise-2"]["reasons"][0] == {
        "check": "loop_lag",
        "count": 2,
        "example": "the event loop was blocked for 1,000 ms",
    }


MOUNTS = r"""rootfs / rootfs rw 0 0
C:\134 /mnt/c drvfs rw,noatime 0 0
server:/home /mnt/c/my\040docs nfs4 rw 0 0
tmpfs /mnt/cc tmpfs rw 0 0
"""


def test_watch_polls_where_the_file_system_sends_no_events(tmp_path: Path) -> None:
    assert mount_type(Path("/mnt/c/Users/ada/lab/exercises/x.py"), MOUNTS) == "drvfs"
    assert mount_type(Path("/mnt/c/my docs/x.py"), MOUNTS) == "nfs4"  # the longest mount point, spaces decoded
    assert mount_type(Path("/mnt/cc/x.py"), MOUNTS) == "tmpfs"  # a prefix of the text is not a parent
    mounts = tmp_path / "mounts"
    mounts.write_text(MOUNTS)
    reason = polling_reason(Path("/mnt/c/lab/exercises/x.py"), mounts)
    assert reason is not None and "drvfs" in reason
    assert polling_reason(Path("/home/x.py"), mounts) is None
    assert polling_reason(Path("/x.py"), tmp_path / "no-proc") is None
    assert {"9p", "drvfs", "nfs", "cifs"} <= NO_EVENTS


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_wheel_installed_with_pip_works_from_an_empty_folder(tmp_path: Path) -> None:
    """The issue's proof: no uv and no clone on the path, only the wheel, pip and the registry pip reaches."""
    if shutil.which("uv") is None:
        pytest.skip("builds the wheel with uv")
    began = time.monotonic()
    subprocess.run(["uv", "build", "--wheel", "--out-dir", str(tmp_path / "dist"), str(PROJECT_ROOT)], check=True)
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    venv.EnvBuilder(with_pip=True).create(tmp_path / "venv")
    bindir = tmp_path / "venv" / "bin"
    subprocess.run([bindir / "pip", "install", "--quiet", "--disable-pip-version-check", wheel], check=True)
    installed = time.monotonic()
    home = tmp_path / "learner"
    home.mkdir()
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [bindir / "lab", *args], cwd=home, env=env, capture_output=True, text=True, timeout=300, check=False
        )

    assert run("list").stderr.strip() == NO_WORKSPACE
    assert run("init").returncode == 0
    assert f"0 of {EXERCISES} pass" in run("list").stdout
    assert not (home / "solutions").exists()
    failing = run("check", "exercise-1")
    assert failing.returncode == 1 and "FAILED" in failing.stdout, failing.stdout + failing.stderr
    shown = run("solution", "exercise-1", "--force")
    assert shown.returncode == 0 and "def predict" in shown.stdout
    (home / "exercises" / "exercise_01_sleepy_endpoint.py").write_text(shown.stdout)
    passing = run("check", "exercise-1")
    assert passing.returncode == 0 and "next: exercise-2" in passing.stdout, passing.stdout + passing.stderr
    assert "lab workspace" in run().stdout
    updated = run("update")
    assert updated.returncode == 0 and "1 of yours kept" in updated.stdout, updated.stdout + updated.stderr
    took = time.monotonic() - installed
    print(f"\nbuild + pip install {installed - began:.1f} s, lab init to a passing check and update {took:.1f} s")
