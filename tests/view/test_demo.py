"""The demo's renderables, on synthetic bursts: no server, no clock. Rendered to a fixed-width console."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pytest
from rich.color import Color
from rich.console import Console, RenderableType
from rich.text import Text

from lab.demo.model import LagReading, LaneView
from lab.load.burst import BurstResult
from lab.load.measure import Sample, summarize
from lab.load.verdict import Verdict
from lab.protocol import GaugeReading, ServerStats
from lab.scenarios import THREADS_GAUGE
from lab.view.demo import (
    HANDLED,
    PRINT,
    SCREEN,
    Palette,
    Row,
    bar,
    demo_frame,
    lag_meter,
    lane_panel,
    lane_rows,
    legend,
    nice_axis,
    race,
    ruler,
    scoreboard,
)

WIDTH = 120
BAR_ROW = re.compile(r"(#\d+|\d+×)\s([ ░█▒]+?)\s+(\d[\d,]* ms|…|error)")


def render(renderable: RenderableType, width: int = WIDTH) -> str:
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def bar_spans(text: str) -> list[tuple[str, int, int]]:
    """(label, first handled column, last column) of every bar, top to bottom."""
    spans = []
    for match in BAR_ROW.finditer(text):
        cells = match.group(2)
        first = cells.find(HANDLED)
        spans.append((match.group(1), first, len(cells.rstrip())))
    return spans


def serialized(n: int, t: float = 0.1) -> list[Sample]:
    # Sent at once; the server takes them one at a time, in an order that is not the index order.
    order = [3, 0, 5, 1, 4, 2, 7, 6, 9, 8][:n]
    return [Sample(i, 0.001, (k + 1) * t, 200, None, k * t, t) for k, i in enumerate(order)]


def concurrent(n: int, t: float = 0.1) -> list[Sample]:
    return [Sample(i, 0.001, t + 0.002 * i, 200, None, 0.002, t) for i in range(n)]


def result(samples: list[Sample], kind: str, peak: int) -> BurstResult:
    lag = 0.1 if kind == "serialized" else 0.001
    server = ServerStats(0.0, 0, peak, lag, lag, 10, 40, 0)
    n = len(samples)
    return BurstResult("http://x/sleep", "GET", n, n, samples, summarize(samples), Verdict(kind), server, 0.1)


def done(variant: str, samples: list[Sample], kind: str, peak: int, guess: float | None = None) -> LaneView:
    outcome = result(samples, kind, peak)
    return LaneView(variant, variant, len(samples), "done", samples=tuple(samples), guess_s=guess, result=outcome)


def twins(n: int) -> list[LaneView]:
    return [done("broken", serialized(n), "serialized", 1), done("async", concurrent(n), "concurrent", n)]


@pytest.mark.parametrize(
    ("seconds", "axis"), [(0.0, 0.01), (0.1, 0.1), (0.101, 0.12), (0.95, 1.0), (1.02, 1.2), (3.3, 4.0), (9.0, 10.0)]
)
def test_nice_axis_is_the_next_round_length(seconds: float, axis: float) -> None:
    assert nice_axis(seconds) == pytest.approx(axis)


def test_the_broken_twin_draws_a_staircase() -> None:
    view = done("broken", serialized(10), "serialized", 1)
    spans = bar_spans(render(lane_panel(view, axis_s=1.2, bar_width=60, max_rows=25)))
    assert len(spans) == 10
    firsts = [first for _, first, _ in spans]
    lasts = [last for _, _, last in spans]
    assert firsts == sorted(set(firsts)), "each bar is handled after the one above it"
    assert lasts == sorted(set(lasts))
    assert all(last <= first + 7 for (_, first, last) in spans), "each handled part is short: one at a time"
    assert [label for label, _, _ in spans][:3] == ["#4", "#1", "#6"], "ordered by arrival, labelled by request"


def test_the_fixed_twin_draws_bars_that_overlap() -> None:
    view = done("async", concurrent(10), "concurrent", 10)
    spans = bar_spans(render(lane_panel(view, axis_s=1.2, bar_width=60, max_rows=25)))
    assert len(spans) == 10
    assert max(first for _, first, _ in spans) < min(last for _, _, last in spans), "all handled at once"
    assert {first for _, first, _ in spans} == {0}


def test_both_twins_share_one_time_axis_side_by_side() -> None:
    text = render(race(twins(10), WIDTH, max_rows=25))
    first_row = next(line for line in text.splitlines() if "#" in line)
    assert first_row.count("│") >= 3, "two panels on one line"
    assert len(re.findall(r"0 +500 ms +1,000 ms", text)) == 2, "one axis (0 to 1 s), drawn under each lane"
    broken_last = max(last for _, _, last in bar_spans(text.split("│ loop lag")[0]))
    async_rows = [line.split("││")[1] for line in text.splitlines() if "││" in line and "#" in line]
    async_last = max(last for _, _, last in bar_spans("\n".join(async_rows)))
    assert broken_last >= 5 * async_last, "the fixed twin's bars are short on the broken twin's axis"


def test_narrow_screens_stack_the_lanes() -> None:
    text = render(race(twins(4), 70, max_rows=25), width=70)
    assert "││" not in text
    assert text.index("broken") < text.index("async")


def test_in_flight_requests_grow_to_now() -> None:
    arrived = serialized(3)
    view = LaneView("broken", "async def + time.sleep", 10, "running", elapsed_s=0.35, samples=tuple(arrived))
    rows = lane_rows(view, max_rows=25)
    assert [r.done for r in rows] == [True] * 3 + [False] * 7
    assert all(r.end_s == 0.35 for r in rows if not r.done)
    text = render(lane_panel(view, axis_s=1.0, bar_width=50, max_rows=25))
    in_flight = [line for line in text.splitlines() if line.rstrip(" │").endswith("…") and "loop lag" not in line]
    assert len(in_flight) == 7
    assert "3/10 answered" in text


def test_large_bursts_are_drawn_in_groups_of_arrivals() -> None:
    samples = [Sample(i, 0.0, 0.1 * (1 + i // 40), 200, None, 0.0, 0.1) for i in range(100)]  # waves of 40
    rows = lane_rows(LaneView("sync", "def", 100, "done", samples=tuple(samples)), max_rows=20)
    assert len(rows) == 20
    assert all(r.label == "5×" for r in rows)
    assert sorted({round(r.end_s, 3) for r in rows}) == [0.1, 0.2, 0.3], "the three waves stay visible"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (Row("#1", 0.0, 0.0, 0.5, True), "█████     "),
        (Row("#2", 0.0, 0.3, 0.5, True), "░░░██     "),
        (Row("#3", 0.0, None, 0.5, True), "█████     "),  # no server stamp: all handled
        (Row("#4", 0.0, None, 0.5, False), "·····     "),  # in flight: never drawn like queued
        (Row("#5", 0.0, 0.0, 0.01, True), "█         "),  # never invisible
        (Row("#6", 0.0, 0.9, 2.0, True), "░░░░░░░░░█"),  # clipped to the axis
    ],
)
def test_bar_cells(row: Row, expected: str) -> None:
    assert bar(row, axis_s=1.0, width=10).plain.ljust(10) == expected


def test_ruler_marks_zero_middle_and_end() -> None:
    text = ruler(1.0, 30).plain
    assert len(text) == 30 and text.startswith("0") and text.endswith("1,000 ms") and "500 ms" in text


def test_lag_meter_says_when_the_server_does_not_answer() -> None:
    lag = (LagReading(0.1, 0.0, 0.0, 0.002), LagReading(0.3, 0.1, 0.1, 0.15))
    waiting = LaneView("broken", "x", 10, "running", lag=lag, stats_waiting_s=0.42)
    assert "server not answering for 420 ms" in lag_meter(waiting, 40).plain
    answered = LaneView("async", "x", 10, "running", lag=lag)
    assert lag_meter(answered, 40).plain == "loop lag ▁█ 100 ms now (worst 100 ms)"


def test_the_meter_never_contradicts_the_scoreboard() -> None:
    # The readings came before the stall (the stats poll waited behind the blocked loop): the finished
    # lane shows the burst's own worst, the figure the table shows, and the line that held the loop.
    from dataclasses import replace

    from lab.protocol import BlockingSite

    calm = (LagReading(0.05, 0.0, 0.001, 0.002),)
    site = BlockingSite("/srv/lab/server/scenarios/sleep.py", 34, "sleep_broken", "", "time.sleep(...)", 0.9, 1.0)
    outcome = result(serialized(10), "serialized", 1)
    assert outcome.server is not None
    outcome = replace(outcome, server=replace(outcome.server, loop_lag_max_s=1.002, blocking=(site,)))
    view = LaneView("broken", "x", 10, "done", lag=calm, result=outcome)
    text = lag_meter(view, 40).plain
    assert text.endswith("worst 1,002 ms over the burst · held by sleep.py:34 time.sleep(...)")
    assert "1 ms" not in text
    # Live: the current reading is never above the worst it is shown beside.
    odd = (LagReading(0.1, 0.091, 0.0, 0.002),)
    assert lag_meter(LaneView("broken", "x", 10, "running", lag=odd), 40).plain.endswith("91 ms now (worst 91 ms)")
    foreign = LaneView("async", "x", 10, "running", lag_note="no heartbeat: not a lab server")
    assert "not a lab server" in lag_meter(foreign, 40).plain


def test_guess_is_shown_next_to_the_answer() -> None:
    text = render(lane_panel(done("broken", serialized(10), "serialized", 1, guess=0.1), 1.2, 50, 25))
    assert "guess 100 ms → actual 1,000 ms" in text
    assert "10.0× your guess" in text
    spot_on = render(lane_panel(done("async", concurrent(10), "concurrent", 10, guess=0.12), 1.2, 50, 25))
    assert "spot on" in spot_on


def test_scoreboard_speedup_is_against_the_broken_twin() -> None:
    text = render(scoreboard(twins(10)))
    broken_line = next(line for line in text.splitlines() if line.lstrip().startswith("broken"))
    async_line = next(line for line in text.splitlines() if line.lstrip().startswith("async"))
    assert "1.0×" in broken_line and "serialized" in broken_line
    assert "8.5×" in async_line and "concurrent" in async_line


def test_the_frame_ends_with_the_lesson_only_when_every_lane_is_done() -> None:
    views = [done("broken", serialized(4), "serialized", 1), LaneView("async", "x", 4)]
    assert "Why:" not in render(demo_frame(render_heading(), views, width=WIDTH, max_rows=25, takeaway="because"))
    views[1] = done("async", concurrent(4), "concurrent", 4)
    assert "Why: because" in render(demo_frame(render_heading(), views, width=WIDTH, max_rows=25, takeaway="because"))


def render_heading() -> Text:
    return Text("lab demo")


def test_a_bar_draws_queued_in_handler_and_answering_from_the_servers_stamps() -> None:
    # Sent at 0; the server saw it at 0.1, its handler ran 0.4 to 0.7 (waiting for a token before),
    # the answer (validation, sending) took until 1.0.
    sample = Sample(0, 0.0, 1.0, 200, None, 0.1, 0.9, None, handler_start_s=0.4, handler_end_s=0.7)
    view = LaneView("sync", "def", 1, "done", samples=(sample,))
    (row,) = lane_rows(view, max_rows=10)
    cells = bar(row, axis_s=1.0, width=10).plain
    assert cells == "░░░░███▒▒▒"
    # A server that does not stamp handler times: queued until it saw the request, then all handled.
    older = Sample(0, 0.0, 1.0, 200, None, 0.1, 0.9)
    (row,) = lane_rows(LaneView("sync", "def", 1, "done", samples=(older,)), max_rows=10)
    assert bar(row, axis_s=1.0, width=10).plain == "░█████████"


def band_cells(renderable: RenderableType, palette: Palette = SCREEN) -> list[tuple[str, int]]:
    """Each line's text, and how many of its cells sit on the stall band's background."""
    console = Console(file=io.StringIO(), width=WIDTH, color_system="truecolor")
    band = Color.parse(palette.stall_style.removeprefix("on "))
    lines = console.render_lines(renderable, pad=False)
    return [
        ("".join(s.text for s in line), sum(len(s.text) for s in line if s.style and s.style.bgcolor == band))
        for line in lines
    ]


def bar_band_cells(renderable: RenderableType, palette: Palette = SCREEN) -> dict[str, int]:
    """Band cells of each bar row, by its label."""
    cells = {}
    for text, count in band_cells(renderable, palette):
        label = re.search(r"#\d+", text)
        if label:
            cells[label.group()] = count
    return cells


def stalled(waited_s: float) -> LaneView:
    """The broken twin, its stats request sent at 50 ms and answered at 1,000 ms after `waited_s`."""
    view = done("broken", serialized(10), "serialized", 1)
    return replace(view, lag=(LagReading(0.0, 0.0, 0.0, 0.003), LagReading(1.0, 0.0005, 1.0, waited_s)))


@pytest.mark.parametrize("palette", [SCREEN, PRINT])
def test_a_stall_is_a_band_across_every_row_of_the_lane_with_its_length(palette: Palette) -> None:
    panel = lane_panel(stalled(0.95), 1.2, 50, 25, palette)
    text = render(panel)
    assert "server not answering 950 ms" in text.splitlines()[1], "named, above the bars"
    cells = bar_band_cells(panel, palette)
    # 0.05 s to 1.0 s of a 1.2 s axis on 50 columns: 40 columns, behind each of the ten rows alike.
    assert len(cells) == 10 and set(cells.values()) == {40}, cells
    healthy = lane_panel(stalled(0.003), 1.2, 50, 25, palette)
    assert "not answering" not in render(healthy) and set(bar_band_cells(healthy, palette).values()) == {0}


def test_the_band_grows_with_the_wait_while_the_server_does_not_answer() -> None:
    running = LaneView("broken", "x", 10, "running", elapsed_s=0.6, stats_waiting_s=0.5)
    lines = band_cells(lane_panel(running, 1.2, 50, 25))
    assert "not answering 500 ms" in lines[1][0], "too narrow for the long label: the short one"
    # From the request's send (0.1 s) to now (0.6 s) of a 1.2 s axis on 50 columns, behind every bar so far.
    dotted = [count for text, count in lines if "·" * 10 in text]
    assert len(dotted) == 10 and set(dotted) == {21}, lines


def test_the_sparkline_rises_with_a_stall_the_heartbeat_no_longer_shows() -> None:
    # After the stall the heartbeat is on time again (0.5 ms); the reading itself waited 950 ms.
    meter = lag_meter(replace(stalled(0.95), result=None, state="running", elapsed_s=1.0), 40).plain
    assert meter.startswith("loop lag ▁█ "), meter


@pytest.mark.parametrize("palette", [SCREEN, PRINT])
def test_the_legend_draws_each_state_with_its_own_glyph(palette: Palette) -> None:
    glyphs = (palette.queued, HANDLED, palette.answering, palette.pending)
    assert len(set(glyphs)) == 4, glyphs
    text = legend(palette).plain
    for glyph, words in zip(glyphs, ("queued", "in its handler", "answering", "no answer yet"), strict=True):
        assert f"{glyph} {words}" in text
    assert "server not answering" in text


def test_the_lesson_sets_code_as_code_without_backticks() -> None:
    views = twins(4)
    frame = demo_frame(render_heading(), views, width=WIDTH, max_rows=25, takeaway="calls `time.sleep` in `async def`")
    assert "Why: calls time.sleep in async def" in render(frame)


def test_the_scoreboard_shows_threads_beside_requests_in_their_handler() -> None:
    # The pool's broken twin: 60 requests in their handler at once, awaiting 6 of asyncio's threads.
    view = done("broken", serialized(10), "waves", 60)
    assert view.result is not None and view.result.server is not None
    server = replace(view.result.server, peak_in_handler=60, gauges={THREADS_GAUGE: GaugeReading(0, 6)})
    pool = replace(view, result=replace(view.result, server=server))
    text = render(scoreboard([pool]))
    header = next(line for line in text.splitlines() if "variant" in line).split()
    row = next(line for line in text.splitlines() if line.lstrip().startswith("broken")).split()
    assert header[-5:] == ["in", "handler", "threads", "max", "lag"], header
    assert row[-4:] == ["60", "6", "1", "ms"], row
    assert "threads" not in render(scoreboard(twins(4))), "only where the server counts them"
    narrow = render(scoreboard([pool], width=80), width=80)
    assert "threads" in narrow and "…" not in narrow and max(len(line.rstrip()) for line in narrow.splitlines()) <= 80
    narrow_header = next(line for line in narrow.splitlines() if "variant" in line).split()
    assert narrow_header[:2] == ["variant", "wall"], "the caption left to the lane's title"
    plain_header = next(
        line for line in render(scoreboard(twins(4), width=80), width=80).splitlines() if "variant" in line
    )
    assert plain_header.split()[:2] == ["variant", "handler"], "without threads the caption fits"
