"""Rendering for the exercises: the catalog list, a check's verdict, a walkthrough side by side.

Results in, rich renderables out; the timelines are `lab.view.burst`'s, drawn on one time scale for
the learner and the solution, so the picture compares honestly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.rule import Rule
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from lab.course.catalog import Catalog, Exercise
from lab.course.progress import Progress
from lab.course.results import CheckResult, Run
from lab.durations import duration
from lab.load.verdict import site_sentence, unawaited_sentence
from lab.view.burst import timeline

if TYPE_CHECKING:
    from lab.course.lint import Finding  # annotations only: lint imports lab.workloads (asyncio, anyio)
    from lab.load.kubelet import KubeletReport

RUNTIME_MIN_STALL_S = 0.1
MAX_TIMELINE_ROWS = 20  # beyond this a timeline stops being a picture (evenly spaced rows stand for the rest)


def exercise_list(catalog: Catalog, progress: Progress) -> Table:
    table = Table(title="Exercises", title_justify="left", box=None, pad_edge=False)
    table.add_column("")
    table.add_column("id", style="bold")
    table.add_column("title")
    table.add_column("file", style="dim")
    for exercise in catalog.exercises:
        mark = Text("✓", style="green") if exercise.id in progress.done else Text("·", style="dim")
        title = Text(exercise.title)
        if exercise.id == progress.current:
            title += Text("  ← current", style="yellow")
        table.add_row(mark, exercise.id, title, f"exercises/{exercise.file}")
    done = sum(1 for e in catalog.exercises if e.id in progress.done)
    table.caption = f"{done} of {len(catalog.exercises)} pass (each at its last check)"
    return table


def verdict_line(result: CheckResult) -> Text:
    style = "bold green" if result.passed else "bold red"
    text = Text(f"{result.exercise.id} ", style="bold") + Text(result.exercise.title)
    return text + Text(" — ") + Text(result.verdict.upper(), style=style) + Text(f"  ({result.elapsed_s:.1f} s)", "dim")


def check_report(result: CheckResult) -> RenderableType:
    """What `lab check` prints: the verdict, why, and (when it failed) the lines to look at."""
    parts: list[RenderableType] = [verdict_line(result), _reasons(result.reasons, result.passed)]
    # Said either way: a verdict reached on a second burst is still the verdict, and a slow check says why.
    parts += [Text(f"  ({why})", style="dim") for why in result.remeasured]
    if not result.passed:
        runtime = _runtime(result)
        if result.findings or runtime:
            parts += [Text("Lines to look at:", style="bold"), findings_table(result.exercise, result.findings)]
            parts += runtime
        parts.append(Text(f"Stuck? `lab hint {result.exercise.id}` shows one hint at a time.", style="dim"))
    return Group(*parts)


def _runtime(result: CheckResult) -> list[RenderableType]:
    """What the server saw at run time: the line that held the event loop, a coroutine never awaited."""
    if result.learner is None:
        return []
    m = result.learner.measurement
    # A stall shorter than this is a busy machine's noise, not a line to fix.
    held = [site for site in m.blocking[:1] if site.file and site.stalled_s >= RUNTIME_MIN_STALL_S]
    lines = [Text("  runtime: ", style="bold yellow") + Text(site_sentence(site)) for site in held]
    lines += [Text("  runtime: ", style="bold yellow") + Text(unawaited_sentence(c)) for c in m.unawaited[:1]]
    return list(lines)


def _reasons(reasons: Sequence[str], passed: bool) -> Text:
    bullet = "✓ " if passed else "✗ "
    style = "green" if passed else "red"
    text = Text()
    for reason in reasons:
        text += Text("  " + bullet, style=style) + Text(reason + "\n")
    return text


def findings_table(exercise: Exercise, findings: Iterable[Finding]) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="cyan", no_wrap=True)
    table.add_column(style="yellow", no_wrap=True)
    table.add_column()
    for finding in findings:
        table.add_row(f"  {exercise.file}:{finding.line}", finding.code, finding.message)
    return table


def comparison_table(learner: Run | None, solution: Run | None) -> Table:
    """The two servers' numbers in two columns."""
    table = Table(box=None, pad_edge=False)
    table.add_column("", style="bold")
    table.add_column("your code")
    table.add_column("solution")
    rows: list[tuple[str, str, str]] = []
    for label, read in _ROWS:
        rows.append((label, read(learner), read(solution)))
    for kind in ("counters", "gauge_peaks"):
        names = sorted({n for r in (learner, solution) if r for n in getattr(r.measurement, kind)})
        for name in names:
            rows.append((name.replace("_", " "), _named(learner, kind, name), _named(solution, kind, name)))
    if any(r is not None and r.measurement.kubelet is not None for r in (learner, solution)):
        rows += [(label, read(learner), read(solution)) for label, read in _KUBELET_ROWS]
    for row in rows:
        table.add_row(*row)
    return table


def _kubelet_row(read: Callable[[KubeletReport], str]) -> Callable[[Run | None], str]:
    """A row of what the kubelet decided (steady traffic with probes): `-` for a run without probes."""
    return lambda run: "-" if run is None or run.measurement.kubelet is None else read(run.measurement.kubelet)


def _failed_probes(report: KubeletReport, kind: str) -> str:
    counts = report.counts.get(kind)
    return "-" if counts is None else f"{sum(counts.values()) - counts['ok']} of {sum(counts.values())}"


_KUBELET_ROWS = [
    ("kubelet restarts", _kubelet_row(lambda k: str(k.restarts))),
    ("liveness failed", _kubelet_row(lambda k: _failed_probes(k, "liveness"))),
    ("readiness failed", _kubelet_row(lambda k: _failed_probes(k, "readiness"))),
    ("out of rotation", _kubelet_row(lambda k: duration(k.out_of_rotation_s))),
]


def _named(run: Run | None, kind: str, name: str) -> str:
    if run is None:
        return "-"
    value = getattr(run.measurement, kind).get(name)
    return "-" if value is None else str(value)


def _status(run: Run | None) -> str:
    if run is None:
        return "-"
    m = run.measurement
    text = f"{m.ok}/{m.requests} ok"
    if m.ok < m.requests:
        problems = [f"[{code}] {n}" for code, n in m.status_counts.items() if not code.startswith("2")]
        problems += [f"{kind}: {n}" for kind, n in m.errors.items()]
        text += "  " + ", ".join(problems)
    return text


def _peak_in_handlers(run: Run | None) -> str:
    """The burst's own requests in a handler at once: the mid-burst `/health` probe is not one of them (20 for a
    burst of 20, never 21). A server that did not count its path: requests inside the app, probe included."""
    if run is None:
        return "-"
    m = run.measurement
    if m.peak_in_handler:
        return str(m.peak_in_handler)
    return f"{m.peak_in_flight} inside the app" + (", the probe included" if m.probe_s is not None else "")


def _latency(run: Run | None) -> str:
    lat = run.summary.latency if run else None
    return "-" if lat is None else f"{duration(lat.p50)} / {duration(lat.max)}"


_ROWS = [
    ("requests", _status),
    ("wall", lambda r: "-" if r is None else duration(r.summary.wall_s)),
    ("latency p50 / max", _latency),
    ("peak in handlers", _peak_in_handlers),
    (
        "longest loop stall",
        lambda r: "-" if r is None or not r.measurement.has_stats else duration(r.measurement.loop_lag_max_s),
    ),
    ("probe", lambda r: "-" if r is None else duration(r.measurement.probe_s)),
    ("thread tokens at peak", lambda r: "-" if r is None else f"{r.measurement.tokens_peak}"),
    ("server processes", lambda r: "-" if r is None else str(r.measurement.pids)),
]


def walkthrough(result: CheckResult) -> RenderableType:
    """What `lab run` prints: the lesson, both timelines on one scale, the numbers, the verdict."""
    exercise = result.exercise
    parts: list[RenderableType] = [
        Text(f"{exercise.id}: {exercise.title}", style="bold underline"),
        Text(exercise.lesson, style="italic"),
        Text(""),
        Text(_burst_line(exercise), style="dim"),
    ]
    runs = [r for r in (result.learner, result.solution) if r is not None]
    scale = max((r.summary.wall_s for r in runs), default=0.0)
    for label, run in (("your code", result.learner), ("solution", result.solution)):
        if run is None:
            continue
        # The two files share a name: the folder says which is which (exercises/ or solutions/).
        parts += [Text(""), Text(f"{label}: {run.file.parent.name}/{run.file.name}", style="bold")]
        parts.append(timeline(run.samples, scale, max_rows=MAX_TIMELINE_ROWS))
    if runs:
        parts += [Text(""), comparison_table(result.learner, result.solution)]
        note = each_slower_all_sooner(result.learner, result.solution, sustained=exercise.burst.sustained_s > 0)
        if note:
            parts.append(Text(note, style="yellow"))
    parts += [Text(""), check_report(result)]
    return Group(*parts)


SOONER = 0.9  # a median 10% longer and a burst 10% shorter: more than a busy machine's noise either way


def each_slower_all_sooner(learner: Run | None, solution: Run | None, *, sustained: bool = False) -> str | None:
    """Said beside the figures when one side's requests each took longer while its burst ended sooner.

    Requests that run at the same time share the cores: each takes longer than it would alone, and all
    of them finish sooner than taking turns. On a busy machine the median alone reads as the parallel
    side being slower (exercise 13: the solution's p50 1,669 ms against the broken file's 1,037 ms).
    `sustained`: the burst kept requests in flight for a while; its wall is then the time per answer.
    """
    sides = [("the solution", solution, learner), ("your code", learner, solution)]
    for name, run, other in sides:
        if run is None or other is None or not run.summary.latency or not other.summary.latency:
            continue
        p50, other_p50 = run.summary.latency.p50, other.summary.latency.p50
        wall, other_wall = run.measurement.wall_s, other.measurement.wall_s
        if not (SOONER * p50 > other_p50 and wall < SOONER * other_wall):
            continue
        done = "it answered more requests in the time" if sustained else "its burst ended sooner"
        return (
            f"{name.capitalize()}: each request took longer (p50 {duration(p50)} against {duration(other_p50)}), "
            f"yet {done} ({duration(wall)} {'per answer ' if sustained else ''}against {duration(other_wall)}): "
            "its requests ran at the same time, sharing the cores, so each took longer than alone and all of "
            "them finished sooner than taking turns."
        )
    return None


def _burst_line(exercise: Exercise) -> str:
    t = exercise.traffic
    if t is not None:  # steady traffic with the kubelet's probes beside it
        probes = "; ".join(spec.describe() for spec in t.probes)
        return f"Traffic: {t.method} {t.path}, {t.rate:g} requests/s for {t.duration_s:g} s; probes: {probes}"
    b = exercise.burst
    how = f"for {b.sustained_s:g} s, {b.concurrency or b.requests} at a time" if b.sustained_s else ""
    how = how or (f"{b.requests} requests, {b.concurrency} at a time" if b.concurrency else f"{b.requests} at once")
    extra = [f"probe GET {b.probe} mid-burst"] if b.probe else []
    extra += [f"{b.workers} workers"] if b.workers > 1 else []
    extra += ["with the fake feature store"] if b.with_store else []
    return f"Burst: {b.method} {b.path}, {how}" + "".join(f"; {e}" for e in extra)


def hint_text(exercise: Exercise, shown: int, *, passed: bool = False) -> RenderableType:
    """The hints so far, newest last; a long hint wraps under its own first line, not under "hint 1/3"."""
    hints = Table.grid(padding=(0, 1))
    hints.add_column(style="cyan", no_wrap=True)
    hints.add_column()
    for number, hint in enumerate(exercise.hints[:shown], start=1):
        style = "bold" if number == shown else "dim"
        hints.add_row(f"  hint {number}/{len(exercise.hints)}:", Text(hint, style=style))
    parts: list[RenderableType] = [Text(f"{exercise.id}: {exercise.title}", style="bold"), hints]
    if shown >= len(exercise.hints):
        unlock = (
            f"`lab solution {exercise.id}` shows the reference solution: you passed it."
            if passed
            else f"Pass `lab check {exercise.id}` to unlock `lab solution {exercise.id}`."
        )
        parts.append(Text(f"That was the last hint. {unlock}", style="dim"))
    return Group(*parts)


def fit_pipe(console: Console, renderable: RenderableType) -> None:
    """Widen a console that is not a terminal to the renderable's natural width.

    A pipe has no width, so rich assumes 80 columns and cuts long cells (`exercises/exercise_01_sleepy_e…`);
    grep and friends want the whole path.
    """
    if not console.is_terminal:
        natural = Measurement.get(console, console.options.update_width(10_000), renderable).maximum
        console.width = max(console.width, natural)


def solution_view(file: str, text: str, *, highlight: bool) -> RenderableType:
    """The solution's source, line for line as the file has it: highlighted on a terminal, raw in a pipe.

    Never wrapped at the console's width: a wrapped line of Python is no longer Python, and the code is
    there to be copied or redirected (a line wider than the terminal is the terminal's to fold).
    """
    from rich.syntax import Syntax

    body = Syntax(text, "python", background_color="default").highlight(text) if highlight else Text(text)
    body.rstrip()
    return Group(Text(f"# solutions/{file}", style="bold"), Unwrapped(body))


class Unwrapped:
    """A text printed as it is: its own line breaks only, no wrapping, cropping or padding to the console."""

    def __init__(self, text: Text) -> None:
        self.text = text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.text.render(console)
        yield Segment.line()


def exercise_banner(exercise: Exercise) -> RenderableType:
    return Group(Rule(f"{exercise.id}: {exercise.title}"), Text(exercise.lesson, style="italic"))


def watching_line(exercise: Exercise) -> Text:
    return Text(f"Watching exercises/{exercise.file}: save it to check again.", style="dim")


@contextlib.contextmanager
def checking(exercise: Exercise, position: int = 1, total: int = 1) -> Iterator[None]:
    """A spinner on stderr while one check runs ("3/12 exercise-3 ..." under `--all`), gone when it ends.

    Only on a terminal: in a pipe or a log it would be noise. Transient, and nothing else prints while it
    spins, so the verdict lines on stdout stay whole.
    """
    err = Console(stderr=True)
    if not err.is_terminal:
        yield
        return
    count = f"{position}/{total} " if total > 1 else ""
    what = f"checking {count}{exercise.id}: {exercise.title} (starting your file and the solution, then the burst)"
    with err.status(Text(what), spinner="dots"):
        yield
