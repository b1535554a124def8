"""`lab load`'s views: the live last seconds while it runs, and the report at the end (rich)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from lab.durations import duration
from lab.load.kubelet import clock_text
from lab.load.latency import Second
from lab.load.verdict import site_sentence
from lab.view.burst import in_handlers

if TYPE_CHECKING:
    from lab.load.compare import LoadComparison
    from lab.load.kubelet import Decision, KubeletReport
    from lab.load.probed import ProbedResult
    from lab.load.steady import SteadyPlan, SteadyResult
    from lab.protocol import ServerStats

__all__ = ["LiveLoad", "load_comparison_report", "probed_report", "steady_report", "timeline_table"]

LIVE_SECONDS = 5  # the live view shows this many of the last seconds
REFRESH_PER_S = 2  # the live view is redrawn this often (its rows change once a second)
TIMELINE_ROWS = 20  # a longer run's timeline is folded into this many rows, each a few seconds
CASCADE_BEFORE_S, CASCADE_AFTER_S = 2, 4  # the seconds shown around each restart: the load before and after it
OUTCOME_HEADS = {"ok": "ok", "status": "bad status", "timeout": "timeout", "refused": "refused", "error": "error"}


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else duration(seconds)


def _plan_title(plan: SteadyPlan) -> str:
    return f"{plan.method.upper()} {plan.url}: {plan.rate:,.4g}/s for {plan.duration_s:g} s ({plan.sends:,} requests)"


def timeline_table(seconds: Sequence[Second], max_rows: int = TIMELINE_ROWS) -> Table:
    """One row per second, or per few seconds for a long run (then p50 and p99 are the worst second's)."""
    step = max(1, -(-len(seconds) // max_rows))
    folded = step > 1
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("t", "sent", "answered", "errors", "skipped", "in flight"):
        table.add_column(name, justify="right")
    table.add_column("worst p50" if folded else "p50", justify="right")
    table.add_column("worst p99" if folded else "p99", justify="right")
    for start in range(0, len(seconds), step):
        table.add_row(*_folded_row(seconds[start : start + step]))
    return table


def _folded_row(rows: Sequence[Second]) -> list[str | Text]:
    """Seconds folded into one row: counts summed, the most in flight, the worst p50 and p99."""
    first, last = rows[0].index, rows[-1].index
    p50 = max((r.p50_s for r in rows if r.p50_s is not None), default=None)
    p99 = max((r.p99_s for r in rows if r.p99_s is not None), default=None)
    errors = sum(r.errors for r in rows)
    skipped = sum(r.skipped for r in rows)
    return [
        f"{first}s" if first == last else f"{first}-{last}s",
        f"{sum(r.sent for r in rows):,}",
        f"{sum(r.answered for r in rows):,}",
        Text(f"{errors:,}", style="red" if errors else ""),
        Text(f"{skipped:,}", style="yellow" if skipped else ""),
        f"{max(r.in_flight for r in rows):,}",
        _ms(p50),
        _ms(p99),
    ]


def _server_rows(server: ServerStats) -> list[tuple[str, str]]:
    rows = [
        ("Server: in a handler", in_handlers(server)),
        ("Server: max loop lag", duration(server.loop_lag_max_s)),
        ("Server: thread tokens", f"{server.thread_tokens_peak} of {server.thread_tokens_total} at peak"),
    ]
    if server.peak_token_waiters:
        rows.append(("Server: waiting", f"up to {server.peak_token_waiters} request(s) for a thread token"))
    if server.blocking:
        rows.append(("Server: blocking line", site_sentence(server.blocking[0])))
    return rows


def _summary(result: SteadyResult) -> Table:
    r = result.report
    table = Table(title=_plan_title(result.plan), title_justify="left", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    lat, lag = r.latency, r.schedule_lag
    cpu = f"{result.cpu_s / r.sent * 1e6:,.0f} us" if r.sent else "-"
    rows = [
        ("Sent", f"{r.sent:,} of {result.plan.sends:,} planned, {result.achieved_rate:,.1f}/s achieved"),
        ("Answered", f"{r.answered:,}"),
        ("Errors", ", ".join(f"{kind}: {n:,}" for kind, n in r.errors.items()) or "none"),
        ("Latency p50 / p90 / p99", " / ".join(_ms(v) for v in (lat.p50, lat.p90, lat.p99))),
        ("Latency p99.9 / max", " / ".join(_ms(v) for v in (lat.p99_9, lat.max))),
        ("Schedule lag p50 / p99 / max", " / ".join(_ms(v) for v in (lag.p50, lag.p99, lag.max))),
        ("Client CPU per request", cpu),
    ]
    if r.skipped:
        rows.insert(1, ("Skipped", f"{r.skipped:,} (in-flight cap {result.plan.max_in_flight:,})"))
    if result.server is not None:
        rows += _server_rows(result.server)
    for name, value in rows:
        table.add_row(name, value)
    return table


def steady_report(result: SteadyResult) -> RenderableType:
    """Totals and percentiles, the schedule's truth, the timeline; latency counted from each scheduled send."""
    parts: list[RenderableType] = [_summary(result)]
    notes = result.notes()
    parts += [Text(f"! {note}", style="bold yellow") for note in notes]
    if not notes:
        parts.append(Text("The schedule was kept: every request left on time.", style="green"))
    parts.append(Text("Each latency counts from the request's scheduled send (open loop).", style="dim"))
    parts.append(timeline_table(result.report.timeline))
    return Group(*parts)


def _probe_table(kubelet: KubeletReport, result: ProbedResult) -> Table:
    """Each probe's attempts by outcome: ok, a bad status, a timeout, refused, another error."""
    table = Table(title=f"Probes ({result.probes.source})", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("probe")
    for head in OUTCOME_HEADS.values():
        table.add_column(head, justify="right")
    specs = {spec.kind: spec for spec in result.probes.specs}
    for kind, counts in kubelet.counts.items():
        label = specs[kind].describe() if kind in specs else kind
        cells = [Text(f"{counts[o]:,}", style="red" if counts[o] and o != "ok" else "") for o in OUTCOME_HEADS]
        table.add_row(label, *cells)
    return table


def _cascade(result: ProbedResult) -> list[RenderableType]:
    """The seconds around each restart (done, or decided by the kubelet): the load before, during and after."""
    spans = [(r.down_at_s, r.up_at_s, f"around restart {r.number}") for r in result.restarts]
    if not result.probes.restart:
        spans = [(d.at_s, d.at_s, f"around the restart decided at {clock_text(d.at_s)}") for d in _restarts(result)]
    timeline = result.steady.report.timeline
    parts: list[RenderableType] = []
    for down, up, title in spans[:3]:  # the first three tell the story; the timeline below has the rest
        rows = [s for s in timeline if int(down) - CASCADE_BEFORE_S <= s.index <= int(up) + CASCADE_AFTER_S]
        if rows:
            parts += [Text(f"Cascade {title}:", style="bold"), timeline_table(rows)]
    return parts


def _restarts(result: ProbedResult) -> list[Decision]:
    return [d for d in result.kubelet.decisions if d.action == "restart"]


def probed_report(result: ProbedResult) -> RenderableType:
    """The traffic's report, then the kubelet's: probes, decisions with their times, restarts and what they cost."""
    kubelet = result.kubelet
    parts: list[RenderableType] = [steady_report(result.steady), _probe_table(kubelet, result)]
    for decision in kubelet.decisions:
        style = "bold red" if decision.action == "restart" else "yellow" if decision.action == "unready" else ""
        parts.append(Text(f"{clock_text(decision.at_s)}  {decision.text}", style=style))
    if not kubelet.decisions:
        parts.append(Text("The kubelet took no action: every probe held.", style="green"))
    for restart in result.restarts:
        parts.append(Text(restart.sentence(result.probes.grace_s), style="bold"))
    parts += [Text(f"! {failure}", style="bold red") for failure in result.restart_failures]
    if result.restarts_skipped:
        parts.append(Text(f"! {result.restarts_skipped} more restart(s) decided, not carried out (the lab's bound)"))
    parts += [Text(line, style="bold yellow") for line in result.would_have()]
    summary = kubelet.lines()[-1]
    parts.append(Text(f"Kubelet: {summary}", style="bold"))
    parts += _cascade(result)
    return Group(*parts)


def load_comparison_report(comparison: LoadComparison) -> RenderableType:
    """One table: each twin under the same steady traffic, and what the kubelet did to it."""
    probes = comparison.probes
    title = (
        f"{comparison.scenario.name}: {comparison.rate:,.4g}/s for {comparison.duration_s:g} s at each twin, "
        f"{comparison.delay_ms} ms per request"
    )
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    heads = ["twin", "achieved rate", "p50", "p99", "errors"]
    if probes is not None:
        heads += ["restarts", "out of rotation"] + (["lost to restarts"] if probes.restart else [])
    for name in heads:
        table.add_column(name, justify="left" if name == "twin" else "right")
    for name, result in comparison.variants.items():
        table.add_row(*_twin_row(name, result))
    parts: list[RenderableType] = [table]
    if probes is not None:
        specs = "; ".join(spec.describe() for spec in probes.specs)
        what = "restarted for real" if probes.restart else "decided by the kubelet's rules, not carried out"
        parts.append(Text(f"Probes: {specs} ({probes.source}). Restarts: {what}.", style="dim"))
    parts.append(Text("Each latency counts from the request's scheduled send (open loop).", style="dim"))
    return Group(*parts)


def _twin_row(name: str, result: SteadyResult | ProbedResult) -> list[str | Text]:
    from lab.load.probed import ProbedResult

    steady = result.steady if isinstance(result, ProbedResult) else result
    r = steady.report
    errors = sum(r.errors.values())
    row: list[str | Text] = [
        name,
        f"{steady.achieved_rate:,.1f}/s",
        _ms(r.latency.p50),
        _ms(r.latency.p99),
        Text(f"{errors:,}", style="red" if errors else ""),
    ]
    if isinstance(result, ProbedResult):
        kubelet = result.kubelet
        row += [
            Text(f"{kubelet.restarts}", style="bold red" if kubelet.restarts else "green"),
            f"{kubelet.out_of_rotation_s:.1f} s",
        ]
        if result.probes.restart:
            row.append(f"{sum(restart.lost for restart in result.restarts):,}")
    return row


class LiveLoad:
    """The last seconds of a running load, redrawn as each second ends.

    with LiveLoad(plan, console) as live:
        run_steady(plan, on_second=live.second)
    """

    def __init__(self, plan: SteadyPlan, console: Console) -> None:
        self.plan = plan
        self.recent: deque[Second] = deque(maxlen=LIVE_SECONDS)
        self.totals = {"sent": 0, "answered": 0, "errors": 0, "skipped": 0}
        # Drawn by rich's own refresh thread, not in `second`: `second` runs on the load's event loop, and a
        # frame takes milliseconds to draw (~25 ms on a busy 2-core machine), every send due meanwhile late.
        self.live = Live(self._render(), console=console, refresh_per_second=REFRESH_PER_S, transient=True)

    def __enter__(self) -> LiveLoad:
        self.live.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.live.__exit__(kind, exc, tb)

    def second(self, row: Second) -> None:
        self.recent.append(row)
        for name in self.totals:
            self.totals[name] += getattr(row, name)
        self.live.update(self._render())  # a new renderable only: the refresh thread draws it

    def _render(self) -> RenderableType:
        t = self.totals
        head = Text(f"{_plan_title(self.plan)}\n", style="bold")
        head.append(
            f"so far: {t['sent']:,} sent, {t['answered']:,} answered, {t['errors']:,} errors, {t['skipped']:,} skipped",
            style="",
        )
        return Group(head, timeline_table(list(self.recent)))
