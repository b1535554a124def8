"""One figure of `make bench`: what was measured, beside its target and, where there is one, its floor.

A floor is the least the figure could be on this machine, measured in the same run: for a check,
`import fastapi` (a server must import it) plus the solution's own burst time (the check must
measure at least that). A figure far above its floor has time to win back; a missed target is
printed as MISSED, never as a bare number.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

FIGURES: list[Figure] = []  # every figure of this run, in order, for the summary table


@dataclass(frozen=True)
class Figure:
    what: str
    measured: str
    target: str
    ok: bool
    floor: str = ""
    ratio: float | None = None  # measured / floor, when the floor is a time

    @property
    def status(self) -> str:
        return "ok" if self.ok else "MISSED"

    def line(self) -> str:
        floor = f"   floor {self.floor} (x{self.ratio:.2f})" if self.floor else ""
        return f"{self.what}: {self.measured}{floor}   target {self.target}: {self.status}"

    def row(self) -> str:
        floor = f"{self.floor}, x{self.ratio:.2f}" if self.floor and self.ratio is not None else self.floor
        return f"| {self.what} | {self.measured} | {floor or '-'} | {self.target} | {self.status} |"


def record(figure: Figure) -> Figure:
    FIGURES.append(figure)
    print(figure.line(), flush=True)
    return figure


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def timed_run(args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 600) -> tuple[float, int, str]:
    """Wall time, exit code and stdout of one command."""
    began = time.perf_counter()
    done = subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return time.perf_counter() - began, done.returncode, done.stdout


def alternating_medians(commands: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """The median of each timing, taken in alternating rounds so a busy spell hits them alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, measure in commands.items():
            times[name].append(measure())
    return {name: statistics.median(values) for name, values in times.items()}


def python(*code: str) -> list[str]:
    return [sys.executable, *code]


def summary(started: float) -> None:
    missed = [f for f in FIGURES if not f.ok]
    print("\n== summary (markdown, for the README) ==")
    print("| what | measured | floor (same run), ratio | target | |")
    print("|---|---|---|---|---|")
    for figure in FIGURES:
        print(figure.row())
    print(f"\n{len(FIGURES) - len(missed)} of {len(FIGURES)} targets met", end="")
    print(f"; MISSED: {', '.join(f.what for f in missed)}" if missed else "")
    print(f"(the whole benchmark took {time.perf_counter() - started:.0f} s)")
