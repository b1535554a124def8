"""lab.view.plot draws one bar per request, in request order, on the Agg backend (no display needed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lab.load.burst import BurstResult
from lab.load.measure import Sample, summarize
from lab.load.verdict import judge

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from lab.view import plot  # noqa: E402 - after the backend is chosen


def make_result(samples: list[Sample], url: str = "http://127.0.0.1:1/sleep/broken") -> BurstResult:
    summary = summarize(samples)
    verdict = judge(len(samples), len(samples), summary.wall_s, 0.1, summary.ok)
    return BurstResult(url, "GET", len(samples), len(samples), samples, summary, verdict, None, 0.1)


def staircase(n: int = 5, step: float = 0.1, pids: tuple[int, ...] = (101,)) -> BurstResult:
    """A serialized burst, listed out of order (as responses arrive) to prove the plot sorts by index."""
    samples = [
        Sample(i, 0.0, (i + 1) * step, 200, None, i * step, step, pids[i % len(pids)]) for i in reversed(range(n))
    ]
    return make_result(samples)


def test_timeline_draws_one_bar_per_request_in_request_order() -> None:
    result = staircase(5)
    figure = plot.timeline(result)
    figure.canvas.draw()  # renders: catches errors that only show when drawing
    (ax,) = figure.axes
    bars = ax.patches
    assert len(bars) == 5
    centres = [bar.get_y() + bar.get_height() / 2 for bar in bars]
    assert centres == [1, 2, 3, 4, 5]  # request #1 is row 1 ...
    low, high = ax.get_ylim()
    assert low > high  # ... and row 1 is at the top (the y axis is inverted)
    assert [round(bar.get_width(), 6) for bar in bars] == [0.1, 0.2, 0.3, 0.4, 0.5]  # the staircase
    assert all(bar.get_x() == 0.0 for bar in bars)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["#1", "#2", "#3", "#4", "#5"]


def test_server_side_spans_are_drawn_unless_turned_off() -> None:
    result = staircase(4)
    with_server = plot.timeline(result).axes[0]
    (lines,) = with_server.collections
    assert len(lines.get_segments()) == 4
    assert len(plot.timeline(result, server=False).axes[0].collections) == 0


def test_failed_requests_are_red_and_named_in_the_legend() -> None:
    samples = [Sample(0, 0.0, 0.1, 200), Sample(1, 0.0, 0.2, None, "ReadTimeout")]
    figure = plot.timeline(make_result(samples, "http://127.0.0.1:1/x"))
    ok, failed = figure.axes[0].patches
    assert matplotlib.colors.to_hex(ok.get_facecolor()) == plot.OK_COLOR
    assert matplotlib.colors.to_hex(failed.get_facecolor()) == plot.FAILED_COLOR
    assert "failed" in [t.get_text() for t in figure.legends[0].get_texts()]


def test_color_by_pid_gives_each_worker_its_own_colour() -> None:
    figure = plot.timeline(staircase(6, pids=(101, 202)), color_by="pid")
    colours = {matplotlib.colors.to_hex(bar.get_facecolor()) for bar in figure.axes[0].patches}
    assert len(colours) == 2
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "answered by pid 101" in labels and "answered by pid 202" in labels


def test_timelines_share_one_time_axis_so_the_slow_burst_looks_slow() -> None:
    fast = make_result([Sample(i, 0.0, 0.1, 200) for i in range(3)], "http://127.0.0.1:1/sleep/async")
    slow = staircase(3)
    figure = plot.timelines({"async": fast, "broken": slow})
    figure.canvas.draw()
    assert len(figure.axes) == 2
    assert [len(ax.patches) for ax in figure.axes] == [3, 3]
    assert figure.axes[0].get_xlim() == figure.axes[1].get_xlim()
    assert figure.axes[0].get_xlim()[1] >= 0.3  # the slow burst's last answer is in view on both
    assert figure.axes[0].get_title(loc="left").startswith("async")


def test_timelines_of_a_list_keep_bursts_of_the_same_url_apart() -> None:
    figure = plot.timelines([staircase(2), staircase(3)])
    assert [len(ax.patches) for ax in figure.axes] == [2, 3]
    with pytest.raises(ValueError):
        plot.timelines([])


def test_percentiles_draws_one_line_per_burst() -> None:
    figure = plot.percentiles({"a": staircase(5), "b": staircase(3)})
    lines = [line for line in figure.axes[0].get_lines() if line.get_label() in ("a", "b")]
    assert [len(line.get_xdata()) for line in lines] == [5, 3]
    assert list(lines[0].get_xdata()) == [0, 25, 50, 75, 100]


def test_a_missing_matplotlib_gets_a_message_saying_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # makes `import matplotlib.pyplot` fail
    with pytest.raises(ModuleNotFoundError, match="uv sync"):
        plot.timeline(staircase(2))


def test_without_matplotlib_it_says_what_to_install() -> None:
    probe = (
        "import sys; sys.modules['matplotlib'] = sys.modules['matplotlib.pyplot'] = None\n"
        "from lab import plot\n"
        "import types\n"
        "try:\n    plot.timeline(types.SimpleNamespace(samples=[]))\n"
        "except ModuleNotFoundError as exc:\n    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert "pip install 'concurrency-lab[notebooks]'" in done.stdout, done.stderr[-1500:]
