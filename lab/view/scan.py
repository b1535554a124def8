"""`lab scan`'s report (rich): one table of routes, worst first, then each finding with its line, fix and
lesson, the lint findings beside it, and what was not scanned and why; `lab lint`'s findings by file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from lab.durations import duration
from lab.load.verdict import site_text
from lab.view.theme import verdict_style

if TYPE_CHECKING:
    from lab.course.lint import Finding as LintFinding
    from lab.load.scan import RouteResult, ScanReport

__all__ = ["lint_report", "scan_report"]


def _route_row(result: RouteResult, lint: Sequence[str]) -> list[RenderableType]:
    planned, reading, finding = result.planned, result.reading, result.finding
    route = f"{planned.method} {planned.path}"
    if reading is None or finding is None:
        return [route, Text("not scanned", style="dim"), "-", "-", Text(result.not_scanned, style="dim")]
    server = reading.server
    verdict = Text(str(reading.verdict), style=verdict_style(reading.verdict.kind))
    peak = "-" if server is None else str(server.peak_in_handler)
    held = Text(duration(finding.held_s), style="bold red" if finding.blocks else "")
    lesson = finding.lesson
    if lesson is not None and finding.line is not None:
        what = Text(f"{lesson.name}: {site_text(finding.line)}", style="red" if finding.blocks else "")
    elif lesson is not None:
        what = Text(lesson.name, style="yellow")
    elif finding.blocks:
        what = Text(finding.where, style="red")
    else:
        what = Text("clean", style="green")
    if reading.ok < reading.requests:
        what.append(f"  ({reading.requests - reading.ok} of {reading.requests} failed)", style="yellow")
    if lint:
        what.append(f"  lint: {len(lint)}", style="yellow")
    return [route, verdict, peak, held, what]


def _details(report: ScanReport, lint: Mapping[tuple[str, str], Sequence[str]]) -> list[RenderableType]:
    lines: list[RenderableType] = []
    for result in report.routes:
        finding, notes = result.finding, lint.get((result.planned.method, result.planned.path), ())
        lesson = None if finding is None else finding.lesson
        if lesson is None and not notes:
            continue
        text = Text(f"{result.planned.method} {result.planned.path}", style="bold")
        if finding is not None and lesson is not None:
            text.append(f": {lesson.name} {finding.where}\n")
            if finding.line is not None:
                text.append(f"  {finding.line.file}:{finding.line.line}  {finding.line.code}\n", style="red")
            text.append(f"  fix: {lesson.fix}\n  see `lab run {lesson.exercise}`\n")
        else:
            text.append("\n")
        for note in notes:
            text.append(f"  lint: {note}\n", style="yellow")
        lines.append(text)
    return lines


def scan_report(report: ScanReport, lint: Mapping[tuple[str, str], Sequence[str]]) -> RenderableType:
    """The table (worst first), the findings in detail, what was skipped, and the one-line summary."""
    table = Table(box=box.SIMPLE_HEAD, title=f"lab scan {report.target}: {report.requests} requests at once per route")
    for name, justify in (("route", "left"), ("verdict", "left"), ("peak", "right"), ("held", "right")):
        table.add_column(name, justify=justify, no_wrap=name != "route")  # type: ignore[arg-type]
    table.add_column("finding")
    for result in report.routes:
        table.add_row(*_route_row(result, lint.get((result.planned.method, result.planned.path), ())))
    parts: list[RenderableType] = [table, *_details(report, lint)]
    if report.skipped:
        skipped = Text("skipped:\n", style="bold")
        for s in report.skipped:
            skipped.append(f"  {s.method} {s.path}: {s.reason}\n", style="dim")
        parts.append(skipped)
    scanned = sum(1 for r in report.routes if r.reading is not None)
    blocking = len(report.blocking)
    summary = (
        f"{blocking} of {scanned} scanned routes held the event loop past {report.max_lag_ms:g} ms"
        if blocking
        else f"none of {scanned} scanned routes held the event loop past {report.max_lag_ms:g} ms"
    )
    parts.append(
        Text(
            f"{summary} ({report.operations} operations in the schema, {duration(report.wall_s)} in all)",
            style="bold red" if blocking else "bold green",
        )
    )
    return Group(*parts)


def lint_report(results: Sequence[tuple[Path, Sequence[LintFinding]]]) -> RenderableType:
    """`lab lint`: each file's findings, one line each; files without any are counted, not listed."""
    text = Text()
    clean = 0
    for path, findings in results:
        if not findings:
            clean += 1
        for finding in findings:
            text.append(f"{path}:{finding.line}", style="bold")
            text.append(f" {finding.code} ", style="yellow")
            text.append(f"{finding.message}\n")
    found = sum(len(f) for _, f in results)
    text.append(f"{found} finding{'s' * (found != 1)} in {len(results) - clean} of {len(results)} files", style="bold")
    return text
