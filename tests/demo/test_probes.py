"""`lab demo probes`: the broken twin and its fix under steady traffic, the kubelet probing each, on real servers.

Judged on counts that do not move when the machine is busy: restart decisions per twin (the broken twin's
loop is held for seconds at 20/s, so /health times out three times in a row; the fixed twin's `async def
/health` answers), failed probes, and what the frame and the page say. No absolute time is asserted.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from lab.cli import app
from lab.demo.probe_model import Mark, ProbeLaneView, ProbeRaceView, Tick, probe_race_json, rotation_spans
from lab.demo.probe_race import ProbeDemo, ProbeDemoPlan
from lab.demo.web import ProbeFeed, WebView
from lab.view.probe_demo import OUT, TICK, marks_row, probe_frame, probe_strip

runner = CliRunner()
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def text_of(renderable: Any, width: int = 120) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return out


@pytest.fixture(scope="module")
def race() -> ProbeRaceView:
    """One real probe race: each twin on a fresh lab server, 20/s for 10 s, liveness every 2 s (timeout 1 s)."""
    demo = ProbeDemo(ProbeDemoPlan(), Console(file=io.StringIO(), width=120), live=False)
    return demo.run()


def lane(view: ProbeRaceView, variant: str) -> ProbeLaneView:
    return next(lane for lane in view.lanes if lane.variant == variant)


# --- pure: the model and the strip ------------------------------------------------------------


def test_a_restart_without_readiness_is_out_of_rotation_for_its_back_off_only() -> None:
    marks = [Mark(4.0, "restart", "r1", 1, 0.0), Mark(9.0, "restart", "r2", 2, 10.0)]
    assert rotation_spans(marks, 15.0, gated=False) == ((9.0, 15.0),)  # the first ran again at once
    assert rotation_spans(marks, None, gated=False) == ((9.0, 19.0),)


def test_readiness_spans_run_from_unready_to_ready_and_to_the_end_when_still_out() -> None:
    marks = [Mark(2.0, "unready", "out"), Mark(5.0, "ready", "in"), Mark(8.0, "unready", "out")]
    assert rotation_spans(marks, 12.0, gated=True) == ((2.0, 5.0), (8.0, 12.0))


def test_the_strip_puts_each_tick_at_its_time_and_the_restart_under_it() -> None:
    view = ProbeLaneView(
        "broken",
        "/sleep/broken",
        "done",
        ticks=(Tick(0.0, "liveness", "ok"), Tick(5.0, "liveness", "timeout")),
        marks=(Mark(5.0, "restart", "r1", 1, 2.0),),
        end_s=10.0,
    )
    strip = probe_strip(view, 10.0, 20)
    assert strip.plain[0] == TICK and strip.plain[10] == TICK
    assert strip.plain[11:13] == OUT * 2, "out of rotation for the back-off, after the tick"
    styles = {span.start: str(span.style) for span in strip.spans}
    assert "green" in styles[0] and "red" in styles[10]
    assert marks_row(view, 10.0, 40).plain.index("▲ restart 1") == 20
    assert marks_row(view, 10.0, 20).plain.endswith("▲ restart 1"), "past the right edge: ends at the edge"


# --- a real race --------------------------------------------------------------------------


def test_the_broken_twin_is_restarted_and_its_fix_never_is(race: ProbeRaceView) -> None:
    broken, fixed = lane(race, "broken"), lane(race, "async")
    assert broken.restarts >= 1 and fixed.restarts == 0, (broken.marks, fixed.marks)
    assert broken.failed_probes >= 3, "three failures in a row make a restart"
    assert any(mark.action == "restart" and mark.restart == 1 for mark in broken.marks)
    assert broken.p99_s is not None and fixed.p99_s is not None and broken.p99_s > 3 * fixed.p99_s, "the queue"
    assert fixed.answered > broken.answered, "the fix keeps up with the traffic; the broken twin cannot"


def test_the_frame_names_each_twin_its_restarts_and_why(race: ProbeRaceView) -> None:
    text = text_of(probe_frame(race, width=120))
    row = r"\s+[\d,]+\s+(?P<errors>[\d,]+)\s+[\d,.]+ m?s\s+\d+ of \d+\s+(?P<restarts>\d+)\s"
    broken, fixed = re.search("broken" + row, text), re.search("async" + row, text)
    assert broken is not None and fixed is not None, text
    assert int(broken["restarts"]) >= 1 and fixed["restarts"] == "0" and fixed["errors"] == "0"
    assert "▲ restart 1" in text and "the kubelet restarts the container (restart 1)" in text
    assert "Why:" in text and "time.sleep" in text and "`" not in text  # code set as code, no backticks
    assert text.count(TICK) >= 2 * 4, "a tick per probe attempt, in both lanes"


def test_the_page_draws_the_probe_strip_with_red_ticks_for_the_broken_lane(race: ProbeRaceView) -> None:
    playwright = pytest.importorskip("playwright.sync_api", reason="no playwright package")
    if not os.path.exists(CHROMIUM):
        pytest.skip("no Chromium (apt-get install chromium)")
    data = probe_race_json(race)
    assert data["lanes"][0]["probes"] and data["done"]
    with WebView(ProbeFeed(lambda: race)) as view, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1300, "height": 1000})
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.goto(view.url)
        tab.wait_for_function("document.body.dataset.done === 'true'", timeout=10_000)
        if os.environ.get("LAB_SCREENSHOTS"):
            tab.screenshot(path=str(Path(os.environ["LAB_SCREENSHOTS"]) / "lab-web-probes.png"), full_page=True)
        count = "sel => document.querySelectorAll(sel).length"
        broken_red = tab.evaluate(count, '.lane[data-variant="broken"] .probe-strip .tick.bad')
        fixed_red = tab.evaluate(count, '.lane[data-variant="async"] .probe-strip .tick.bad')
        texts = "sel => [...document.querySelectorAll(sel)].map(m => m.textContent)"
        marks = tab.evaluate(texts, '.lane[data-variant="broken"] .mark')
        fixed_marks = tab.evaluate(count, '.lane[data-variant="async"] .mark')
        summary = tab.inner_text("#scoreboard")
        browser.close()
    assert errors == [], "the page's script raised"
    assert broken_red == lane(race, "broken").failed_probes >= 3
    assert fixed_red == lane(race, "async").failed_probes
    assert len(marks) == lane(race, "broken").restarts and "1" in marks[0] and fixed_marks == 0, marks
    assert "restarts" in summary and "broken" in summary


def test_the_page_streams_a_running_probe_race() -> None:
    """The page follows a race while it runs: its events carry the whole snapshot, and it ends when the race does."""
    view = ProbeRaceView("t", 20, 10, ("liveness",), "why", (ProbeLaneView("broken", "/x", "running"),))
    done = threading.Event()

    def snapshot() -> ProbeRaceView:
        if not done.is_set():
            return view
        finished = ProbeLaneView("broken", "/x", "done", ticks=(Tick(1.0, "liveness", "timeout"),), end_s=10.0)
        return ProbeRaceView("t", 20, 10, ("liveness",), "why", (finished,))

    playwright = pytest.importorskip("playwright.sync_api", reason="no playwright package")
    if not os.path.exists(CHROMIUM):
        pytest.skip("no Chromium (apt-get install chromium)")
    with WebView(ProbeFeed(snapshot)) as web, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        tab = browser.new_page()
        tab.goto(web.url)
        tab.wait_for_function("Number(document.body.dataset.updates) >= 2", timeout=10_000)
        assert tab.evaluate("document.querySelectorAll('.tick').length") == 0
        done.set()
        tab.wait_for_function("document.body.dataset.done === 'true'", timeout=10_000)
        assert tab.evaluate("document.querySelectorAll('.tick.bad').length") == 1
        browser.close()


# --- the command line ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-n", "5"], "-n do not apply"),
        (["--pause"], "--pause do not apply"),
        (["--save", "race.json"], "--save takes .svg or .html"),
        (["--delay-ms", "5000"], "--delay-ms must be between 1 and 1000"),
    ],
)
def test_what_a_probe_race_does_not_take_is_one_usage_line(args: list[str], says: str) -> None:
    result = runner.invoke(app, ["demo", "probes", *args])
    assert result.exit_code == 2, result.output
    assert says in result.output and "Traceback" not in result.output


def test_cli_web_streams_the_probe_race_live_and_stays_up() -> None:
    """`lab demo probes --web`: the address on stderr, the race when the page opens, drawn as it runs, then kept."""
    playwright = pytest.importorskip("playwright.sync_api", reason="no playwright package")
    if not os.path.exists(CHROMIUM):
        pytest.skip("no Chromium (apt-get install chromium)")
    command = [sys.executable, "-m", "lab", "demo", "probes", "--web", "--no-open"]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = ""
        for _ in range(20):
            line = proc.stderr.readline()
            if "web view is at" in line:
                break
        address = line.rsplit(" ", 1)[-1].strip()
        assert address.startswith("http://127.0.0.1:"), line
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            tab = browser.new_page(viewport={"width": 1300, "height": 1000})
            tab.goto(address)
            running = "document.querySelector('.lane[data-state=\"running\"] .tick') !== null"
            tab.wait_for_function(running, timeout=60_000)  # drawn while it runs, not only at the end
            if os.environ.get("LAB_SCREENSHOTS"):
                shot = Path(os.environ["LAB_SCREENSHOTS"]) / "lab-web-probes-live.png"
                tab.screenshot(path=str(shot), full_page=True)
            tab.wait_for_function("document.body.dataset.done === 'true'", timeout=120_000)
            red = tab.evaluate("document.querySelectorAll('.lane[data-variant=\"broken\"] .tick.bad').length")
            restarts = tab.evaluate("document.querySelector('.lane[data-variant=\"async\"]').dataset.restarts")
            browser.close()
        for _ in range(40):
            if "stays up" in proc.stderr.readline():
                break
        assert proc.poll() is None, "the page stays up after the race"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert red >= 3 and restarts == "0"
    assert proc.returncode == 0 and "restart 1" in out, out
