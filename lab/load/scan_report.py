"""`lab scan`'s report as data: its JSON (`--json`) and JUnit XML (`--junit FILE`). Pure, but for `write_junit`.

`lint` maps `(method, path)` to the lint findings of that route's code, already worded
(`main.py:27 ASYNC251 ...`): the lint is run by the course layer (`lab.course.scan_lint`), which this one
cannot import. JUnit follows junit-10.xsd as `lab check`'s does (lab.course.report): one suite, one test
case per route, failing when the route held the event loop; routes not scanned are skipped cases.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.load.scan import RouteResult, ScanReport
from lab.load.verdict import site_sentence

__all__ = ["Lint", "junit_xml", "route_json", "scan_json", "write_junit"]

Lint = Mapping[tuple[str, str], Sequence[str]]


def route_json(result: RouteResult, lint: Lint) -> dict[str, Any]:
    planned, reading, finding = result.planned, result.reading, result.finding
    server = None if reading is None else reading.server
    return {
        "method": planned.method,
        "path": planned.path,
        "request": {"path": planned.url_path, "json": planned.json_body, "generated": list(planned.generated)},
        "scanned": reading is not None,
        "not_scanned": result.not_scanned or None,
        "verdict": None if reading is None else str(reading.verdict),
        "peak_in_handler": None if server is None else server.peak_in_handler,
        "loop_lag_ms": None if server is None else round(server.loop_lag_judged_s * 1000, 1),
        "peak_token_waiters": None if server is None else server.peak_token_waiters,
        "blocking": [] if server is None else [site.to_json() for site in server.blocking],
        "ok": None if reading is None else reading.ok,
        "errors": {} if reading is None else reading.errors,
        "status_counts": {} if reading is None else reading.status_counts,
        "finding": None if finding is None else finding.to_json(),
        "lint": list(lint.get((planned.method, planned.path), ())),
        "took_s": round(result.took_s, 3),  # the probe, the burst's warm-up and read-outs, the burst
        "burst_wall_s": None if reading is None else round(reading.wall_s, 3),
    }


def scan_json(report: ScanReport, lint: Lint) -> dict[str, Any]:
    return {
        "target": report.target,
        "requests": report.requests,
        "max_lag_ms": report.max_lag_ms,
        "operations": report.operations,
        "blocking": len(report.blocking),
        "wall_s": round(report.wall_s, 3),
        "routes": [route_json(r, lint) for r in report.routes],
        "skipped": [{"method": s.method, "path": s.path, "reason": s.reason} for s in report.skipped],
    }


def _failure_text(result: RouteResult, lint: Lint) -> str:
    finding = result.finding
    lines = []
    if finding is not None:
        lesson = finding.lesson
        if lesson is not None:
            lines += [f"{lesson.name} {finding.where}", f"fix: {lesson.fix}", f"see `lab run {lesson.exercise}`"]
        if finding.line is not None:
            lines.append(site_sentence(finding.line))
    lines += [f"lint: {note}" for note in lint.get((result.planned.method, result.planned.path), ())]
    return "\n".join(lines)


def junit_xml(report: ScanReport, lint: Lint, *, timestamp: str | None = None) -> str:
    """One <testsuite> "lab scan TARGET", one <testcase> per route: a failure when it held the event loop."""
    failures = len(report.blocking)
    skipped = sum(1 for r in report.routes if r.reading is None)
    root = ET.Element("testsuites", name="lab scan", tests=str(len(report.routes)), failures=str(failures), errors="0")
    root.set("time", f"{report.wall_s:.3f}")
    suite = ET.SubElement(
        root,
        "testsuite",
        name=f"lab scan {report.target}",
        tests=str(len(report.routes)),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
        time=f"{report.wall_s:.3f}",
        id="0",
        package="lab.scan",
    )
    if timestamp is not None:
        suite.set("timestamp", timestamp)
    for result in report.routes:
        case = ET.SubElement(
            suite,
            "testcase",
            name=f"{result.planned.method} {result.planned.path}",
            classname="lab.scan",
            time=f"{result.took_s:.3f}",
        )
        if result.reading is None:
            ET.SubElement(case, "skipped", message=result.not_scanned)
        elif result.blocks and result.finding is not None:
            held = f"held the event loop {result.finding.held_s * 1000:,.0f} ms (bound {report.max_lag_ms:g} ms)"
            lesson = result.finding.lesson
            element = ET.SubElement(case, "failure", message=held, type=lesson.name if lesson else "blocking")
            element.text = _failure_text(result, lint)
        elif lint.get((result.planned.method, result.planned.path)):
            ET.SubElement(case, "system-out").text = _failure_text(result, lint)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: Path, report: ScanReport, lint: Lint) -> None:
    """`--junit FILE`: the XML written, or one line saying why it could not be."""
    try:
        path.write_text(junit_xml(report, lint), encoding="utf-8")
    except OSError as exc:
        raise LabError(f"--junit {path}: cannot write it: {exc.strerror}", usage=True) from None
