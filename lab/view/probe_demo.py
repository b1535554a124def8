"""Renderables for `lab demo probes`: each twin's traffic per second with its probe lane underneath.

Pure: the probe demo's model in (`lab.demo.probe_model`, named for the type checker alone), renderables out.
One time axis for every lane, so the twins compare:

    answered  ▇▇▇▇▃▃▂▁▁▁▁▁            the traffic's answers per second (red: errors in that second)
    p99       0.1s  1.2s  3.4s ...
    liveness  ┃─────┃─────┃─────┃     each probe attempt a tick: green passed, red failed
    kubelet            ▲ restart 1    the kubelet's decision where it happened; ░ out of the Service's endpoints
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from lab.durations import duration
from lab.view.demo import lesson, ruler

if TYPE_CHECKING:
    from lab.demo.probe_model import ProbeLaneView, ProbeRaceView

__all__ = ["probe_frame", "probe_lane_panel", "probe_summary", "probe_strip"]

LABEL_WIDTH = 9
PANEL_CHROME = 4 + LABEL_WIDTH + 1  # borders, padding, the row labels and their gap
SPARKS = "▁▂▃▄▅▆▇█"
TICK = "┃"
TRACK = "─"
OUT = "░"
SLOW_S = 1.0  # a second whose p99 passed this is drawn as a problem: a probe's default timeout


def _column(seconds: float, axis_s: float, width: int) -> int:
    return max(0, min(width - 1, int(seconds / axis_s * width))) if axis_s > 0 else 0


def traffic_rows(lane: ProbeLaneView, rate: float, axis_s: float, width: int) -> tuple[Text, Text]:
    """The answers per second as a sparkline (red where errors came back), and each second's p99 where it fits."""
    sparks, p99s = [" "] * width, [" "] * width
    styles: list[str] = ["dim"] * width
    for second in lane.seconds:
        first = _column(second.index, axis_s, width)
        last = max(first + 1, _column(second.index + 1, axis_s, width))
        level = min(len(SPARKS) - 1, int(second.answered / rate * (len(SPARKS) - 1))) if rate > 0 else 0
        slow = second.p99_s is not None and second.p99_s >= SLOW_S
        style = "red" if second.errors else "yellow" if slow else "green"
        for col in range(first, min(last, width)):
            sparks[col], styles[col] = SPARKS[level] if second.answered else " ", style
        label = _short(second.p99_s)
        # Where the second before took the room, this one's figure waits: every other second is still read.
        if (
            label
            and first + len(label) < width
            and all(c == " " for c in p99s[max(0, first - 1) : first + len(label) + 1])
        ):
            p99s[first : first + len(label)] = list(label)
    text = Text()
    for char, style in zip(sparks, styles, strict=True):
        text.append(char, style=style)
    return text, Text("".join(p99s), style="dim")


def _short(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.1f}s" if seconds >= 1 else f"{seconds * 1000:.0f}ms"


def probe_strip(lane: ProbeLaneView, axis_s: float, width: int) -> Text:
    """The probe lane: a track, shaded while the pod was out of the Service's endpoints, a tick per attempt."""
    cells = [(TRACK, "dim")] * width
    for start, end in lane.spans:
        for col in range(_column(start, axis_s, width), _column(end, axis_s, width) + 1):
            cells[col] = (OUT, "red")
    for tick in lane.ticks:
        cells[_column(tick.at_s, axis_s, width)] = (TICK, "bold green" if tick.ok else "bold red")
    text = Text()
    for char, style in cells:
        text.append(char, style=style)
    return text


def marks_row(lane: ProbeLaneView, axis_s: float, width: int) -> Text:
    """Each restart the kubelet decided, marked under the tick that caused it: `▲ restart 1`."""
    cells = [" "] * width
    for mark in lane.marks:
        if mark.action != "restart":
            continue
        label = f"▲ {mark.label}"
        at = min(_column(mark.at_s, axis_s, width), max(0, width - len(label)))
        cells[at : at + len(label)] = list(label)
    return Text("".join(cells[:width]), style="bold red")


def probe_lane_panel(lane: ProbeLaneView, rate: float, axis_s: float, width: int) -> Panel:
    """One twin: its traffic, its probe lane, the kubelet's marks and the axis, in one panel."""
    inner = max(10, width - PANEL_CHROME)
    answered, p99s = traffic_rows(lane, rate, axis_s, inner)
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=LABEL_WIDTH, style="dim")
    grid.add_column()
    kinds = sorted({tick.kind for tick in lane.ticks}) or ["probes"]
    grid.add_row("answered", answered)
    grid.add_row("p99", p99s)
    grid.add_row(" ".join(kinds), probe_strip(lane, axis_s, inner))
    grid.add_row("kubelet", marks_row(lane, axis_s, inner))
    grid.add_row("", ruler(axis_s, inner))
    bad = lane.restarts > 0
    title = Text.assemble((lane.variant, "bold red" if bad else "bold green"), ("  " + lane.url, "dim"))
    return Panel(
        grid, title=title, title_align="left", subtitle=_lane_status(lane), border_style="red" if bad else "green"
    )


def _lane_status(lane: ProbeLaneView) -> Text:
    if lane.state == "waiting":
        return Text("waiting", style="dim")
    restarts = f"{lane.restarts} restart{'s' if lane.restarts != 1 else ''}"
    probes = f"{lane.failed_probes} of {len(lane.ticks)} probes failed"
    state = "" if lane.state == "done" else "running · "
    return Text(f"{state}{restarts} · {probes}", style="red" if lane.restarts else "green")


def probe_summary(lanes: Sequence[ProbeLaneView]) -> Table:
    """Per twin: what its traffic got, and what the kubelet did to it."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("twin", "answered", "errors", "p99", "probes failed", "restarts", "out of rotation"):
        table.add_column(name, justify="left" if name == "twin" else "right")
    for lane in lanes:
        done = lane.state == "done"
        table.add_row(
            Text(lane.variant, style="bold"),
            f"{lane.answered:,}",
            Text(f"{lane.errors:,}", style="red" if lane.errors else ""),
            duration(lane.p99_s) if done and lane.p99_s is not None else "-",
            f"{lane.failed_probes} of {len(lane.ticks)}",
            Text(str(lane.restarts), style="bold red" if lane.restarts else "bold green"),
            f"{lane.out_of_rotation_s:.1f} s" if done else "-",
        )
    return table


def probe_frame(view: ProbeRaceView, *, width: int) -> RenderableType:
    """The whole frame: heading, one panel per twin on a shared axis, the summary and the why."""
    axis_s = view.axis_s
    heading = Text.assemble(
        ("lab demo probes  ", "bold"), (view.title, ""), ("\nprobes: " + "; ".join(view.probes), "dim")
    )
    parts: list[RenderableType] = [heading]
    parts.extend(probe_lane_panel(lane, view.rate, axis_s, width) for lane in view.lanes)
    legend = Text.assemble(
        (TICK, "bold green"),
        " probe passed  ",
        (TICK, "bold red"),
        " probe failed (timeout, status)  ",
        (OUT, "red"),
        " out of the Service's endpoints  ",
        ("▲", "bold red"),
        " the kubelet restarts the container",
        style="dim",
    )
    parts.extend([legend, probe_summary(view.lanes)])
    for lane in view.lanes:
        for mark in lane.marks:
            if mark.action == "restart":
                parts.append(Text(f"{lane.variant}: {mark.text}", style="red"))
    if view.done:
        parts.append(lesson(view.why))  # `code` set as code, as the other races show it
    return Group(*parts)
