"""`lab demo` against a real lab server: the staircase, the exports, the guesses, and every way it can be misused.

Judged on robust signals only: the order of the bars and where each one starts, the server's own peak
overlap, exit codes. No absolute time is asserted.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI, Response
from rich.console import Console
from typer.testing import CliRunner

from lab.cli import app
from lab.demo.plan import check_save_path, parse_seconds, plan
from lab.demo.race import Demo
from lab.errors import DemoError
from lab.launch.process import ThreadServer
from lab.scenarios import THREADS_GAUGE
from lab.view.demo import HANDLED

runner = CliRunner()
BAR_ROW = re.compile(r"│\s+#\d+ ([ ░█▒]+?)\s+[\d,]+ ms")


def lanes_of(text: str) -> dict[str, list[tuple[int, int]]]:
    """Each stacked lane's bars: (first handled column, last column), top to bottom."""
    lanes: dict[str, list[tuple[int, int]]] = {}
    current = None
    for line in text.splitlines():
        title = re.match(r"╭─ (\w+) ·", line)
        if title:
            current = lanes.setdefault(title.group(1), [])
        match = BAR_ROW.match(line)
        if match and current is not None:
            cells = match.group(1)
            current.append((cells.find(HANDLED), len(cells.rstrip())))
    return lanes


def plain(text: str) -> str:
    """Without colours (the suite sets TTY_COMPATIBLE=1, so even a pipe gets them)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def quiet_console(width: int = 80) -> Console:
    return Console(file=io.StringIO(), width=width, color_system=None)


def render(renderable: object, width: int = 80) -> str:
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_broken_twin_queues_as_a_staircase_and_the_fix_overlaps(lab_url: str) -> None:
    demo = Demo(plan("sleep", requests=6, delay_ms=100), lab_url, quiet_console())
    comparison = demo.run()
    assert comparison.variants["broken"].server.peak_in_handler == 1  # type: ignore[union-attr]
    assert comparison.variants["async"].server.peak_in_handler >= 4  # type: ignore[union-attr]

    text = render(demo.final_frame(80))  # 80 columns: the lanes stack, one above the other
    lanes = lanes_of(text)
    broken, fixed = lanes["broken"], lanes["async"]
    assert len(broken) == len(fixed) == 6
    firsts = [first for first, _ in broken]
    assert firsts == sorted(set(firsts)), f"each request handled after the one above it: {firsts}"
    assert firsts[-1] - firsts[0] >= 10, "the staircase spans most of the axis"
    assert max(first for first, _ in fixed) < min(last for _, last in fixed), "the fixed bars overlap"
    assert max(last for _, last in fixed) * 3 < max(last for _, last in broken), "and they are short"
    assert "serialized" in text and "Why:" in text


@pytest.mark.parametrize("scenario", ["sleep", "predict", "cpu", "pool", "downstream", "numpy", "onnx"])
def test_every_scenario_runs_with_its_twins(lab_url: str, scenario: str) -> None:
    chosen = plan(scenario, requests=3, delay_ms=20)
    comparison = Demo(chosen, lab_url, quiet_console()).run()
    assert list(comparison.variants) == list(chosen.variants)
    assert chosen.variants[0] == "broken", "the broken twin goes first"
    assert all(r.summary.ok == 3 for r in comparison.variants.values())


def test_the_pool_race_shows_the_threads_beside_the_requests_in_their_handler(lab_url: str) -> None:
    threads = min(32, (os.cpu_count() or 1) + 4)  # asyncio's default executor
    requests = threads + 6  # more than it has threads: the rest wait in their handler for one
    demo = Demo(plan("pool", requests=requests, delay_ms=100), lab_url, quiet_console())
    comparison = demo.run()
    broken = comparison.variants["broken"].server
    assert broken is not None and broken.peak_in_handler == requests
    assert broken.gauges[THREADS_GAUGE].peak == threads, "the server counted the threads running the wait"
    text = render(demo.final_frame(120), width=120)
    header = next(line for line in text.splitlines() if line.lstrip().startswith("variant"))
    row = next(line for line in text.splitlines() if line.lstrip().startswith("broken") and "ms" in line)
    assert "in handler" in header and "threads" in header
    assert f" {requests} " in row and f" {threads} " in row, row
    assert "async · anyio.to_thread + wide limiter" in text, "the fix's label names what its code calls"


def test_notebooks_await_the_demo_and_display_the_final_frame(lab_url: str) -> None:
    demo = Demo(plan("sleep", requests=2, delay_ms=20), lab_url, quiet_console())
    comparison = asyncio.run(demo.arun())  # a notebook cell: `await demo.arun()`
    assert set(comparison.variants) == {"broken", "async"}
    assert "Why:" in render(demo.final_frame(100), width=100)


def test_the_live_view_draws_frames_without_a_terminal(lab_url: str) -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, height=40, force_terminal=True, force_interactive=True)
    Demo(plan("sleep", requests=4, delay_ms=100), lab_url, console, live=True, screen=False).run()
    frames = out.getvalue()
    assert frames.count("\x1b[2K") > 10, "the live view redraws while the bursts run"
    assert "answered" in frames and "concurrent" in frames


def test_cli_prints_the_final_frame_only_when_not_a_terminal(lab_url: str) -> None:
    result = runner.invoke(app, ["demo", "--url", lab_url, "-n", "4", "--delay-ms", "50"])
    assert result.exit_code == 0, result.output
    for control in ("\x1b[2K", "\x1b[1A", "\x1b[?25l", "\x1b[?1049h"):  # erase, up, hide cursor, alt screen
        assert control not in result.stdout, "no live frames in a pipe: only the final one"
    out = plain(result.stdout)
    assert out.count("lab demo · sleep") == 1
    assert "serialized" in out and "concurrent" in out


@pytest.mark.parametrize("suffix", [".svg", ".html"])
def test_save_exports_the_final_frame(lab_url: str, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"demo{suffix}"
    result = runner.invoke(app, ["demo", "--url", lab_url, "-n", "4", "--delay-ms", "250", "--save", str(path)])
    assert result.exit_code == 0, result.output
    exported = path.read_text()
    assert exported.lstrip().startswith("<svg" if suffix == ".svg" else "<!DOCTYPE html>")
    assert exported.count("lab&#160;demo" if suffix == ".svg" else "lab demo") >= 1
    for word in ("serialized", "concurrent", "speedup"):
        assert word in exported
    assert exported.count("answered") == 0, "only the final frame, not the live ones"
    assert "not answering" in exported.replace("&#160;", " "), "the broken twin's one-second stall, as a band"
    assert_self_contained(exported, lab_url)


def assert_self_contained(exported: str, named: str) -> None:
    """A slide needs nothing from outside: no stylesheet, font, image or script fetched from a URL (the
    server the user named is on the slide as text)."""
    loads = re.findall(
        r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import""", exported
    )
    assert loads == [], loads
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", exported))
    assert urls <= {"http://www.w3.org/2000/svg", named}, f"only the SVG namespace (a name) and the server: {urls}"


def test_pause_asks_for_a_guess_and_shows_it_beside_the_answer(lab_url: str) -> None:
    args = ["demo", "--url", lab_url, "-n", "3", "--delay-ms", "100", "--pause"]
    result = runner.invoke(app, args, input="2s\nsoon\n150ms\n")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("How long will 3 requests") == 2
    assert "'soon' is not a duration" in result.stderr
    assert "guess 2,000 ms → actual" in plain(result.stdout)
    assert "guess 150 ms → actual" in plain(result.stdout)


def test_pause_with_no_answers_runs_anyway(lab_url: str) -> None:
    result = runner.invoke(app, ["demo", "--url", lab_url, "-n", "2", "--delay-ms", "50", "--pause"], input="")
    assert result.exit_code == 0, result.output
    assert "guess" not in plain(result.stdout)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["nap"], 2, "'nap' is not one of 'sleep', 'cpu'"),
        (["-n", "0"], 2, "requests must be between 2"),
        (["-n", "500"], 2, "requests must be between 2 and 200"),
        (["--delay-ms", "0"], 2, "delay must be between"),
        (["-n", "200", "--delay-ms", "1000"], 2, "keep it under 60 s"),
        (["--variants", "broken,fast"], 2, "--variants takes"),
        (["--url", "127.0.0.1:8000"], 2, "--url must be"),
        (["--url", "http://127.0.0.1:99999"], 2, "--url must be"),
        (["--url", "http://[::1"], 2, "--url must be"),
        (["--save", "demo.png"], 2, ".svg or .html"),
        (["--save", "/no/such/dir/demo.svg"], 2, "--save cannot write"),
        (["--url", "CLOSED", "-n", "2"], 1, "cannot connect"),
    ],
)
def test_mistakes_are_one_line(args: list[str], code: int, words: str) -> None:
    args = [closed_port_url() if a == "CLOSED" else a for a in args]
    result = runner.invoke(app, ["demo", *args])
    assert result.exit_code == code, result.output
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_a_server_without_the_scenario_is_named_in_one_line() -> None:
    with ThreadServer(FastAPI()) as other:
        result = runner.invoke(app, ["demo", "--url", other.url, "-n", "2"])
    assert result.exit_code == 1
    assert "has no /sleep/broken (404)" in result.stderr


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1", 1.0), ("1.5 s", 1.5), ("300ms", 0.3), (" 2 seconds ", 2.0), (".5", 0.5), ("0", None), ("soon", None)],
)
def test_parse_seconds(text: str, seconds: float | None) -> None:
    assert parse_seconds(text) == seconds


def test_save_path_checked_before_anything_runs(tmp_path: Path) -> None:
    assert check_save_path(tmp_path / "slide.SVG") == tmp_path / "slide.SVG"
    (tmp_path / "folder.svg").mkdir()
    with pytest.raises(DemoError, match="cannot write"):
        check_save_path(tmp_path / "folder.svg")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupting_stops_the_server_it_started(sig: signal.Signals) -> None:
    command = [sys.executable, "-m", "lab", "demo", "--no-live", "-n", "30", "--delay-ms", "200"]
    with subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True) as proc:
        assert proc.stderr is not None
        url = ""
        deadline = time.monotonic() + 60
        while not url and time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line, "the demo ended before its server started"
            url = line.split("lab server on ", 1)[1].strip() if "lab server on " in line else ""
        time.sleep(1.5)  # well inside the broken twin's 6 s burst
        proc.send_signal(sig)
        rest = proc.stderr.read()
        assert proc.wait(30) == 130
    assert "interrupted" in rest and "Traceback" not in rest
    port = urlsplit(url).port
    assert port is not None
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the demo's server is gone"


def test_a_foreign_server_that_fails_shows_red_bars_and_exits_1() -> None:
    other = FastAPI()

    @other.get("/sleep/{variant}")
    async def unavailable(variant: str) -> Response:
        return Response(status_code=503)

    with ThreadServer(other) as server:
        result = runner.invoke(app, ["demo", "--url", server.url, "-n", "2", "--delay-ms", "10"])
    assert result.exit_code == 1
    assert "requests failed (the red bars): 2 of broken, 2 of async" in result.stderr
    assert "not a lab server" in plain(result.stdout), "no heartbeat to show, and it says why"
