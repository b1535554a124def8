"""What a check produces: the learner's and the solution's runs, the faults found, the verdict.

Plain data, shared by the checker (`lab.course.check`), the fault finder (`lab.course.faults`), the
views and the JSON reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.course.catalog import Exercise
from lab.course.grade import Check, Measurement
from lab.load.measure import Sample, Summary
from lab.protocol import ServerStats

if TYPE_CHECKING:
    from lab.course.lint import Finding  # annotations only: lint imports lab.workloads (asyncio, anyio)

__all__ = ["FAULT_VERDICTS", "CheckResult", "Fault", "Run"]

FAULT_VERDICTS = {
    "missing": "file missing",
    "load": "does not load",
    "error": "raises errors",
    "hang": "hangs",
    "crash": "crashed",
    "leak": "leaks threads",
}


@dataclass(frozen=True)
class Fault:
    """Something the learner's code did that stopped it from being measured properly."""

    kind: str  # "load", "error", "hang", "crash", "leak", "missing"
    message: str  # one line, with `file:line` where known

    @property
    def verdict(self) -> str:
        return FAULT_VERDICTS.get(self.kind, "failed")


@dataclass(frozen=True)
class Run:
    """One server under the burst: the client's samples, the server's readings, the judge's input."""

    file: Path
    samples: list[Sample]
    summary: Summary
    measurement: Measurement
    stats: ServerStats | None
    timeout_s: float
    threads_before: int = 0  # threads in the server's processes before the burst...
    threads_after: int = 0  # ...and after it (leak detection)


@dataclass(frozen=True)
class CheckResult:
    exercise: Exercise
    learner_file: Path
    passed: bool
    reasons: list[str]
    checks: list[Check] = field(default_factory=list)
    fault: Fault | None = None
    learner: Run | None = None
    solution: Run | None = None
    findings: list[Finding] = field(default_factory=list)
    elapsed_s: float = 0.0
    pids: list[int] = field(default_factory=list)  # every server process group started (all stopped)
    remeasured: list[str] = field(default_factory=list)  # why the learner's burst was measured again, each time

    @property
    def verdict(self) -> str:
        if self.passed:
            return "passed"
        return self.fault.verdict if self.fault else "failed"

    def to_json(self) -> dict[str, Any]:
        return {
            "exercise": self.exercise.id,
            "title": self.exercise.title,
            "file": str(self.learner_file),
            "passed": self.passed,
            "verdict": self.verdict,
            "reasons": self.reasons,
            "fault": None if self.fault is None else {"kind": self.fault.kind, "message": self.fault.message},
            "checks": [{"name": c.name, "passed": c.passed, "reason": c.reason} for c in self.checks],
            "findings": [{"line": f.line, "code": f.code, "message": f.message} for f in self.findings],
            "learner": _run_json(self.learner),
            "solution": _run_json(self.solution),
            "remeasured": self.remeasured,
            "elapsed_s": round(self.elapsed_s, 3),
        }


def _run_json(run: Run | None) -> dict[str, Any] | None:
    if run is None:
        return None
    m = run.measurement
    return {
        "file": str(run.file),
        "requests": m.requests,
        "ok": m.ok,
        "wall_s": round(m.wall_s, 6),
        "peak_in_flight": m.peak_in_flight,
        "peak_in_handler": m.peak_in_handler,
        "loop_lag_max_s": round(m.loop_lag_max_s, 6),
        "blocking": [site.to_json() for site in m.blocking],
        "unawaited": [coroutine.to_json() for coroutine in m.unawaited],
        "thread_tokens_peak": m.tokens_peak,
        "counters": m.counters,
        "gauge_peaks": m.gauge_peaks,
        "pids": m.pids,
        "probe_s": None if m.probe_s is None else round(m.probe_s, 6),
        "status_counts": m.status_counts,
        "errors": m.errors,
        # Under steady traffic with probes: the kubelet's decisions and counts (its every attempt stays out).
        "kubelet": None if m.kubelet is None else m.kubelet.to_json()["kubelet"],
    }
