"""A burst's report, rendered to a fixed-width console and compared as text (as Rich tests its renderables)."""

from __future__ import annotations

import io
from dataclasses import replace

from rich.console import Console

from lab.load.burst import BurstResult
from lab.load.compare import Comparison
from lab.load.measure import Sample, summarize
from lab.load.verdict import judge
from lab.protocol import ServerStats
from lab.scenarios import SCENARIOS
from lab.view.burst import burst_report, comparison_report, timeline

SERVER = ServerStats(
    since=0.0,
    in_flight=0,
    peak_in_flight=1,
    loop_lag_max_s=0.2,
    loop_lag_last_s=0.0,
    heartbeats=30,
    thread_tokens_total=40,
    thread_tokens_peak=0,
)


def render(renderable: object, width: int = 80) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    console.print(renderable)
    return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines())  # type: ignore[attr-defined]


def staircase(n: int = 3, step: float = 0.1) -> list[Sample]:
    return [Sample(i, 0.0, (i + 1) * step, 200) for i in range(n)]


def result(samples: list[Sample], server: ServerStats | None = SERVER) -> BurstResult:
    summary = summarize(samples)
    verdict = judge(len(samples), len(samples), summary.wall_s, 0.1, summary.ok, server)
    return BurstResult(
        "http://127.0.0.1:1/sleep/broken", "GET", len(samples), len(samples), samples, summary, verdict, server, 0.1
    )


def test_a_serialized_timeline_is_a_staircase() -> None:
    assert render(timeline(staircase(), 0.3, width=30)) == "\n".join(
        [
            "   #1 ██████████                      100 ms 200",
            "   #2 ████████████████████            200 ms 200",
            "   #3 ██████████████████████████████  300 ms 200",
        ]
    )


def test_failed_requests_say_why_in_the_timeline() -> None:
    samples = [Sample(0, 0.0, 0.1, 200), Sample(1, 0.0, 0.2, error="ReadTimeout")]
    text = render(timeline(samples, 0.2, width=10))
    assert text.splitlines()[1].endswith("200 ms ReadTimeout")


def test_the_report_shows_the_summary_the_server_and_the_verdict() -> None:
    text = render(burst_report(result(staircase())), width=100)
    lines = text.splitlines()
    assert lines[0] == "GET http://127.0.0.1:1/sleep/broken"
    assert "Total (wall)           300 ms" in text
    assert "Status codes           [200] 3" in text
    assert "Server: in a handler   1 request inside the app at once" in text  # no handler count: said so
    assert "Server: max loop lag   200 ms, the longest single stall" in text
    verdict = text[text.index("verdict:") :].replace("\n", " ")
    assert verdict.startswith("verdict: serialized — 3 requests took 300 ms = 3.0 x one request alone")
    assert verdict.endswith("they ran one after another")


def test_the_server_rows_say_what_ran_what_waited_and_which_line_blocked() -> None:
    from dataclasses import replace

    from lab.protocol import BlockingSite

    site = BlockingSite("/srv/app.py", 36, "predict", "time.sleep(0.2)", "time.sleep(...)", 0.28, 0.97)
    server = replace(SERVER, peak_in_flight=60, peak_in_handler=40, peak_token_waiters=20, blocking=(site,))
    text = render(burst_report(result(staircase(), server=server)), width=160)
    assert "Server: in a handler   40 requests at once (60 inside the app)" in text
    # The line's 280 ms beside a 200 ms lag: one figure is the longest single stall, the other all of them.
    assert "Server: max loop lag   200 ms, the longest single stall" in text
    assert "Server: waiting        up to 20 requests for a thread token" in text
    assert (
        "Server: blocking line  app.py:36 `time.sleep(...)` held the event loop 280 ms in all "
        "(97% of the stalled time), in predict()" in text
    )


def test_a_server_that_is_not_a_lab_server_shows_no_server_rows() -> None:
    text = render(burst_report(result(staircase(), server=None)), width=100)
    assert "Server:" not in text


def test_a_comparison_is_a_table_timelines_and_the_why() -> None:
    broken = result(staircase())
    fine = result([Sample(i, 0.0, 0.1, 200) for i in range(3)], server=None)
    comparison = Comparison(SCENARIOS["sleep"], 3, 100, {"async": fine, "broken": broken})
    text = render(comparison_report(comparison), width=100)
    header = next(line for line in text.splitlines() if line.lstrip().startswith("variant"))
    assert header.split() == ["variant", "wall", "p50", "max", "overlap", "lag", "speedup", "verdict"]
    assert any(line.split()[:3] == ["async", "100", "ms"] and "3.0x" in line for line in text.splitlines())
    assert any(line.split()[:3] == ["broken", "300", "ms"] and "1.0x" in line for line in text.splitlines())
    assert "Why: The broken handler is `async def` but calls `time.sleep`." in text.replace("\n", " ")


def test_a_server_of_several_processes_says_whose_readings_are_shown() -> None:
    samples = [replace(s, pid=100 + s.index % 2) for s in staircase(4)]  # two worker processes answered
    text = render(burst_report(result(samples)), width=120)
    assert "2 answered; the readings below are from 1 of them only" in text
    merged = render(burst_report(result(samples, replace(SERVER, workers=2))), width=120)
    assert "2 answered; the readings below are from all of them" in merged
    assert "Server: processes" not in render(burst_report(result(staircase(4))), width=120)  # one process: no row
