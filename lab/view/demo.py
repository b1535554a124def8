"""Renderables for `lab demo`: one race of bars per variant, a loop-lag meter, and the scoreboard.

Pure: the demo's model in (`lab.demo.model`: a `RaceView` and its `LaneView`s, from the live runner or a
replay), renderables out. The model is only read here, so it is named for the type checker alone.
Each bar is one request, drawn on a time axis shared by every variant so that they compare:

    ░░░░░░░░░░░░████     sent at once, queued, then handled: the broken twin's staircase
    ████                 handled at once: the fixed twin's stack of short bars
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from lab.durations import duration
from lab.load.verdict import site_text
from lab.scenarios import THREADS_GAUGE
from lab.view.theme import verdict_style

if TYPE_CHECKING:
    from lab.demo.model import LagReading, LaneView, RaceView
    from lab.load.burst import BurstResult
    from lab.load.measure import Sample
    from lab.protocol import ServerStats
    from lab.scenarios import Scenario

QUEUED = "░"  # sent, its handler not running yet: waiting for the loop, a thread token, its body
PENDING = "·"  # no answer yet: in flight, its phases unknown until it comes back (never drawn like queued)
HANDLED = "█"  # its endpoint or a dependency running, as the server recorded it
ANSWERING = "▒"  # its handler returned; the response is validated and sent (a `def` route takes a token again)
SPARKS = "▁▂▃▄▅▆▇█"
LAG_FULL_S = 0.1  # a sparkline at full height: the loop was late by a whole 100 ms handler
LAG_BAD_S = 0.05  # a lag worth colouring red
NOT_ANSWERING_S = 0.05  # a healthy server answers its stats in a few ms; longer: its loop is held
LABEL_WIDTH = 5
LATENCY_WIDTH = 9
PANEL_CHROME = 4 + LABEL_WIDTH + LATENCY_WIDTH + 2  # borders, padding, label and latency columns
MIN_PANEL_WIDTH = 44  # narrower than this, lanes stack one above the other
_MANTISSAS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)


@dataclass(frozen=True)
class Palette:
    """How the bars' cells look. A terminal's dark background shows the light shade well; white paper does
    not (rich exports yellow as olive, and ░ fills a quarter of its cell), so exports use `PRINT`."""

    queued: str = QUEUED
    queued_style: str = "yellow"
    answering: str = ANSWERING
    answering_style: str = "cyan"
    pending: str = PENDING
    pending_style: str = "grey50"
    stall_style: str = "on #6b0d0d"  # the "server not answering" band, behind every row of the lane
    stall_label_style: str = "bold white on #c62828"
    stall_text_style: str = "bold red"  # the label's words past a band too short to hold them
    code_style: str = "bold cyan"  # `code` in the lesson, shown without its backticks


SCREEN = Palette()
# Okabe-Ito blue for answering (colour-blind safe, 5:1 on white); pending cells appear only mid-race.
PRINT = Palette(
    queued="▓",
    queued_style="#b35900",
    answering="▒",
    answering_style="#0072b2",
    pending="░",
    pending_style="#595959",
    stall_style="on #ffd0d0",  # light on the SVG's dark page and on white paper alike, the bars still read on it
    stall_label_style="bold white on #b71c1c",
    stall_text_style="bold #d32f2f",
    code_style="bold",
)


@dataclass(frozen=True)
class Row:
    """One bar: a request, or a group of requests that came back one after another."""

    label: str
    start_s: float
    handled_s: float | None  # when its handler began; None: not yet, or the server did not say
    end_s: float  # the response, or "now" while in flight
    done: bool
    ok: bool = True
    latency_s: float | None = None
    answering_s: float | None = None  # when its handler returned, if the server said


def nice_axis(seconds: float) -> float:
    """The smallest round length (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k s) that holds `seconds`."""
    seconds = max(seconds, 0.01)
    exponent = math.floor(math.log10(seconds))
    for power in (exponent, exponent + 1):
        for mantissa in _MANTISSAS:
            value = round(mantissa * 10.0**power, 6)
            if value >= seconds - 1e-9:
                return value
    return seconds  # unreachable: 10^(exponent+1) >= seconds


def lane_rows(view: LaneView, max_rows: int) -> list[Row]:
    """Bars in the order the responses came back, then the requests still in flight.

    A burst larger than `max_rows` is drawn in groups of consecutive arrivals: the waves of a
    thread pool stay visible as steps.
    """
    arrived = sorted(view.samples, key=lambda s: (s.end_s, s.index))
    group = max(1, math.ceil(view.requests / max(1, max_rows)))
    rows = [_arrived_row(arrived[i : i + group]) for i in range(0, len(arrived), group)]
    if view.state == "running":
        pending = view.requests - len(arrived)
        for first in range(0, pending, group):
            size = min(group, pending - first)
            label = "" if group == 1 else f"{size}×"
            rows.append(Row(label, 0.0, None, view.elapsed_s, done=False))
    return rows


def _arrived_row(samples: Sequence[Sample]) -> Row:
    # The server's record of the handler when it has one; else when the server first saw the request.
    handled = [s.server_start_s if s.handler_start_s is None else s.handler_start_s for s in samples]
    returned = [s.handler_end_s for s in samples]
    return Row(
        label=f"#{samples[0].index + 1}" if len(samples) == 1 else f"{len(samples)}×",
        start_s=min(s.start_s for s in samples),
        handled_s=None if None in handled else min(h for h in handled if h is not None),
        end_s=max(s.end_s for s in samples),
        done=True,
        ok=all(s.ok for s in samples),
        latency_s=max(s.latency_s for s in samples),
        answering_s=None if None in returned else max(r for r in returned if r is not None),
    )


def _column(seconds: float, axis_s: float, width: int) -> int:
    scale = width / axis_s if axis_s > 0 else 0.0
    return min(width, max(0, round(seconds * scale)))


def bar(row: Row, axis_s: float, width: int, palette: Palette = SCREEN) -> Text:
    """`width` characters for `axis_s` seconds: spaces, then queued, then handled."""

    def column(seconds: float) -> int:
        return _column(seconds, axis_s, width)

    begin, end = column(row.start_s), max(column(row.start_s) + 1, column(row.end_s))
    end = min(end, width)
    text = Text(" " * begin)
    if not row.done:
        return text + Text(palette.pending * (end - begin), style=palette.pending_style)
    # At least one handled cell; with no server stamp (not a lab server) the whole wait counts as handled.
    handled = begin if row.handled_s is None else min(max(begin, column(row.handled_s)), end - 1)
    answering = end if row.answering_s is None else min(max(handled + 1, column(row.answering_s)), end)
    text += Text(palette.queued * (handled - begin), style=palette.queued_style)
    text += Text(HANDLED * (answering - handled), style="green" if row.ok else "red")
    text += Text(palette.answering * (end - answering), style=palette.answering_style if row.ok else "red")
    return text


def stall_columns(spans: Sequence[tuple[float, float]], axis_s: float, width: int) -> list[tuple[int, int]]:
    """Each stall's columns on a bar `width` wide: at least one, so a short stall still shows."""
    columns = []
    for start, end in spans:
        begin = min(_column(start, axis_s, width), width - 1)
        columns.append((begin, max(begin + 1, _column(end, axis_s, width))))
    return columns


def banded(text: Text, bands: Sequence[tuple[int, int]], width: int, palette: Palette = SCREEN) -> Text:
    """`text` (a bar, the ruler) with the stalls' band behind it: padded to `width`, so the band is whole."""
    if not bands:
        return text
    text = text.copy()
    text.append(" " * max(0, width - len(text)))
    for begin, end in bands:
        text.stylize(palette.stall_style, begin, end)
    return text


def stall_row(
    spans: Sequence[tuple[float, float]], bands: Sequence[tuple[int, int]], width: int, palette: Palette = SCREEN
) -> Text:
    """The band's own row, above the bars: what it means and how long it lasted, inside it where it fits."""
    text = banded(Text(" " * width), bands, width, palette)
    for (start, end), (begin, stop) in zip(spans, bands, strict=True):
        label = f" server not answering {duration(end - start)} "
        if len(label) > stop - begin:
            label = f" not answering {duration(end - start)} "
        at = max(0, min(begin, width - len(label)))  # past the right edge: ends at the edge instead
        words = Text(label[: width - at], style=palette.stall_text_style)
        # On the band's colour only over the band: a label wider than a short stall must not look like one.
        words.stylize(palette.stall_label_style, max(0, begin - at), max(0, stop - at))
        text = text[:at] + words + text[at + len(label) :]
    return text


def ruler(axis_s: float, width: int) -> Text:
    """The time axis under the bars: 0, the middle and the end."""
    cells = [" "] * width
    marks = [(0, "0"), (width // 2, duration(axis_s / 2)), (width, duration(axis_s))]
    for position, label in marks:
        start = min(max(0, position - len(label) // 2), width - len(label))
        if position == width:
            start = width - len(label)
        cells[start : start + len(label)] = list(label)
    return Text("".join(cells), style="dim")


def _sparks(readings: Sequence[LagReading]) -> Text:
    # A reading's height is the longer of the heartbeat's lateness and the wait for the reading itself:
    # after a stall the heartbeat is on time again, but the request that waited the stall out says how long.
    sparks = Text()
    for reading in readings:
        late = max(reading.lag_s, reading.waited_s)
        level = min(len(SPARKS) - 1, round(late / LAG_FULL_S * (len(SPARKS) - 1)))
        sparks.append(SPARKS[level], style="red" if late >= LAG_BAD_S else "green")
    return sparks


def lag_meter(view: LaneView, width: int) -> Text:
    """The server's heartbeat, live: a sparkline of loop lag, and a red alarm while it does not answer."""
    text = Text("loop lag ", style="bold")
    if view.lag_note is not None:
        return text + Text(view.lag_note, style="dim")
    text += _sparks(view.lag[-max(1, width // 2) :])
    if view.stats_waiting_s is not None and view.stats_waiting_s >= NOT_ANSWERING_S:
        return text + Text(f" server not answering for {duration(view.stats_waiting_s)}", style="bold red")
    server = view.result.server if view.result is not None else None
    if server is not None:
        return text + _worst_over_burst(server, view.lag)
    if view.lag:
        return text + _lag_now(view.lag)
    return text + Text(" …", style="dim") if view.state == "running" else text


def _worst_over_burst(server: ServerStats, lag: Sequence[LagReading]) -> Text:
    # The burst is over: the worst over the whole window, the very figure the scoreboard shows.
    worst = max([server.loop_lag_max_s, *(r.lag_max_s for r in lag)])
    text = Text(f" worst {duration(worst)} over the burst", style="red" if worst >= LAG_BAD_S else "green")
    site = site_text(server.blocking[0]) if server.blocking and worst >= LAG_BAD_S else None
    return _held_by(text, site)


def _lag_now(lag: Sequence[LagReading]) -> Text:
    last = lag[-1]
    worst = max([last.lag_s, *(r.lag_max_s for r in lag)])  # never a current reading above the worst
    text = Text(
        f" {duration(last.lag_s)} now (worst {duration(worst)})", style="red" if worst >= LAG_BAD_S else "green"
    )
    return _held_by(text, last.blocking if worst >= LAG_BAD_S else None)


def _held_by(text: Text, site: str | None) -> Text:
    return text + Text(f" · held by {site}", style="bold red") if site else text


def guess_text(view: LaneView) -> Text | None:
    """The audience's prediction next to the answer."""
    if view.guess_s is None:
        return None
    text = Text("guess ", style="bold") + Text(duration(view.guess_s), style="cyan")
    wall = view.wall_s
    if wall is None:
        return text + Text(" → ?", style="dim")
    text += Text(" → actual ") + Text(duration(wall), style="bold")
    ratio = wall / view.guess_s if view.guess_s > 0 else math.inf
    if 0.8 <= ratio <= 1.25:
        return text + Text("  spot on!", style="bold green")
    return text + Text(
        f"  ({ratio:.1f}× your guess)" if ratio > 1 else f"  ({1 / ratio:.1f}× quicker than your guess)", style="dim"
    )


def lane_panel(view: LaneView, axis_s: float, bar_width: int, max_rows: int, palette: Palette = SCREEN) -> Panel:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", width=LABEL_WIDTH - 1, style="dim", no_wrap=True)
    grid.add_column(width=bar_width, no_wrap=True)
    grid.add_column(justify="right", width=LATENCY_WIDTH - 1, style="dim", no_wrap=True)
    spans = view.stalls(NOT_ANSWERING_S)
    bands = stall_columns(spans, axis_s, bar_width)
    if spans:  # the lesson itself, across the whole lane: the server answered nobody for this long
        grid.add_row("", stall_row(spans, bands, bar_width, palette), "")
    for row in lane_rows(view, max_rows):
        latency = "…" if not row.done else duration(row.latency_s) if row.ok else "error"
        grid.add_row(row.label, banded(bar(row, axis_s, bar_width, palette), bands, bar_width, palette), latency)
    if view.state in ("waiting", "warming"):
        note = "warming up…" if view.state == "warming" else f"{view.requests} requests, ready"
        grid.add_row("", Text(note, style="dim"), "")
    grid.add_row("", ruler(axis_s, bar_width), "")  # unbanded: its dim figures must stay legible
    parts: list[RenderableType] = [grid, lag_meter(view, bar_width + LABEL_WIDTH)]
    guess = guess_text(view)
    if guess is not None:
        parts.append(guess)
    return Panel(
        Group(*parts),
        title=Text.assemble((view.variant, "bold"), " · ", view.caption),
        title_align="left",
        subtitle=_status(view),
        subtitle_align="right",
        border_style=_border(view),
        padding=(0, 1),
    )


def _status(view: LaneView) -> Text:
    if view.result is not None:
        verdict = view.result.verdict
        return Text.assemble(
            (duration(view.result.summary.wall_s), "bold"),
            " · ",
            (str(verdict), verdict_style(verdict.kind)),
        )
    if view.state == "running":
        return Text(f"{len(view.samples)}/{view.requests} answered · {duration(view.elapsed_s)}")
    return Text(view.state, style="dim")


def _border(view: LaneView) -> str:
    if view.result is None:
        return "cyan" if view.state in ("running", "warming") else "grey50"
    return {"concurrent": "green", "serialized": "red", "waves": "yellow"}.get(view.result.verdict.kind, "white")


def race(
    views: Sequence[LaneView], width: int, max_rows: int, min_axis_s: float = 0.0, palette: Palette = SCREEN
) -> RenderableType:
    """Every lane on one time axis: side by side when the width allows, else one above the other."""
    axis_s = nice_axis(max([min_axis_s, *(v.extent_s for v in views)]))
    side_by_side = width // max(1, len(views)) >= MIN_PANEL_WIDTH
    panel_width = width // len(views) if side_by_side else width
    bar_width = max(10, panel_width - PANEL_CHROME)
    panels = [lane_panel(v, axis_s, bar_width, max_rows, palette) for v in views]
    if not side_by_side:
        return Group(*panels)
    grid = Table.grid(expand=True)
    for _ in panels:
        grid.add_column(ratio=1)
    grid.add_row(*panels)
    return grid


SCOREBOARD_CAPTION_WIDTH = 100  # narrower, a table with the threads leaves the caption to the lane's title


def scoreboard(views: Sequence[LaneView], width: int | None = None) -> Table:
    """The final table: wall, speedup over the broken twin, verdict, and the server's own readings."""
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), pad_edge=False, title_justify="left")
    guessed = any(v.guess_s is not None for v in views)  # the column only when the room was asked
    threads = any(threads_peak(v) is not None for v in views)  # only when the server counts them (pool)
    # Eight columns do not fit 80 of a terminal's: the caption, which each lane's title shows, goes first.
    captioned = not threads or width is None or width >= SCOREBOARD_CAPTION_WIDTH
    for column in _scoreboard_columns(captioned=captioned, threads=threads, guessed=guessed):
        left = column in ("variant", "handler", "verdict")
        table.add_column(column, justify="left" if left else "right", no_wrap=column != "handler")
    baseline = next((v.wall_s for v in views if v.variant == "broken" and v.wall_s), None)
    for view in views:
        if view.result is not None:
            cells = _score_cells(view, view.result, baseline, guessed=guessed, threads=threads)
            table.add_row(*(cells if captioned else cells[:1] + cells[2:]))
    return table


def _scoreboard_columns(*, captioned: bool, threads: bool, guessed: bool) -> tuple[str, ...]:
    columns = ("variant",) + (("handler",) if captioned else ()) + ("wall", "speedup", "verdict", "in handler")
    columns += ("threads",) if threads else ()
    return columns + ("max lag",) + (("guess",) if guessed else ())


def threads_peak(view: LaneView) -> int | None:
    """The most threads running the blocking call at once, when the server counted them (None: it did not)."""
    server = None if view.result is None else view.result.server
    gauge = None if server is None else server.gauges.get(THREADS_GAUGE)
    return gauge.peak if gauge is not None and gauge.peak else None


def _score_cells(
    view: LaneView, result: BurstResult, baseline: float | None, *, guessed: bool, threads: bool
) -> list[RenderableType]:
    server = result.server
    wall = result.summary.wall_s
    speedup = "-" if baseline is None or wall <= 0 else f"{baseline / wall:.1f}×"
    cells: list[RenderableType] = [
        view.variant,
        view.caption,
        duration(wall),
        speedup,
        Text(str(result.verdict), style=verdict_style(result.verdict.kind)),
        "-" if server is None else str(server.peak_in_handler or server.peak_in_flight),
    ]
    if threads:
        peak = threads_peak(view)
        cells.append("-" if peak is None else str(peak))
    cells.append(duration(None if server is None else server.loop_lag_max_s))
    if guessed:
        cells.append("-" if view.guess_s is None else duration(view.guess_s))
    return cells


def legend(palette: Palette = SCREEN) -> Text:
    # The words dim, the swatches in the bars' own colours: a dimmed swatch matches no bar.
    return Text.assemble(
        (palette.queued, palette.queued_style),
        (" queued   ", "dim"),
        (HANDLED, "green"),
        (" in its handler   ", "dim"),
        (palette.answering, palette.answering_style),
        (" answering   ", "dim"),
        (palette.pending, palette.pending_style),
        (" no answer yet   ", "dim"),
        ("  ", palette.stall_style),
        (" server not answering", "dim"),
    )


def lesson(takeaway: str, palette: Palette = SCREEN) -> Text:
    """The "Why", its `code` set as code rather than shown with backticks."""
    text = Text.assemble(("Why: ", "bold"))
    for number, part in enumerate(takeaway.split("`")):
        text.append(part, style=palette.code_style if number % 2 else "")
    return text


def prompt_panel(question: str, typed: str) -> Panel:
    """The question to the room, with what the instructor is typing."""
    return Panel(
        Text.assemble((question, "bold"), " ", (typed, "bold cyan"), ("▏", "blink")),
        border_style="magenta",
        padding=(0, 1),
    )


def demo_frame(
    heading: Text,
    views: Sequence[LaneView],
    *,
    width: int,
    max_rows: int,
    min_axis_s: float = 0.0,
    prompt: RenderableType | None = None,
    takeaway: str | None = None,
    palette: Palette = SCREEN,
) -> RenderableType:
    """The whole screen: heading, the race, the scoreboard once something finished, the lesson at the end."""
    parts: list[RenderableType] = [heading, race(views, width, max_rows, min_axis_s, palette), legend(palette)]
    if prompt is not None:
        parts.append(prompt)
    if any(v.result is not None for v in views):
        parts.append(scoreboard(views, width))
    if takeaway is not None and all(v.result is not None for v in views):
        parts.append(lesson(takeaway, palette))
    return Group(*parts)


def race_frame(race: RaceView, *, width: int, max_rows: int, palette: Palette = SCREEN) -> RenderableType:
    """The whole screen for a race at a moment, live or replayed: the one way a `RaceView` becomes a frame."""
    return demo_frame(
        heading(race.scenario, race.requests, race.delay_ms, race.url),
        race.lanes,
        width=width,
        max_rows=max_rows,
        min_axis_s=2 * race.delay_ms / 1000,
        prompt=None if race.question is None else prompt_panel(race.question, race.typed),
        takeaway=race.takeaway if race.done else None,
        palette=palette,
    )


def heading(scenario: Scenario, requests: int, delay_ms: int, base_url: str | None = None) -> Text:
    """The slide's title. The server's address only when the user named it: a throwaway port is noise."""
    where = "" if base_url is None else f" · {base_url}"
    return Text.assemble(
        ("lab demo", "bold magenta"),
        " · ",
        (scenario.name, "bold"),
        f": {scenario.summary}\n",
        (f"{requests} requests at once, {delay_ms} ms each{where}", "dim"),
    )


def live_display(console: Console, frame: Callable[[], RenderableType], *, screen: bool) -> Live:
    """The full-screen view: redrawn 12 times a second from `frame()`, cropped to the terminal."""
    return Live(
        get_renderable=frame,
        console=console,
        screen=screen,
        refresh_per_second=12,
        redirect_stdout=False,
        redirect_stderr=False,
        vertical_overflow="crop",
    )


SAVE_WIDTH = 120
FIT_STEPS = (25, 20, 16, 12, 10, 8, 6, 5, 4, 3)  # rows per lane to try, most first


def lines_of(renderable: RenderableType, width: int) -> int:
    """How many lines `renderable` takes at `width` columns."""
    measure = Console(file=io.StringIO(), width=width, color_system=None)
    return len(measure.render_lines(renderable, measure.options, pad=False))


def fit_rows(frame: Callable[[int], RenderableType], width: int, height: int, most: int) -> int:
    """The most bar rows per lane (up to `most`) for which `frame(rows)` fits `height` lines; else the fewest.

    The final frame is printed after the live view and stays on screen: a 40-row projector must show
    the broken panel as well as the scoreboard, so long bursts are drawn in groups instead."""
    steps = [rows for rows in FIT_STEPS if rows <= most] or [most]
    for rows in steps:
        if lines_of(frame(rows), width) <= height:
            return rows
    return steps[-1]


def export(renderable: RenderableType, path: Path, width: int = SAVE_WIDTH) -> None:
    """Write one frame as SVG or HTML from a console of its own: a terminal's console records every
    `Live` frame, this one only the frame handed to it."""
    recorder = Console(record=True, file=io.StringIO(), width=width, force_terminal=True, color_system="truecolor")
    recorder.print(renderable)
    if path.suffix.lower() == ".svg":
        path.write_text(self_contained(recorder.export_svg(title="lab demo")), encoding="utf-8")
    else:
        path.write_text(recorder.export_html(), encoding="utf-8")


_FONT_FACE = re.compile(r"\s*@font-face\s*\{[^}]*\}")
_GENERATOR = re.compile(r"\s*<!--[^>]*https?://[^>]*-->")
LOCAL_MONOSPACE = "'Fira Code', 'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace"


def self_contained(svg: str) -> str:
    """rich's SVG without what it fetches: its @font-face rules load Fira Code from a CDN, and a slide shown
    offline (or behind a proxy) must need nothing from outside. The installed monospace fonts draw it."""
    svg = _GENERATOR.sub("", _FONT_FACE.sub("", svg))
    return svg.replace("font-family: Fira Code, monospace;", f"font-family: {LOCAL_MONOSPACE};")
