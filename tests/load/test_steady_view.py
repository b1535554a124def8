"""`lab load`'s views, drawn from made-up seconds: the live last seconds and the folded timeline of a long run."""

from __future__ import annotations

import io

from rich.console import Console

from lab.load.latency import Recorder, Second
from lab.load.steady import SteadyPlan, SteadyResult
from lab.view.steady import LIVE_SECONDS, LiveLoad, steady_report, timeline_table

PLAN = SteadyPlan("http://127.0.0.1:8000/health", rate=50, duration_s=30)


def _text(renderable: object, width: int = 120) -> str:
    out = io.StringIO()
    Console(file=out, width=width, force_terminal=False, color_system=None).print(renderable)
    return out.getvalue()


def test_live_view_shows_the_last_seconds_and_totals() -> None:
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=True, color_system=None)
    with LiveLoad(PLAN, console) as live:
        for index in range(LIVE_SECONDS + 3):
            live.second(Second(index, in_flight=4, sent=50, answered=49, errors=1, p50_s=0.002, p99_s=0.009))
        frame = _text(live._render())
    assert f"so far: {50 * (LIVE_SECONDS + 3):,} sent" in frame
    assert f"{LIVE_SECONDS + 3:,} errors" in frame
    assert f"{LIVE_SECONDS + 2}s" in frame and "\n 0s " not in frame  # only the last seconds
    assert len(live.recent) == LIVE_SECONDS


def test_long_timelines_fold_into_few_rows_with_the_worst_seconds() -> None:
    seconds = [Second(i, in_flight=i % 7, sent=10, answered=10, p50_s=0.001 * (i + 1), p99_s=0.01) for i in range(95)]
    seconds[42].p99_s = 3.2  # one bad second must survive the folding
    text = _text(timeline_table(seconds, max_rows=20))
    assert "worst p99" in text and "3,200 ms" in text
    assert "0-4s" in text and "90-94s" in text
    assert "\n 5s" not in text


def test_report_says_when_the_schedule_was_not_kept() -> None:
    record = Recorder()
    for i in range(10):
        record.sent(i * 0.02, 3.2 if i == 9 else 0.0)
        record.answered(i * 0.02 + 0.01, 0.01, 200)
    record.skipped(0.5)
    result = SteadyResult(PLAN, record.report(), None, cpu_s=0.001, wall_s=1.0)
    text = _text(steady_report(result))
    assert "fell 3,20" in text and "ms behind its schedule" in text  # 3.2 s, within the histogram's 0.1 %
    assert "1 sends skipped: 1,000 requests were already in flight" in text
    assert "Server:" not in text  # not a lab server: no server rows
