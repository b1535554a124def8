"""The whole test suite, run again and again beside two CPU burners: does any test flake on a busy machine?

    python -m bench.stress_suite                          # 5 runs of what `make test` runs
    python -m bench.stress_suite --runs 1 -- tests/test_safety.py -k interrupting

A test must pass on a loaded 2-core machine every single time; a test that passes alone and fails
in the full suite beside other work costs a whole CI round. The burners are `make stress`'s
(`bench.stress.busy_machine`): two processes burning a core each for the whole run. Each run is a
fresh `pytest` process in its own session, cut off (its whole process group) at `--run-timeout`;
the whole run is bounded too. Per run: passed, failed, and the ids of the tests that failed; then
one summary line (goal: 0 failed).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from bench.stress import busy_machine

# What `make test` runs (its pytest arguments): the default when none are given after `--`.
SUITE = ["tests", "notebooks", "--nbmake", "--nbmake-kernel=python3", "--nbmake-timeout=300"]
RUN_TIMEOUT_S = 45 * 60.0  # one run of the whole suite takes 11+ minutes on a quiet 2-core machine
MAX_RUNS = 20
MAX_TOTAL_S = 6 * 3600.0  # the whole stress run, whatever --runs says

# pytest's short summary (-rfE): "FAILED tests/x.py::test_y[a] - AssertionError: ..." and "ERROR tests/x.py::..."
_FAILED_LINE = re.compile(r"^(FAILED|ERROR) (\S+)")
# Its last line: "= 3 failed, 1205 passed, 2 skipped in 700.12s =" (counts in any order).
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)\b")


@dataclass
class Run:
    passed: int = 0
    failed: int = 0  # failed tests and errors in set-up or tear-down
    failing: list[str] = field(default_factory=list)
    note: str = ""  # why the run has no verdict of its own (cut off, pytest could not run)


def parse(output: str) -> Run:
    """Counts and failing test ids from pytest's output (`-q -rfE`)."""
    run = Run()
    for line in output.splitlines():
        if (match := _FAILED_LINE.match(line)) and match.group(2) not in run.failing:
            run.failing.append(match.group(2))
    summary = next((line for line in reversed(output.splitlines()) if _COUNT.search(line)), "")
    for number, kind in _COUNT.findall(summary):
        if kind == "passed":
            run.passed = int(number)
        elif kind in ("failed", "error", "errors"):
            run.failed += int(number)
    return run


def run_suite(pytest_args: list[str], timeout_s: float) -> Run:
    """One pytest run in its own session, so that a run cut off takes everything it started with it."""
    command = [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", *pytest_args]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        output, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        run = parse(output)
        run.note = f"cut off after {timeout_s / 60:.0f} min"
        run.failed += 1
        return run
    run = parse(output)
    if proc.returncode not in (0, 1):  # 2-5: interrupted, internal error, usage error, no tests collected
        run.note = f"pytest exited {proc.returncode}: " + " | ".join(output.strip().splitlines()[-3:])[:300]
        run.failed += 1
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stress_suite", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--run-timeout", type=float, default=RUN_TIMEOUT_S, help="seconds per run")
    parser.add_argument("pytest_args", nargs="*", help="after --: what to run (default: what `make test` runs)")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= MAX_RUNS or not 0 < args.run_timeout <= MAX_TOTAL_S:
        print(f"error: --runs must be 1-{MAX_RUNS} and --run-timeout 1-{MAX_TOTAL_S:.0f} s", file=sys.stderr)
        return 2
    pytest_args = args.pytest_args or SUITE
    began = time.monotonic()
    runs: list[Run] = []
    with busy_machine(MAX_TOTAL_S):
        for number in range(1, args.runs + 1):
            left = MAX_TOTAL_S - (time.monotonic() - began)
            if left <= 0:
                print(f"stopped before run {number}: the whole stress run is bounded at {MAX_TOTAL_S / 3600:.0f} h")
                break
            run = run_suite(pytest_args, min(args.run_timeout, left))
            runs.append(run)
            note = f" ({run.note})" if run.note else ""
            print(f"run {number}/{args.runs}: {run.passed} passed, {run.failed} failed{note}", flush=True)
            for test_id in run.failing:
                print(f"  FAILED {test_id}", flush=True)
    failed_runs = sum(1 for run in runs if run.failed)
    took = (time.monotonic() - began) / 60
    print(
        f"{len(runs)} run(s) of `pytest {' '.join(pytest_args)}` beside 2 CPU burners, {took:.1f} min: "
        f"{sum(run.failed for run in runs)} failure(s) in {failed_runs} run(s) (goal: 0)"
    )
    return 1 if failed_runs or not runs else 0


if __name__ == "__main__":
    sys.exit(main())
