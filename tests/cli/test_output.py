"""Hostile output streams (lab.cli.output.guard_streams): a closed stdout, a terminal that cannot encode a check mark.

The real `lab` in a real subprocess: what breaks here is the interpreter's and libuv's view of fds 0-2.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exercises"
ABORTED = -6  # SIGABRT: libuv's assertion when a socket lands on the closed fd 1 (exit 134 in a shell)


def _lab_closed_stdout(*args: str) -> subprocess.CompletedProcess[str]:
    """`lab ARGS >&-`, as a shell runs it: fd 1 closed before the interpreter starts."""
    command = " ".join([sys.executable, "-m", "lab", *args]) + " >&-"
    return subprocess.run(["sh", "-c", command], stderr=subprocess.PIPE, text=True, timeout=60)


@pytest.mark.parametrize("as_json", [False, True], ids=["tables", "json"])
def test_a_burst_with_stdout_closed_ends_in_one_line(lab_url: str, as_json: bool) -> None:
    done = _lab_closed_stdout("burst", f"{lab_url}/sleep/async?delay_ms=1", "-n", "3", *(["--json"] * as_json))
    assert done.returncode not in (ABORTED, 134), done.stderr
    assert "Traceback" not in done.stderr and "Assertion" not in done.stderr
    assert done.returncode == 1
    assert done.stderr.strip() == "error: cannot write the output: standard output is closed"


def test_list_json_with_stdout_closed_ends_in_one_line() -> None:
    done = _lab_closed_stdout("list", "--json")
    assert "Traceback" not in done.stderr
    assert (done.returncode, done.stderr.strip()) == (1, "error: cannot write the output: standard output is closed")


@pytest.fixture
def passing_project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FIXTURES, root)
    shutil.copy(FIXTURES / "faults" / "fixed_sleep.py", root / "exercises" / "exercise_01_sleep.py")
    return root


@pytest.mark.parametrize("encoding", ["latin-1", "ascii"])
def test_a_terminal_that_cannot_encode_gets_replacements_not_a_traceback(
    lab_url: str, passing_project: Path, encoding: str
) -> None:
    env = {**os.environ, "PYTHONIOENCODING": encoding, "LAB_ROOT": str(passing_project)}
    commands = [
        ["list"],
        ["burst", f"{lab_url}/sleep/async?delay_ms=1", "-n", "3"],
        ["check", "exercise-1"],
        ["hint", "exercise-1"],
    ]
    for args in commands:
        done = subprocess.run(
            [sys.executable, "-m", "lab", *args], capture_output=True, timeout=120, env=env, stdin=subprocess.DEVNULL
        )
        err = done.stderr.decode(encoding, errors="replace")
        assert "Traceback" not in err and "UnicodeEncodeError" not in err, (args, err[-1500:])
        assert done.returncode == 0, (args, err)
        done.stdout.decode(encoding)  # what was printed is valid text in the terminal's encoding
        assert done.stdout.strip(), args
