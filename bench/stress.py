"""`make stress`: every verdict the curriculum proves, measured again and again on a machine kept busy.

    python -m bench.stress                 # 10 rounds of every solution, correct and wrong alternative
    python -m bench.stress --rounds 3 -k exercise_01

Two processes burn a core each beside the checks for the whole run, as a class laptop running a
video call would. Each file is checked `--rounds` times; a verdict that differs from what the file
is (a solution or a correct alternative must pass, a wrong one must fail) counts as changed (goal: 0).
For each threshold in `exercises/info.toml`, the smallest margin seen is printed: how far the
measured value stayed from the threshold, as a factor (2.0: twice as far as needed; under 1: crossed).
Solutions and correct alternatives count every check (all must pass). Wrong fixes (and the exercises as
shipped) count every check they failed, per threshold: how far past the bound each failing figure was;
and, per file, its deciding figure, its clearest failure (one check failing clearly is what its verdict
needs), at its smallest over the rounds: one under 1.5x is a verdict within the machine's noise of its
bound, to be moved onto a count.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lab.course.catalog import BurstSpec, Exercise, Expect, load_catalog
from lab.course.check import check_exercise
from lab.course.grade import Measurement, probe_bound_ms, work_owed
from lab.course.results import CheckResult
from lab.protocol import INTRA_OP_IN_CALLS

ROOT = Path(__file__).resolve().parents[1]
ALTERNATIVES = ROOT / "tests" / "alternatives"
BURNERS = 2
MAX_STRESS_S = 4 * 3600.0  # the whole run is bounded, whatever --rounds says


def _burn(deadline: float) -> None:
    while time.monotonic() < deadline:
        pass


@contextmanager
def busy_machine(seconds: float) -> Iterator[None]:
    """Two CPU-bound processes for the duration of the `with` block (and never longer than `seconds`)."""
    deadline = time.monotonic() + seconds
    burners = [multiprocessing.Process(target=_burn, args=(deadline,), daemon=True) for _ in range(BURNERS)]
    for burner in burners:
        burner.start()
    try:
        yield
    finally:
        for burner in burners:
            burner.terminate()
            burner.join(5)


@dataclass(frozen=True)
class Case:
    exercise: Exercise
    file: Path
    should_pass: bool

    @property
    def name(self) -> str:
        return self.file.relative_to(ROOT).as_posix()


def cases(catalog_root: Path, pattern: str) -> list[Case]:
    catalog = load_catalog(catalog_root)
    by_file = {e.file: e for e in catalog.exercises}
    found = [Case(e, e.solution_path, True) for e in catalog.exercises]
    found += [Case(e, e.path, False) for e in catalog.exercises]  # as shipped: must fail
    for folder, should_pass in ((ALTERNATIVES, True), (ALTERNATIVES / "wrong", False)):
        for file in sorted(folder.glob("exercise_*__*.py")):
            found.append(Case(by_file[file.name.split("__")[0] + ".py"], file, should_pass))
    return [c for c in found if pattern in c.name]


def margins(result: CheckResult) -> dict[str, float]:
    """For each threshold of the exercise: how far the learner's value stayed on the passing side of it.

    A factor >= 1 means the value was on the passing side, by that factor; under 1, past the bound.
    """
    if result.learner is None or result.solution is None:
        return {}
    expect, burst = result.exercise.expect, result.exercise.burst
    m, s = result.learner.measurement, result.solution.measurement
    judged = {c.name.split(":")[0] for c in result.checks}
    found: dict[str, float] = {}
    for name, value, bound, upper in _figures(expect, burst, m, s):
        if value is None or bound is None or name not in judged or value <= 0 or bound <= 0:
            continue
        # > 1: the value is on the passing side; < 1: past its bound. (It was inverted for failed checks,
        # so a crossed bound never showed, and a wrong fix's failures never counted.)
        found[name] = bound / value if upper else value / bound
    return found


Figure = tuple[str, float | None, float | None, bool]  # check, measured value, its bound, whether an upper bound


def _figures(expect: Expect, burst: BurstSpec, m: Measurement, s: Measurement) -> list[Figure]:
    """Each threshold's deciding figure and bound. Counts are figures too: a count per request is the
    burst's size whatever the load, so its margin is wide, where a time's is the machine's mood."""
    figures: list[Figure] = [
        ("loop_lag", m.loop_lag_max_s * 1000, expect.max_loop_lag_ms, True),
        ("probe", None if m.probe_s is None else m.probe_s * 1000, _probe_bound(expect, s), True),
        ("median", None if m.p50_s is None else m.p50_s * 1000, expect.max_p50_ms, True),
        ("wall_ratio", m.wall_s / s.wall_s if s.wall_s > 0 else None, expect.max_wall_ratio, True),
    ]
    owed = work_owed(s)
    if m.min_handler_s is not None and owed:
        figures.append(("work_time", m.min_handler_s / owed, expect.min_work_ratio, False))
    if expect.min_overlap is not None:
        wanted = max(1, math.ceil(expect.min_overlap * burst.at_once))
        figures.append(("overlap", float(m.peak_in_handler or m.peak_in_flight), float(wanted), False))
    if expect.max_intra_op_threads is not None:
        threads = max(m.intra_op_threads, m.gauge_peaks.get(INTRA_OP_IN_CALLS, 0))
        figures.append(("intra_op", float(threads), float(expect.max_intra_op_threads), True))
    for name in expect.made_once:  # made at most max(1, the solution's): nothing made is no figure
        figures.append(("made", float(m.counters.get(name, 0)), float(max(1, s.counters.get(name, 0))), True))
    return figures


def _probe_bound(expect: Expect, solution: Measurement) -> float | None:
    return None if expect.max_probe_ms is None else probe_bound_ms(expect.max_probe_ms, solution)


NEAR = 1.5  # a wrong fix whose deciding figure sits nearer its bound than this belongs on a count (issue 22)


@dataclass
class Margins:
    """The smallest margins seen: right verdicts per threshold, wrong verdicts per threshold and per file."""

    right: dict[str, tuple[float, str]] = field(default_factory=dict)
    wrong: dict[str, tuple[float, str]] = field(default_factory=dict)  # every threshold a wrong fix failed
    deciding: dict[str, tuple[float, str]] = field(default_factory=dict)  # per wrong file: its clearest failure

    def add(self, case: Case, found: dict[str, float]) -> None:
        if case.should_pass:
            for name, factor in found.items():
                _keep_smallest(self.right, name, factor, case.name)
            return
        failing = {name: 1 / factor for name, factor in found.items() if factor < 1}  # how far past its bound
        for name, factor in failing.items():
            _keep_smallest(self.wrong, name, factor, case.name)
        if failing:  # one check failing clearly is what the verdict needs: its clearest failure decides
            name = max(failing, key=failing.__getitem__)
            _keep_smallest(self.deciding, case.name, failing[name], name)

    def lines(self) -> list[str]:
        lines = ["smallest margin per threshold, right verdicts (a factor: >= 2 wanted, < 1 crossed):"]
        for name, (factor, where) in sorted(self.right.items()):
            mark = "" if factor >= 2 else "  MISSED (under 2x)" if factor >= 1 else "  CROSSED"
            lines.append(f"  {name:<11} {factor:6.2f}x  {where}{mark}")
        lines.append("smallest margin per threshold, wrong verdicts (how far past its bound each failing figure was):")
        for name, (factor, where) in sorted(self.wrong.items()):
            lines.append(f"  {name:<11} {factor:6.2f}x  {where}")
        lines.append(f"each wrong fix's deciding figure, at its smallest (under {NEAR}x: move it onto a count):")
        for where, (factor, name) in sorted(self.deciding.items()):
            mark = f"  NEAR (under {NEAR}x)" if factor < NEAR else ""
            lines.append(f"  {factor:6.2f}x  {name:<11} {where}{mark}")
        return lines


def _keep_smallest(table: dict[str, tuple[float, str]], key: str, factor: float, note: str) -> None:
    if key not in table or factor < table[key][0]:
        table[key] = (factor, note)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stress", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("-k", default="", help="only files whose path contains this")
    args = parser.parse_args(argv)
    todo = cases(ROOT, args.k)
    if not todo or not 1 <= args.rounds <= 100:
        print("error: nothing to check (a -k that matches no file, or --rounds outside 1-100)", file=sys.stderr)
        return 2
    began = time.monotonic()
    changed: list[str] = []
    remeasured = 0  # learner bursts measured again because the machine kept them waiting for a CPU
    smallest = Margins()
    with busy_machine(MAX_STRESS_S):
        for round_number in range(1, args.rounds + 1):
            for case in todo:
                if time.monotonic() - began > MAX_STRESS_S:
                    break
                result = check_exercise(case.exercise, learner_file=case.file, lint=False)
                remeasured += len(result.remeasured)
                if result.passed != case.should_pass:
                    changed.append(f"round {round_number}: {case.name}: {result.verdict}: {'; '.join(result.reasons)}")
                    print(f"  changed: {changed[-1][:400]}", flush=True)  # as it happens: a long run may be cut
                smallest.add(case, margins(result))
            print(f"round {round_number}/{args.rounds}: {len(changed)} changed verdict(s) so far", flush=True)
    took = time.monotonic() - began
    print(f"\n{len(todo)} files x {args.rounds} rounds with {BURNERS} CPU burners beside them, {took / 60:.1f} min")
    print(f"verdicts that changed: {len(changed)} (goal: 0)")
    print(f"bursts measured again, the machine too busy to judge them: {remeasured}")
    for line in changed:
        print(f"  CHANGED {line[:400]}")
    print("\n".join(smallest.lines()))
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
