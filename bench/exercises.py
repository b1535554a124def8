"""How fast the exercises give feedback: `lab check` of a passing exercise, and `lab check --all` over the solutions.

Targets (issue 3): a passing check, server start-up included, well under 2 s; `--all` under 30 s.
The checks run in a scratch copy of the project whose exercises/ holds the solutions, so that
nothing a learner wrote in this checkout is touched.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _solved_copy(into: Path) -> Path:
    for folder in ("exercises", "solutions"):
        shutil.copytree(ROOT / folder, into / folder)
    for solution in (into / "solutions").glob("*.py"):
        shutil.copy(solution, into / "exercises" / solution.name)
    return into


def _time_check(root: Path, *args: str) -> tuple[float, int]:
    env = {**os.environ, "LAB_ROOT": str(root)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "lab", "check", *args], env=env, capture_output=True, timeout=600)
    return time.perf_counter() - started, done.returncode


def main() -> None:
    print("\n== exercise feedback: lab check on the solutions ==")
    with tempfile.TemporaryDirectory() as scratch:
        root = _solved_copy(Path(scratch))
        singles = [_time_check(root, "exercise-1") for _ in range(3)]
        median = statistics.median(t for t, _ in singles)
        passed = all(code == 0 for _, code in singles)
        print(f"lab check exercise-1 (passing): median {median:.2f} s of 3, passed={passed} (target < 2 s)")
        wall, code = _time_check(root, "--all")
        print(f"lab check --all (12 solutions): {wall:.1f} s, exit {code} (target < 30 s)")


if __name__ == "__main__":
    main()
