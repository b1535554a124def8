"""A race kept whole (`--save race.json`) and replayed (`--replay`), with no server; the terminal fixes of issue 12."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from lab.cli import app
from lab.demo.plan import plan
from lab.demo.race import Demo
from lab.demo.record import FORMAT, phases, race_json, read_race
from lab.demo.replay import Replay, check_speed
from lab.errors import DemoError
from lab.load.measure import Sample
from lab.view.demo import NOT_ANSWERING_S, PRINT, SAVE_WIDTH, export, lines_of

runner = CliRunner()


def plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def quiet() -> Console:
    return Console(file=io.StringIO(), width=100, color_system=None)


@pytest.fixture(scope="module")
def saved(lab_url: str) -> dict[str, object]:
    demo = Demo(plan("sleep", requests=5, delay_ms=100), lab_url, quiet(), show_url=False)
    demo.run()
    return json.loads(json.dumps(race_json(demo.snapshot())))  # exactly what the file holds


def test_phases_come_from_the_servers_stamps_and_add_up_to_the_latency() -> None:
    sample = Sample(0, 0.001, 0.31, 200, server_start_s=0.2, server_time_s=0.1)
    names = [(p["name"], p["start_s"], p["end_s"]) for p in phases(sample)]
    assert names == [("queued", 0.001, 0.2), ("in_server", 0.2, 0.3), ("answered", 0.3, 0.31)]
    skewed = phases(Sample(0, 0.01, 0.2, 200, server_start_s=0.009, server_time_s=0.5))  # clocks a hair apart
    assert all(p["end_s"] >= p["start_s"] for p in skewed) and skewed[-1]["end_s"] == 0.2
    assert [p["name"] for p in phases(Sample(0, 0.0, 0.1, 200))] == ["waiting"], "not a lab server: one phase"


def test_a_saved_race_keeps_every_sample_and_every_stats_reading(saved: dict[str, object]) -> None:
    assert saved["format"] == FORMAT and saved["url"] is None
    lanes = saved["lanes"]
    assert isinstance(lanes, list) and [lane["variant"] for lane in lanes] == ["broken", "async"]
    for lane in lanes:
        assert len(lane["samples"]) == 5 and lane["stats"], "every request, and the heartbeat beside it"
        assert lane["server"]["peak_in_flight"] >= 1 and lane["verdict"]["kind"]
    broken = sorted(lanes[0]["samples"], key=lambda s: s["server_start_s"])
    queued = [s["phases"][0]["end_s"] - s["phases"][0]["start_s"] for s in broken]
    assert queued == sorted(queued) and queued[-1] > 0.3, "the staircase is in the file: each waits longer"


def test_a_replay_shows_the_race_as_it_went(saved: dict[str, object]) -> None:
    race = read_race(saved)
    first, second = race.lanes
    assert race.duration_s == pytest.approx(first.wall_s + second.wall_s + 0.5)
    start = race.views_at(0.0)
    assert [v.state for v in start] == ["running", "waiting"] and start[0].samples == ()
    middle = race.views_at(first.wall_s * 0.6)
    assert 0 < len(middle[0].samples) < 5, "the broken twin part-way down its staircase"
    end = race.views_at(race.duration_s)
    assert [v.state for v in end] == ["done", "done"] and all(v.result is not None for v in end)
    player = Replay(race, quiet(), speed=0.5)
    console = Console(width=100, record=True, file=io.StringIO(), color_system=None)
    console.print(player.final_frame(100))
    text = console.export_text()
    assert "serialized" in text and "Why:" in text and "127.0.0.1" not in text


def test_a_stats_request_waiting_on_the_blocked_loop_replays_as_the_alarm(saved: dict[str, object]) -> None:
    race = read_race(saved)
    # The middle of the wait must fall inside the burst: the replay shows the lane running only then. A request
    # sent during the warm-up and answered in the burst counts (its send is before 0 on the lane's clock: the
    # stall it waited out began before the burst's first request); one answered before the burst is stamped 0.
    wall = race.lanes[0].wall_s
    waits = [r for r in race.lanes[0].lag if r.waited_s >= 0.02 and 0.02 < r.at_s - r.waited_s / 2 < wall]
    assert waits, "against the broken twin a stats request waited for the handler holding the loop"
    reading = max(waits, key=lambda r: r.waited_s)
    view = race.views_at(reading.at_s - reading.waited_s / 2)[0]
    assert view.stats_waiting_s == pytest.approx(reading.waited_s / 2, abs=0.01), (reading, race.lanes[0].lag, wall)


def test_a_replay_draws_the_stall_as_a_band_and_exports_it(saved: dict[str, object], tmp_path: Path) -> None:
    race = read_race(saved)
    broken = race.lanes[0]
    (start, end), *_ = broken.stalls(NOT_ANSWERING_S)
    assert end - start >= 0.2, "five 100 ms handlers held the loop: most of the burst is one stall"
    middle = race.views_at((start + end) / 2)[0]
    assert middle.state == "running" and middle.stalls(NOT_ANSWERING_S), "the band grows as the replay plays"
    svg = tmp_path / "replay.svg"
    export(Replay(race, quiet()).final_frame(SAVE_WIDTH, None, PRINT), svg)
    exported = svg.read_text().replace("&#160;", " ")
    assert "not answering" in exported
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", exported), "nothing fetched from outside"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"format": "other"}, "not a saved race"),
        ({"scenario": "nope"}, "unknown scenario"),
        ({"lanes": []}, "no finished lanes"),
        ({"lanes": "x"}, "lanes must be a list"),
        ({"requests": None}, "cannot be replayed"),
    ],
)
def test_a_damaged_race_is_one_line(saved: dict[str, object], change: dict[str, object], words: str) -> None:
    with pytest.raises(DemoError, match=words):
        read_race({**saved, **change})


def test_speed_is_bounded() -> None:
    assert check_speed(0.1) == 0.1 and check_speed(1.0) == 1.0
    for bad in (0.05, 1.5, 0.0):
        with pytest.raises(DemoError, match="between 0.1 and 1"):
            check_speed(bad)


def test_cli_saves_a_race_and_replays_it_with_no_server(lab_url: str, tmp_path: Path) -> None:
    race = tmp_path / "race.json"
    saved = runner.invoke(app, ["demo", "--url", lab_url, "-n", "3", "--delay-ms", "50", "--save", str(race)])
    assert saved.exit_code == 0, saved.output
    assert json.loads(race.read_text())["url"] == lab_url, "the server the user named is kept"
    html = tmp_path / "replay.html"
    replayed = runner.invoke(app, ["demo", "--replay", str(race), "--speed", "0.5", "--save", str(html)])
    assert replayed.exit_code == 0, replayed.output
    assert "starting a lab server" not in replayed.stderr
    assert "serialized" in plain(replayed.stdout) and "Why:" in plain(replayed.stdout)
    assert "serialized" in html.read_text() and "speedup" in html.read_text()


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--replay", "missing.json"], 2, "cannot read"),
        (["--replay", "bad.json"], 2, "is not JSON"),
        (["--replay", "empty.json"], 2, "cannot be replayed"),
        (["--replay", "empty.json", "--speed", "3"], 2, "--speed must be between"),
        (["--replay", "empty.json", "--url", "http://127.0.0.1:1"], 2, "do not apply"),
        (["--no-open"], 2, "go with --web"),
        (["--port", "8080"], 2, "go with --web"),
        (["--speed", "0.5"], 2, "goes with --replay"),
    ],
)
def test_replay_mistakes_are_one_line(tmp_path: Path, args: list[str], code: int, words: str) -> None:
    (tmp_path / "bad.json").write_text("{nope")
    (tmp_path / "empty.json").write_text("{}")
    args = [str(tmp_path / a) if a.endswith(".json") else a for a in args]
    result = runner.invoke(app, ["demo", *args])
    assert result.exit_code == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.output


def test_the_slide_names_the_server_only_when_the_user_did(lab_url: str) -> None:
    port = lab_url.rsplit(":", 1)[1]
    named = runner.invoke(app, ["demo", "--url", lab_url, "-n", "2", "--delay-ms", "20"])
    assert named.exit_code == 0 and lab_url in plain(named.stdout)
    demo = Demo(plan("sleep", requests=2, delay_ms=20), lab_url, quiet(), show_url=False)
    demo.run()
    console = Console(width=100, record=True, file=io.StringIO(), color_system=None)
    console.print(demo.final_frame(100))
    assert f":{port}" not in console.export_text(), "a throwaway port is not on the slide"


def test_the_final_frame_of_pool_fits_a_40_row_screen(lab_url: str) -> None:
    demo = Demo(plan("pool", requests=60, delay_ms=20), lab_url, quiet())
    demo.run()
    assert lines_of(demo.final_frame(100), 100) > 60, "unfitted, it scrolls the broken panel away"
    fitted = demo.final_frame(100, 40)
    assert lines_of(fitted, 100) <= 40
    console = Console(width=100, record=True, file=io.StringIO(), color_system=None)
    console.print(fitted)
    text = console.export_text()
    assert "╭─ broken" in text.splitlines()[2], "the broken panel is on screen, at the top"
    assert "Why:" in text


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_exported_queued_cells_read_on_white() -> None:
    # WCAG's contrast ratio against the export's white page: 4.5 is the bar for text; rich's olive yellow is 3.9.
    assert (1.05) / (luminance(PRINT.queued_style.split()[-1]) + 0.05) >= 4.5
    assert (1.05) / (luminance("#808000") + 0.05) < 4.5, "the old colour fails the same test"
    assert PRINT.queued == "▓", "three-quarter-filled cells, not the quarter-filled ░"


def test_the_terminal_replay_draws_frames_and_half_speed_takes_twice_as_long(saved: dict[str, object]) -> None:
    race = read_race(saved)
    took = {}
    for speed in (1.0, 0.5):
        out = io.StringIO()
        console = Console(file=out, width=100, height=40, force_terminal=True, force_interactive=True)
        began = time.perf_counter()
        Replay(race, console, speed=speed, screen=False).play()
        took[speed] = time.perf_counter() - began
        assert out.getvalue().count("\x1b[2K") > 10, "frames were drawn as the replay went"
    assert 1.6 <= took[0.5] / took[1.0] <= 2.5, took
