"""Reports of `lab check` for graders and instructors: JUnit XML, Gradescope's `results.json`, a class summary.

    xml = junit_xml(rows)                    # rows: `CheckResult.to_json()` dicts (as `lab check --json`)
    data = gradescope_results(rows)          # one learner's results.json
    summary = class_summary(reports)         # many learners' results.json, read back: who passes what, and why not

Pure: rows in, text or dicts out (the CLI reads and writes the files).

JUnit XML: the Jenkins xunit plugin's junit-10.xsd (the schema CI servers and GitLab read, kept in
tests/course/junit-10.xsd): one <testsuite> per exercise, with one <testcase> (the exercise) and one
<property> per named check ("check.loop_lag" = "failed: the event loop was blocked for up to 1,003 ms");
a failing exercise's <failure> carries every reason and the measured numbers of both runs.

Gradescope's autograder output, followed exactly as specified at
https://gradescope-autograders.readthedocs.io/en/latest/specs/#output-format : a top-level `score`,
`execution_time`, `output` and `tests`, each test with `score`, `max_score`, `status` ("passed" or
"failed"), `name`, `number`, `output`, `tags` and `extra_data`. Each exercise is one test worth 1
point; its `tags` are the names of the checks it failed (the spec's free-form tags), and `extra_data`
keeps the exercise id, verdict and every check, which `class_summary` reads back.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "REPORT_FORMAT",
    "ClassSummary",
    "ExerciseSummary",
    "Reason",
    "class_summary",
    "gradescope_results",
    "junit_xml",
    "read_results",
]

REPORT_FORMAT = "lab-check/1"  # in results.json's top-level extra_data: which tool wrote it, in which shape
TOP_REASONS = 3
_MEASURED = (
    ("wall_s", "wall", "s"),
    ("peak_in_flight", "peak in flight", ""),
    ("loop_lag_max_s", "worst loop lag", "s"),
    ("thread_tokens_peak", "thread tokens", ""),
    ("probe_s", "/health mid-burst", "s"),
)


def failed_checks(row: Mapping[str, Any]) -> list[str]:
    """The names of the checks an exercise failed; a fault (it hung, did not load) is its own reason."""
    if row.get("passed"):
        return []
    fault = row.get("fault")
    if isinstance(fault, Mapping):
        return [f"fault:{fault.get('kind', 'unknown')}"]
    names = [str(c["name"]) for c in row.get("checks", []) if not c.get("passed")]
    return names or [str(row.get("verdict") or "failed")]


def _measured(row: Mapping[str, Any]) -> list[str]:
    lines = []
    for side in ("learner", "solution"):
        run = row.get(side)
        if not isinstance(run, Mapping):
            continue
        parts = []
        for key, label, unit in _MEASURED:
            value = run.get(key)
            if value is None:
                continue
            parts.append(f"{label} {value * 1000:,.0f} ms" if unit == "s" else f"{label} {value}")
        lines.append(f"{side}: " + ", ".join(parts))
    return lines


def details(row: Mapping[str, Any]) -> str:
    """Every reason, every check and the measured numbers, one per line: what a grader shows a learner."""
    lines = [str(r) for r in row.get("reasons", [])]
    for c in row.get("checks", []):
        lines.append(f"[{'pass' if c.get('passed') else 'FAIL'}] {c['name']}: {c.get('reason', '')}")
    lines += _measured(row)
    lines += [f"line {f['line']}: {f['code']} {f['message']}" for f in row.get("findings", [])]
    return "\n".join(lines)


def junit_xml(rows: Sequence[Mapping[str, Any]], *, timestamp: str | None = None, hostname: str | None = None) -> str:
    """`lab check` as JUnit XML (junit-10.xsd): one suite per exercise, its checks as properties."""
    failures = sum(1 for r in rows if not r.get("passed") and r.get("verdict") != "lab error")
    errors = sum(1 for r in rows if r.get("verdict") == "lab error")
    total_time = sum(float(r.get("elapsed_s") or 0) for r in rows)
    root = ET.Element(
        "testsuites",
        name="lab check",
        tests=str(len(rows)),
        failures=str(failures),
        errors=str(errors),
        time=f"{total_time:.3f}",
    )
    for number, row in enumerate(rows):
        _suite(root, number, row, timestamp, hostname)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(root: ET.Element, number: int, row: Mapping[str, Any], timestamp: str | None, hostname: str | None) -> None:
    """One exercise's <testsuite>: its checks as <properties>, then its one <testcase>."""
    lab_error = row.get("verdict") == "lab error"
    failed = not row.get("passed") and not lab_error
    suite = ET.SubElement(
        root,
        "testsuite",
        name=str(row["exercise"]),
        tests="1",
        failures=str(int(failed)),
        errors=str(int(lab_error)),
        skipped="0",
        time=f"{float(row.get('elapsed_s') or 0):.3f}",
        id=str(number),
        package="lab.exercises",
    )
    if timestamp is not None:
        suite.set("timestamp", timestamp)
    if hostname is not None:
        suite.set("hostname", hostname)
    checks = list(row.get("checks", []))
    if checks:  # junit-10.xsd: <properties> holds at least one <property>
        properties = ET.SubElement(suite, "properties")
        for check in checks:
            state = "passed" if check.get("passed") else "failed"
            ET.SubElement(
                properties, "property", name=f"check.{check['name']}", value=f"{state}: {check.get('reason', '')}"
            )
    _case(suite, row, lab_error=lab_error, failed=failed)


def _case(suite: ET.Element, row: Mapping[str, Any], *, lab_error: bool, failed: bool) -> None:
    """The exercise's <testcase>: a <failure> (or an <error>, when the lab failed) with the details, or its output."""
    exercise = str(row["exercise"])
    case = ET.SubElement(
        suite,
        "testcase",
        name=f"{exercise}: {row.get('title', '')}".rstrip(": "),
        classname=f"lab.exercises.{exercise.replace('-', '_')}",
        time=f"{float(row.get('elapsed_s') or 0):.3f}",
    )
    reasons = [str(r) for r in row.get("reasons", [])]
    if failed or lab_error:
        element = ET.SubElement(
            case,
            "error" if lab_error else "failure",
            message=reasons[0] if reasons else str(row.get("verdict", "failed")),
            type=", ".join(failed_checks(row)),
        )
        element.text = details(row)
    elif reasons or row.get("checks"):
        ET.SubElement(case, "system-out").text = details(row)


def gradescope_results(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """`lab check` as Gradescope's results.json (see the module's docstring for the spec)."""
    tests = []
    for number, row in enumerate(rows, start=1):
        passed = bool(row.get("passed"))
        tests.append(
            {
                "score": 1.0 if passed else 0.0,
                "max_score": 1.0,
                "status": "passed" if passed else "failed",
                "name": f"{row['exercise']}: {row.get('title', '')}".rstrip(": "),
                "number": str(number),
                "output": details(row),
                "tags": failed_checks(row),
                "visibility": "visible",
                "extra_data": {
                    "exercise": str(row["exercise"]),
                    "verdict": str(row.get("verdict", "")),
                    "checks": [
                        {"name": str(c["name"]), "passed": bool(c.get("passed")), "reason": str(c.get("reason", ""))}
                        for c in row.get("checks", [])
                    ],
                    "reasons": [str(r) for r in row.get("reasons", [])],
                },
            }
        )
    passing = sum(1 for row in rows if row.get("passed"))
    return {
        "score": float(passing),
        "execution_time": round(sum(float(r.get("elapsed_s") or 0) for r in rows), 3),
        "output": f"{passing} of {len(rows)} exercises pass.",
        "stdout_visibility": "visible",
        "extra_data": {"format": REPORT_FORMAT, "passed": passing, "total": len(rows)},
        "tests": tests,
    }


# --- many learners --------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One learner's result on one exercise, as read back from a results.json."""

    exercise: str
    title: str
    passed: bool
    reasons: tuple[tuple[str, str], ...]  # (check name, the lesson-language reason, with that learner's numbers)


@dataclass(frozen=True)
class Reason:
    check: str
    count: int
    example: str  # one learner's own wording of it, numbers included


@dataclass(frozen=True)
class ExerciseSummary:
    exercise: str
    title: str
    attempted: int
    passed: int
    reasons: tuple[Reason, ...]  # the most common first

    def to_json(self) -> dict[str, Any]:
        return {
            "exercise": self.exercise,
            "title": self.title,
            "attempted": self.attempted,
            "passed": self.passed,
            "failed": self.attempted - self.passed,
            "reasons": [{"check": r.check, "count": r.count, "example": r.example} for r in self.reasons],
        }


@dataclass(frozen=True)
class ClassSummary:
    learners: int
    exercises: tuple[ExerciseSummary, ...]
    skipped: tuple[tuple[str, str], ...]  # (file, why it was not read)

    def to_json(self) -> dict[str, Any]:
        return {
            "learners": self.learners,
            "exercises": [e.to_json() for e in self.exercises],
            "skipped": [{"file": f, "why": why} for f, why in self.skipped],
        }


def _lab_rows(data: Any) -> list[Mapping[str, Any]] | None:
    """The rows of the lab's own `--json` report (`check --all`: {results: [...]}, a single check: one row),
    or None when `data` is not one."""
    rows: list[Mapping[str, Any]]
    if isinstance(data, Mapping) and isinstance(data.get("results"), list):
        rows = data["results"]
    elif isinstance(data, Mapping) and "exercise" in data and "passed" in data:
        rows = [data]
    else:
        return None
    if not all(isinstance(row, Mapping) and isinstance(row.get("exercise"), str) for row in rows):
        raise ValueError("a result names no exercise")
    return rows


def read_results(data: Any) -> list[Outcome]:
    """The outcomes in one report: Gradescope's results.json written by `lab check --gradescope`, or the lab's
    own `lab check [--all] --json` (read as the results.json it would have written); ValueError if neither."""
    rows = _lab_rows(data)
    if rows is not None:
        data = gradescope_results(rows)
    if not isinstance(data, Mapping) or not isinstance(data.get("tests"), list):
        raise ValueError('neither a Gradescope results.json (no "tests" list) nor `lab check --json` output')
    return [_outcome(test) for test in data["tests"]]


def _outcome(test: Any) -> Outcome:
    """One test of a results.json as an `Outcome`; ValueError if it is not one of the lab's."""
    if not isinstance(test, Mapping):
        raise ValueError("a test is not an object")
    raw_extra = test.get("extra_data")
    extra: Mapping[str, Any] = raw_extra if isinstance(raw_extra, Mapping) else {}
    name = str(test.get("name", ""))
    exercise = str(extra.get("exercise") or name.split(":")[0])
    if not exercise:
        raise ValueError("a test names no exercise")
    status = test.get("status")
    if status is None:  # the spec makes status optional: then a full score is a pass
        status = "passed" if test.get("score") == test.get("max_score") else "failed"
    passed = status == "passed"
    reasons = () if passed else _failure_reasons(test, extra)
    title = name.split(":", 1)[1].strip() if ":" in name else ""
    return Outcome(exercise, title, passed, reasons)


def _failure_reasons(test: Mapping[str, Any], extra: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """(check, reason) for a failed test: its failed checks, else its tags, else its verdict."""
    checks = [c for c in extra.get("checks", []) if isinstance(c, Mapping) and not c.get("passed")]
    said = [str(r) for r in extra.get("reasons", [])]
    tags = [str(t) for t in test.get("tags", [])]
    if checks:
        return tuple((str(c.get("name")), str(c.get("reason", ""))) for c in checks)
    if tags:
        return tuple((tag, said[0] if said else "") for tag in tags)
    return ((str(extra.get("verdict") or "failed"), said[0] if said else ""),)


def class_summary(learners: Iterable[Sequence[Outcome]], skipped: Sequence[tuple[str, str]] = ()) -> ClassSummary:
    """Which exercises pass, by how many learners, and the most common reasons for failing each."""
    attempted: Counter[str] = Counter()
    passed: Counter[str] = Counter()
    reasons: dict[str, Counter[str]] = {}
    examples: dict[tuple[str, str], str] = {}
    titles: dict[str, str] = {}
    order: dict[str, int] = {}
    count = 0
    for outcomes in learners:
        count += 1
        for outcome in outcomes:
            order.setdefault(outcome.exercise, len(order))
            titles.setdefault(outcome.exercise, outcome.title)
            attempted[outcome.exercise] += 1
            if outcome.passed:
                passed[outcome.exercise] += 1
            for check, text in dict(outcome.reasons).items():  # a check counts once per learner
                reasons.setdefault(outcome.exercise, Counter())[check] += 1
                examples.setdefault((outcome.exercise, check), text)
    exercises = tuple(
        ExerciseSummary(
            exercise=name,
            title=titles[name],
            attempted=attempted[name],
            passed=passed[name],
            reasons=tuple(
                Reason(check, n, examples[(name, check)])
                for check, n in sorted(reasons.get(name, Counter()).items(), key=lambda kv: (-kv[1], kv[0]))[
                    :TOP_REASONS
                ]
            ),
        )
        for name in sorted(order, key=_exercise_order(order))
    )
    return ClassSummary(count, exercises, tuple(skipped))


def _exercise_order(first_seen: Mapping[str, int]) -> Any:
    """exercise-2 before exercise-10; other names in the order they were first seen."""

    def key(name: str) -> tuple[int, int, str]:
        tail = name.rsplit("-", 1)[-1]
        return (0, int(tail), name) if tail.isdigit() else (1, first_seen[name], name)

    return key
