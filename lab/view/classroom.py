"""`lab class report`: one row per exercise, how many pass, and the misconceptions to teach again."""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from lab.course.report import ClassSummary


def class_table(summary: ClassSummary) -> RenderableType:
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), pad_edge=False)
    table.add_column("exercise", no_wrap=True)
    table.add_column("pass", justify="right", no_wrap=True)
    table.add_column("most common reasons for failing (learners)")
    for e in summary.exercises:
        share = e.passed / e.attempted if e.attempted else 0.0
        style = "green" if share >= 0.8 else "yellow" if share >= 0.5 else "red"
        reasons = Text()
        for number, reason in enumerate(e.reasons):
            if number:
                reasons.append("\n")
            reasons.append(f"{reason.check} ({reason.count})", style="bold")
            if reason.example:
                reasons.append(f": {reason.example}", style="dim")
        table.add_row(
            Text.assemble((e.exercise, "bold"), f" {e.title}" if e.title else ""),
            Text(f"{e.passed}/{e.attempted}", style=style),
            reasons if e.reasons else Text("-", style="dim"),
        )
    heading = Text.assemble(("lab class report", "bold magenta"), f" · {summary.learners} learners")
    if summary.skipped:
        heading.append(f" · {len(summary.skipped)} files skipped", style="yellow")
    return Group(heading, table)
