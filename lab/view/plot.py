"""Matplotlib pictures of bursts: one horizontal bar per request, from when it was sent to its answer.

    from lab import plot
    plot.timeline(result)                                          # one burst
    plot.timelines({"sync": a, "async": b, "broken": c})          # side by side, one time axis
    plot.percentiles({"async": a, "broken": c})                   # latency by percentile
    plot.probe_timeline(probed_result)                            # steady traffic and the kubelet's probes

A serialized burst is a staircase; a concurrent one is a stack of equal bars; waves are steps of
several bars. Inside each bar, a dark line marks the time the request spent inside the server's
app (the lab server's `x-lab-start` and `x-process-time`): a bar that is long before its line
was queued before the server's handler ever saw it.

Every function returns a `matplotlib.figure.Figure` (the last value of a notebook cell shows as
the picture; elsewhere call `.savefig(path)`). matplotlib comes with the `notebooks` extra
(`concurrency-lab[notebooks]`), imported only here and only when a picture is drawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from lab.load.burst import BurstResult
    from lab.load.measure import Sample
    from lab.load.probed import ProbedResult

ColorBy = Literal["status", "pid"]

OK_COLOR = "#9ecae1"  # light: the client's view of a request, from sent to answered
FAILED_COLOR = "#de2d26"
SERVER_COLOR = "#08306b"  # dark: the part spent inside the server's app
PID_COLORS = ("#9ecae1", "#fdae6b", "#a1d99b", "#bcbddc", "#fc9272", "#c7e9c0")
BAR_HEIGHT = 0.7
MAX_TICK_LABELS = 20  # above this, label the axis, not every request


def _figure(width: float, height: float, columns: int = 1) -> tuple[Figure, list[Axes]]:
    """A new figure, already released by pyplot: it shows once (as the cell's value), and never leaks."""
    try:
        import matplotlib.pyplot as plt
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "lab.plot draws with matplotlib, which is not installed here: install the lab's notebooks extra, "
            "`pip install 'concurrency-lab[notebooks]'` (in a checkout: `uv sync`, or `uv sync --extra notebooks`)"
        ) from exc
    # Made through pyplot so that Jupyter's inline backend loads and knows how to show a Figure;
    # closed at once so that the backend does not also show it at the end of the cell.
    figure = plt.figure(figsize=(width, height), layout="constrained")
    plt.close(figure)
    axes = figure.subplots(1, columns, sharex=True, squeeze=False)[0]
    return figure, list(axes)


def timeline(
    result: BurstResult, *, title: str | None = None, server: bool = True, color_by: ColorBy = "status"
) -> Figure:
    """One burst: a bar per request. `color_by="pid"` colours bars by the worker process that answered."""
    height = min(6.5, 1.5 + 0.25 * len(result.samples))
    figure, (ax,) = _figure(7.0, height)
    pids = _pids([result])
    draw_timeline(ax, result, title=title, server=server, color_by=color_by, pids=pids)
    _legend(figure, [result], server, color_by, pids)
    return figure


def timelines(
    results: Mapping[str, BurstResult] | Sequence[BurstResult],
    *,
    server: bool = True,
    color_by: ColorBy = "status",
) -> Figure:
    """Several bursts side by side on one shared time axis, so the slow one looks slow."""
    named = _named(results)
    if not named:
        raise ValueError("timelines needs at least one result")
    longest = max(len(r.samples) for r in named.values())
    figure, axes = _figure(4.2 * len(named), min(6.5, 1.8 + 0.25 * longest), len(named))
    pids = _pids(named.values())  # one colour per worker across every panel
    for ax, (name, result) in zip(axes, named.items(), strict=True):
        draw_timeline(ax, result, title=name, server=server, color_by=color_by, pids=pids)
    axes[0].set_xlim(0, _right_edge(named.values()))  # shared: the longest burst sets the scale
    _legend(figure, named.values(), server, color_by, pids)
    return figure


def percentiles(results: Mapping[str, BurstResult] | Sequence[BurstResult]) -> Figure:
    """Latency against percentile, one line per burst: the tail (p95, p99) is where users wait."""
    named = _named(results)
    figure, (ax,) = _figure(7.0, 3.5)
    for name, result in named.items():
        latencies = sorted(s.latency_s * 1000 for s in result.samples if s.status is not None)
        if not latencies:
            continue
        # The i-th smallest of n sits at percentile 100 * i / (n - 1): the same ranks as lab.load.measure.percentile.
        ranks = [100 * i / max(1, len(latencies) - 1) for i in range(len(latencies))]
        ax.plot(ranks, latencies, marker="o", markersize=3, label=name)
    for q in (50, 95, 99):
        ax.axvline(q, color="grey", linestyle=":", linewidth=1)
        ax.annotate(
            f"p{q}", (q, 0.98), xycoords=("data", "axes fraction"), ha="right", va="top", fontsize=8, rotation=90
        )
    ax.set_xlabel("percentile of requests")
    ax.set_ylabel("latency (ms)")
    ax.set_xlim(0, 100)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left")
    return figure


def draw_timeline(
    ax: Axes,
    result: BurstResult,
    *,
    title: str | None = None,
    server: bool = True,
    color_by: ColorBy = "status",
    pids: Sequence[int] | None = None,
) -> None:
    """Draw one burst's timeline on `ax` (for figures of your own). Request #1 is at the top.

    `pids` fixes the colour order of worker processes when several panels must agree.
    """
    samples = sorted(result.samples, key=lambda s: s.index)
    rows = [s.index + 1 for s in samples]
    pids = list(pids) if pids is not None else _pids([result])
    colors = [_color(s.ok, s.pid, pids, color_by) for s in samples]
    ax.barh(
        rows,
        [s.latency_s for s in samples],
        left=[s.start_s for s in samples],
        height=BAR_HEIGHT,
        color=colors,
    )
    if server:
        _draw_server_times(ax, samples)
    ax.set_ylim(len(samples) + 0.5, 0.5)  # inverted: request #1 on top, like the terminal timeline
    if len(samples) <= MAX_TICK_LABELS:
        ax.set_yticks(rows, [f"#{n}" for n in rows])
    ax.set_ylabel("request")
    ax.set_xlabel("seconds from the burst's start")
    ax.set_xlim(0, _right_edge([result]))
    name = title or result.url.split("//", 1)[-1]
    ax.set_title(f"{name}: {result.summary.wall_s * 1000:.0f} ms, {result.verdict}", fontsize=10, loc="left")


def _draw_server_times(ax: Axes, samples: Sequence[Sample]) -> None:
    """A line over each bar for the time the request spent inside the app, as the server timed it."""
    inside = [(s.index + 1, s.server_start_s, s.server_time_s) for s in samples]
    spans = [(row, start, start + time) for row, start, time in inside if start is not None and time is not None]
    if spans:
        rows, starts, ends = zip(*spans, strict=True)
        ax.hlines(list(rows), list(starts), list(ends), color=SERVER_COLOR, linewidth=2)


def _legend(
    figure: Figure, results: Iterable[BurstResult], server: bool, color_by: ColorBy, pids: Sequence[int]
) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    samples = [s for r in results for s in r.samples]
    handles: list[Patch | Line2D]
    if color_by == "pid" and pids:
        handles = [
            Patch(color=PID_COLORS[i % len(PID_COLORS)], label=f"answered by pid {p}") for i, p in enumerate(pids)
        ]
    else:
        handles = [Patch(color=OK_COLOR, label="client: sent to answered")]
    if any(not s.ok for s in samples):
        handles.append(Patch(color=FAILED_COLOR, label="failed"))
    if server and any(s.server_time_s is not None for s in samples):
        handles.append(Line2D([], [], color=SERVER_COLOR, linewidth=2, label="server: inside the app"))
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8, frameon=False)


def _pids(results: Iterable[BurstResult]) -> list[int]:
    return sorted({s.pid for r in results for s in r.samples if s.pid is not None})


def _color(ok: bool, pid: int | None, pids: Sequence[int], color_by: ColorBy) -> str:
    if not ok:
        return FAILED_COLOR
    if color_by == "pid" and pid is not None:
        return PID_COLORS[pids.index(pid) % len(PID_COLORS)]
    return OK_COLOR


def _right_edge(results: Iterable[BurstResult]) -> float:
    """A little past the last answer, so the last bar's end is visible."""
    return 1.03 * max((s.end_s for r in results for s in r.samples), default=0.0) or 1.0


def _named(results: Mapping[str, BurstResult] | Sequence[BurstResult]) -> dict[str, BurstResult]:
    if isinstance(results, Mapping):
        return dict(results)
    # Numbered: two bursts of one URL (before and after a change) must not overwrite each other.
    return {f"{i}. /{r.url.split('//', 1)[-1].split('/', 1)[-1]}": r for i, r in enumerate(results, 1)}


PROBE_OK_COLOR = "#31a354"
PROBE_FAILED_COLOR = "#de2d26"
RESTART_COLOR = "#a50f15"
OUT_OF_ROTATION_COLOR = "#fee0d2"


def probe_timeline(result: ProbedResult, *, title: str | None = None) -> Figure:
    """Steady traffic with the kubelet beside it, on one time axis: above, each kept request's latency (from
    its scheduled send) and each second's p99; below, each probe attempt a tick, green passed or red failed.
    A red line marks each restart the kubelet decided (with `--restart`, done: the shade is the downtime).
    """
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(8.0, 5.2), layout="constrained")
    plt.close(figure)  # shown once, as the cell's value (see `_figure`)
    latency_ax, probe_ax = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1.4))
    _draw_latency(latency_ax, result)
    _draw_probes(probe_ax, result)
    for ax in (latency_ax, probe_ax):
        for decision in result.kubelet.decisions:
            if decision.action == "restart":
                ax.axvline(decision.at_s, color=RESTART_COLOR, linewidth=1.5)
        for restart in result.restarts:
            ax.axvspan(restart.down_at_s, restart.up_at_s, color=OUT_OF_ROTATION_COLOR, zorder=0)
    _probe_legend(figure, latency_ax, result)
    # A vertical line does not widen the axis: a restart decided after the last point must still show.
    right = max([d.at_s for d in result.kubelet.decisions] + [a.sent_at_s for a in result.kubelet.attempts] + [0.0])
    probe_ax.set_xlim(right=max(probe_ax.get_xlim()[1], right + 0.5))
    steady = result.steady
    name = title or steady.plan.url.split("//", 1)[-1]
    restarts = result.kubelet.restarts
    latency_ax.set_title(
        f"{name}: {steady.plan.rate:g}/s, {restarts} restart{'s' if restarts != 1 else ''}", fontsize=10, loc="left"
    )
    probe_ax.set_xlabel("seconds from the first scheduled send")
    return figure


def _answered(outcome: str) -> bool:
    return outcome.isdigit() and int(outcome) < 400


def _draw_latency(ax: Axes, result: ProbedResult) -> None:
    sample = result.steady.sample
    for kept, size, color, label in (
        ([k for k in sample if _answered(k.outcome)], 4, OK_COLOR, "a request"),
        ([k for k in sample if not _answered(k.outcome)], 6, FAILED_COLOR, "failed"),
    ):
        if kept:
            ax.scatter([k.due_s for k in kept], [k.latency_s * 1000 for k in kept], s=size, color=color, label=label)
    seconds = [row for row in result.steady.report.timeline if row.p99_s is not None]
    ax.plot(
        [row.index + 0.5 for row in seconds],
        [(row.p99_s or 0.0) * 1000 for row in seconds],
        color=SERVER_COLOR,
        linewidth=1.5,
        label="p99 of the second (answered)",
    )
    ax.set_ylabel("latency (ms)")
    ax.set_ylim(bottom=0)


def _probe_legend(figure: Figure, latency_ax: Axes, result: ProbedResult) -> None:
    from matplotlib.lines import Line2D

    handles, _ = latency_ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], color=PROBE_OK_COLOR, marker="|", linestyle="", markersize=10, label="probe passed"),
        Line2D([], [], color=PROBE_FAILED_COLOR, marker="|", linestyle="", markersize=10, label="probe failed"),
    ]
    if result.kubelet.restarts:
        handles.append(Line2D([], [], color=RESTART_COLOR, linewidth=1.5, label="the kubelet restarts it"))
    figure.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8, frameon=False)


def _draw_probes(ax: Axes, result: ProbedResult) -> None:
    kinds = [spec.kind for spec in result.probes.specs]
    for row, kind in enumerate(kinds):
        attempts = [a for a in result.kubelet.attempts if a.kind == kind]
        colors = [PROBE_OK_COLOR if a.outcome == "ok" else PROBE_FAILED_COLOR for a in attempts]
        ax.scatter([a.sent_at_s for a in attempts], [row] * len(attempts), marker="|", s=300, color=colors)
    ax.set_yticks(range(len(kinds)), kinds)
    ax.set_ylim(-0.7, len(kinds) - 0.3)
    ax.set_xlim(left=-0.3)  # a probe at 0 s shows whole
