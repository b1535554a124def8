"""`lab demo --web` in a real browser: Debian's Chromium, driven by Playwright, against a real lab server.

Judged from the DOM (each bar carries its request's phases from the server's own stamps), from counters the
page keeps (events received), and from ratios (a replay at 0.5x against one at 1x), never from pixels or
tight absolute times. Skipped, in one line, where there is no Chromium.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from lab.demo.plan import plan
from lab.demo.race import Demo
from lab.demo.record import race_json
from lab.demo.web import Answers, LiveFeed, ReplayFeed, WebView, page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.sync_api", reason="no playwright package")
needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no Chromium (apt-get install chromium)")

ALL_DONE = "[...document.querySelectorAll('.lane')].length > 0 && "
ALL_DONE += "[...document.querySelectorAll('.lane')].every(l => l.dataset.state === 'done')"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("no Chromium (apt-get install chromium)")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def tab(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page_ = context.new_page()
    errors: list[str] = []
    page_.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page_
    context.close()
    assert errors == [], "the page's script raised"


@contextmanager
def live(lab_url: str, demo_plan: Any, **options: Any) -> Iterator[tuple[str, Demo]]:
    """A demo racing in a thread, its web view in another, as `lab demo --web` runs them."""
    answers = Answers()  # the page's answer box first, then the runner that reads it: no late binding
    console = Console(file=io.StringIO(), width=100)
    demo = Demo(demo_plan, lab_url, console, read_line=answers.read_line, show_url=False, **options)
    feed = LiveFeed(demo.snapshot, answers)
    failures: list[BaseException] = []

    def race() -> None:
        try:
            feed.wait_for_viewer(30)
            demo.run()
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)

    with WebView(feed) as view:
        thread = threading.Thread(target=race, daemon=True)
        thread.start()
        yield view.url, demo
        thread.join(60)
    assert not failures, failures


def bars(tab: Any, variant: str) -> list[dict[str, float]]:
    return tab.evaluate(
        """variant => [...document.querySelectorAll(`.lane[data-variant="${variant}"] .bar.done`)].map(b => ({
            start: +b.dataset.start, end: +b.dataset.end,
            server_start: +b.dataset.serverStart, server_end: +b.dataset.serverEnd}))""",
        variant,
    )


def test_the_page_is_one_small_document() -> None:
    document = page()
    assert len(document.encode()) < 200_000
    assert "/*STYLE*/" not in document and "/*SCRIPT*/" not in document, "style and script inlined"
    assert not re.search(r"""(src|href)=["']https?://""", document), "nothing from a CDN"
    assert "/*CONSTANTS*/" not in document and '"LAG_BAD_S": 0.05' in document, "the terminal's thresholds"


@needs_chromium
def test_bars_appear_for_every_request_and_the_broken_twin_is_a_staircase(lab_url: str, tab: Any) -> None:
    with live(lab_url, plan("sleep", requests=6, delay_ms=100)) as (url, _):
        tab.goto(url)
        tab.wait_for_function(ALL_DONE, timeout=30_000)
        broken, fixed = bars(tab, "broken"), bars(tab, "async")
        held = tab.inner_text('.lane[data-variant="broken"] .lagtext')
        if os.environ.get("LAB_SCREENSHOTS"):  # a folder: look at what the room would see
            tab.screenshot(path=str(Path(os.environ["LAB_SCREENSHOTS"]) / "lab-web-race.png"), full_page=True)
    assert len(broken) == len(fixed) == 6, "one bar per request"
    steps = sorted(broken, key=lambda b: b["server_start"])
    for before, after in zip(steps, steps[1:], strict=False):
        assert after["server_start"] >= before["server_end"] - 0.002, "each starts in the server after the last ends"
    queued = [b["server_start"] - b["start"] for b in steps]
    assert queued == sorted(queued) and queued[-1] - queued[0] > 0.3, "each waits longer: a staircase"
    assert max(b["server_start"] for b in fixed) < min(b["server_end"] for b in fixed), "the fix overlaps"
    assert tab.locator("#scoreboard tbody tr").count() == 2 and "Why:" in tab.inner_text("#why")
    assert "held by sleep.py:" in held and "time.sleep" in held, f"the watchdog's line, live: {held!r}"


@needs_chromium
def test_labels_are_at_least_24px_at_1024x768_in_both_themes(lab_url: str, tab: Any) -> None:
    with live(lab_url, plan("sleep", requests=3, delay_ms=20)) as (url, _):
        for theme in ("dark", "light"):
            tab.goto(f"{url}?theme={theme}")
            tab.wait_for_function(ALL_DONE, timeout=30_000)
            sizes = tab.evaluate(
                """() => [...document.querySelectorAll('body *')].filter(e => e.offsetParent !== null &&
                    [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
                    .map(e => [e.tagName + '.' + e.className, parseFloat(getComputedStyle(e).fontSize)])"""
            )
            small = [(name, size) for name, size in sizes if size < 24]
            assert sizes and small == [], small
            colours = tab.evaluate(
                "() => [getComputedStyle(document.body).color, getComputedStyle(document.body).backgroundColor]"
            )
            assert contrast(*colours) >= 7, f"{theme}: text against background"


def contrast(foreground: str, background: str) -> float:
    def luminance(css: str) -> float:
        channels = [int(c) / 255 for c in re.findall(r"\d+", css)[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@needs_chromium
def test_the_view_keeps_updating_while_the_server_is_stalled_for_a_second(lab_url: str, tab: Any) -> None:
    with live(lab_url, plan("sleep", requests=2, delay_ms=1000, variants="broken")) as (url, _):
        tab.goto(url)
        lane = '.lane[data-variant="broken"]'
        tab.wait_for_function(f"document.querySelector('{lane}')?.dataset.state === 'running'", timeout=30_000)
        readings, bands = [], []
        for _ in range(8):  # the first answer needs a whole second of blocked loop
            readings.append(
                tab.evaluate(
                    f"""() => [+document.body.dataset.updates, document.querySelector('{lane}').dataset.answered,
                        +document.querySelector('{lane}').dataset.elapsed,
                        document.querySelector('{lane} .lagtext').textContent]"""
                )
            )
            bands.append(stall_band(tab, lane))
            time.sleep(0.08)
        if os.environ.get("LAB_SCREENSHOTS"):
            tab.screenshot(path=str(Path(os.environ["LAB_SCREENSHOTS"]) / "lab-web-stall-live.png"), full_page=True)
        tab.wait_for_function(ALL_DONE, timeout=30_000)
        final = stall_band(tab, lane)
        if os.environ.get("LAB_SCREENSHOTS"):
            tab.screenshot(path=str(Path(os.environ["LAB_SCREENSHOTS"]) / "lab-web-stall-done.png"), full_page=True)
    stalled = [r for r in readings if r[1] == "0"]
    if os.environ.get("LAB_SCREENSHOTS"):
        print("stall readings (updates, answered, elapsed, lag text):", readings)
    assert len(stalled) >= 4, f"the server answered nothing for a while: {readings}"
    updates = stalled[-1][0] - stalled[0][0]
    elapsed = [r[2] for r in stalled]
    assert updates >= len(stalled), f"events kept coming while the server was stalled: {readings}"
    assert elapsed == sorted(elapsed) and len(set(elapsed)) >= len(stalled) - 1, "the clock on the page moved"
    assert any("not answering" in r[3] for r in stalled), "the loop-lag meter raised the alarm"
    live_bands = [band for band, reading in zip(bands, readings, strict=True) if reading[1] == "0" and band]
    assert live_bands, f"a band while the server did not answer: {bands}"
    assert all(b["height"] == b["lane"] and "not answering" in b["label"] and b["inside"] for b in live_bands), bands
    widths = [b["width"] for b in live_bands]
    assert widths == sorted(widths) and widths[-1] > widths[0], f"the band grows with the stall: {widths}"
    # Two 1,000 ms handlers held the loop for most of the burst: the band spans most of the lane's time.
    assert final and final["height"] == final["lane"] and final["end"] - final["start"] >= 1.0, final


def stall_band(tab: Any, lane: str) -> dict[str, Any] | None:
    """The lane's first "server not answering" band: its size against the bars' box, its times, its label and
    whether the label is wholly inside the box."""
    return tab.evaluate(
        f"""() => {{
            const box = document.querySelector('{lane} .bars'), band = box.querySelector('.stall');
            const label = band && band.nextElementSibling, outer = box.getBoundingClientRect();
            const inner = label && label.getBoundingClientRect();
            return band && {{height: band.getBoundingClientRect().height, lane: outer.height,
                width: band.getBoundingClientRect().width, start: +band.dataset.start, end: +band.dataset.end,
                label: label.textContent, inside: inner.left >= outer.left - 0.5 && inner.right <= outer.right + 0.5}};
        }}"""
    )


@needs_chromium
def test_the_room_guesses_in_the_page_and_sees_the_guess_beside_the_answer(lab_url: str, tab: Any) -> None:
    with live(lab_url, plan("sleep", requests=3, delay_ms=100), pause=True) as (url, demo):
        tab.goto(url)
        for answer in ("1s", "150ms"):
            tab.wait_for_selector("#question:not([hidden])", timeout=30_000)
            assert "How long will 3 requests" in tab.inner_text("#question")
            tab.fill("#answer", answer)
            tab.press("#answer", "Enter")
            tab.wait_for_function("document.getElementById('question').hidden", timeout=30_000)
        tab.wait_for_function(ALL_DONE, timeout=30_000)
        guesses = tab.eval_on_selector_all(".lane .guess", "boxes => boxes.map(b => b.textContent)")
    assert [lane.guess_s for lane in demo.lanes] == [1.0, 0.15]
    assert guesses[0].startswith("guess 1,000 ms → actual") and guesses[1].startswith("guess 150 ms → actual")


@needs_chromium
def test_a_replay_at_half_speed_takes_about_twice_as_long(lab_url: str, tab: Any) -> None:
    demo = Demo(plan("sleep", requests=4, delay_ms=200), lab_url, Console(file=io.StringIO()))
    racing = threading.Thread(target=demo.run)  # Playwright's own event loop holds this thread
    racing.start()
    racing.join(60)
    data = json.loads(json.dumps(race_json(demo.snapshot())))
    broken = next(lane for lane in data["lanes"] if lane["variant"] == "broken")
    held = broken["held_by"]
    assert held and held.startswith("sleep.py:") and "time.sleep" in held, "the watchdog's line, worded by the lab"
    del broken["held_by"]  # as a race saved before the lab worded it: the replay words it the same way
    times = {}
    with WebView(ReplayFeed(data)) as view:
        for speed in (1.0, 0.5):
            tab.goto(f"{view.url}?speed={speed}")
            tab.wait_for_selector("#player:not([hidden])")
            began = time.perf_counter()
            tab.click("#play")
            tab.wait_for_function("document.body.dataset.replay === 'done'", timeout=30_000)
            times[speed] = time.perf_counter() - began
            assert tab.locator('.lane[data-variant="broken"] .bar.done').count() == 4, "every bar, replayed"
            assert f"held by {held}" in tab.inner_text('.lane[data-variant="broken"] .lagtext')
            band = stall_band(tab, '.lane[data-variant="broken"]')
            assert band and band["height"] == band["lane"] and "not answering" in band["label"], "replayed: the band"
    ratio = times[0.5] / times[1.0]
    assert 1.5 <= ratio <= 2.7, f"0.5x took {times[0.5]:.2f} s, 1x {times[1.0]:.2f} s"


@needs_chromium
def test_cli_web_prints_the_address_waits_for_the_page_and_stays_up(lab_url: str, tab: Any) -> None:
    command = [sys.executable, "-m", "lab", "demo", "-n", "2", "--delay-ms", "20", "--url", lab_url]
    proc = subprocess.Popen([*command, "--web", "--no-open"], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = ""
        for _ in range(20):
            line = proc.stderr.readline()
            if "web view is at" in line:
                break
        address = line.rsplit(" ", 1)[-1].strip()
        assert address.startswith("http://127.0.0.1:"), line
        tab.goto(address)
        tab.wait_for_function(ALL_DONE, timeout=30_000)
        for _ in range(20):
            if "stays up" in proc.stderr.readline():
                break
        assert proc.poll() is None, "the page stays up after the race, for replays"
        assert tab.locator("#player").is_visible(), "and offers to replay it"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "serialized" in out


@needs_chromium
@pytest.mark.parametrize("width", [800, 1024])
def test_the_pool_race_fits_the_width_shows_threads_and_its_length(lab_url: str, browser: Any, width: int) -> None:
    threads = min(32, (os.cpu_count() or 1) + 4)  # asyncio's default executor
    requests = threads + 6  # more requests than it has threads: they wait in their handler for one
    context = browser.new_context(viewport={"width": width, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        with live(lab_url, plan("pool", requests=requests, delay_ms=100)) as (url, _):
            tab.goto(url)
            tab.wait_for_function(ALL_DONE, timeout=60_000)
            tab.wait_for_selector("#player:not([hidden])")
            if os.environ.get("LAB_SCREENSHOTS"):
                shot = Path(os.environ["LAB_SCREENSHOTS"]) / f"lab-web-pool-{width}.png"
                tab.screenshot(path=str(shot), full_page=True)
            page_width = tab.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            header = tab.eval_on_selector_all(
                "#scoreboard th", "ths => ths.filter(t => !t.hidden).map(t => t.textContent)"
            )
            row = tab.eval_on_selector(
                '#scoreboard tr[data-variant="broken"]', "r => [...r.cells].map(c => c.textContent)"
            )
            fix = tab.eval_on_selector(
                '#scoreboard tr[data-variant="async"]', "r => [...r.cells].map(c => c.textContent)"
            )
            why = tab.eval_on_selector("#why", "p => [p.textContent, p.querySelectorAll('code').length]")
            position = tab.inner_text("#position")
            swatches = tab.eval_on_selector_all(
                ".legend .swatch",
                "ss => ss.map(s => getComputedStyle(s).backgroundImage + getComputedStyle(s).backgroundColor)",
            )
    finally:
        context.close()
    assert errors == [], errors
    assert page_width[0] <= page_width[1], f"no sideways scrolling at {width} px: {page_width}"
    in_handler, running = int(row[header.index("in handler")]), int(row[header.index("threads")])
    assert in_handler == requests and running == threads, f"every request in its handler, {threads} threads: {row}"
    assert fix[header.index("handler")].startswith("anyio.to_thread"), f"the label says what the code calls: {fix}"
    assert "`" not in why[0] and why[1] >= 3, f"the lesson's code set as code: {why}"
    assert re.fullmatch(r"([\d,]+ ms|[\d.]+ s) / \1", position) and not position.startswith("0 ms"), position
    assert len(set(swatches)) == len(swatches), "every legend swatch drawn its own way"
