"""`lab class report`: one row per exercise, how many pass, and the misconceptions to teach again."""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from lab.course.grade import LABELS, MADE
from lab.course.report import ClassSummary

# What each failed check means, in a teacher's words (the JSON keeps the ids: `loop_lag`, `gauge:sdk_in_flight`).
CHECK_WORDS = {
    "all_ok": "requests failed",
    "stats": "no readings from the server",
    "loop_lag": "the event loop was blocked",
    "overlap": "requests did not run at the same time",
    "work_time": "the work was skipped",
    "unawaited": "a coroutine was never awaited",
    "median": "typical answers slower than the solution's",
    "wall_ratio": "the burst slower than the solution's",
    "probe": "/health answered late mid-burst",
    "tokens": "thread tokens",
    "intra_op": "too many intra-op threads per call",
    "intra_op_race": "the intra-op threads setting changed per request",
    "pids": "one server process where several were needed",
    "same_response": "answers differ from the solution's",
    "load": "the file did not load",
    "error": "an endpoint raised an error",
    "hang": "the server hung",
    "crash": "the server crashed",
    "leak": "the server left something running",
    "missing": "the exercise file is missing",
}
# The part after the colon of a named check's id, by its kind.
NAMED_WORDS = {
    "work": "fewer {} than the solution",
    "counter": "wrong count of {}",
    "gauge": "{} at once",
    "fault": "{}",
}


def check_words(check: str) -> str:
    """`gauge:sdk_in_flight` -> "calls to the model SDK in flight at once": a failed check as a teacher reads it."""
    kind, _, name = check.partition(":")
    if not name:
        return CHECK_WORDS.get(kind, kind.replace("_", " "))
    if kind == "fault":
        return CHECK_WORDS.get(name, f"fault: {name}")
    if kind == "made":
        return f"a new {MADE[name][0]} per request" if name in MADE else f"{name.replace('_', ' ')} per request"
    label = LABELS.get(name, name.replace("_", " ")).split(" (`", 1)[0]
    return NAMED_WORDS.get(kind, kind + ": {}").format(label)


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
            reasons.append(f"{check_words(reason.check)} ({reason.count})", style="bold")
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
