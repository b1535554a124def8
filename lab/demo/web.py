"""`lab demo --web`: the race in a browser, for a projector, served by the `lab demo` process itself.

    answers = Answers()                             # the page's answer box, made first
    demo = Demo(demo_plan, url, console, read_line=answers.read_line)
    with WebView(LiveFeed(demo.snapshot, answers), port=0) as view:   # a FastAPI app in a thread of this process
        print(view.url)                             # http://127.0.0.1:PORT
        view.feed.wait_for_viewer(600)
        demo.run()

It knows nothing of the runner: it reads `RaceView` snapshots (`lab.demo.model`) and sends the page
their changes in the saved race's shape (`lab.demo.record.race_delta`).

Served by the observing process, never by the server under test: while the broken twin blocks that
server's event loop, this one keeps streaming. Routes:

    GET  /            the page (lab/view/web/index.html with its CSS and script inlined: one document)
    GET  /race        the race so far (or the saved one) in `lab.demo.record`'s format
    GET  /events      server-sent events, `race` every 40 ms: what changed since the last one (`race_delta`)
    POST /answer      {"text": ...}: the room's guess, or "go" for the next twin (--pause, --step)

A replay (`--replay race.json --web`) serves the saved race at /race and nothing at /events: the
page plays it itself, with a speed slider (0.1x-1x) and a scrubber.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable
from importlib.resources import files
from typing import TYPE_CHECKING, Any, Self

from fastapi import Body, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent

from lab.demo.model import STALL_JOIN_S, RaceView, blocking_text
from lab.demo.probe_model import ProbeRaceView, probe_race_json
from lab.demo.record import LANE_GAP_S, race_delta, race_json
from lab.launch.process import DEFAULT_HOST, ThreadServer
from lab.protocol import ServerStats
from lab.scenarios import THREADS_GAUGE
from lab.view.demo import LAG_BAD_S, LAG_FULL_S, NOT_ANSWERING_S

if TYPE_CHECKING:
    from types import TracebackType

__all__ = [
    "EVENT_INTERVAL_S",
    "PROBE_INTERVAL_S",
    "Answers",
    "Feed",
    "LiveFeed",
    "ProbeFeed",
    "ReplayFeed",
    "WebView",
    "page",
]

EVENT_INTERVAL_S = 0.04  # 25 updates a second: smooth bars, and well above the 20 a projector needs
PROBE_INTERVAL_S = 0.2  # the probe race moves by probe periods and seconds: 5 whole snapshots a second are plenty
ANSWER_TIMEOUT_S = 600.0  # a question nobody answers ends as "no answer", not as a demo stuck forever
MAX_ANSWER = 40


def page() -> str:
    """The page as one document: no CDN, no build step, nothing else to fetch."""
    assets = files("lab.view") / "web"
    html = (assets / "index.html").read_text(encoding="utf-8")
    css = (assets / "style.css").read_text(encoding="utf-8")
    # probes.js (`lab demo probes`) first: app.js's boot() hands a probe race to it.
    script = (assets / "probes.js").read_text(encoding="utf-8") + "\n" + (assets / "app.js").read_text(encoding="utf-8")
    constants: dict[str, float | str] = {"LANE_GAP_S": LANE_GAP_S, "NOT_ANSWERING_S": NOT_ANSWERING_S}
    constants |= {"LAG_FULL_S": LAG_FULL_S, "LAG_BAD_S": LAG_BAD_S, "STALL_JOIN_S": STALL_JOIN_S}
    constants["THREADS_GAUGE"] = THREADS_GAUGE
    script = script.replace("/*CONSTANTS*/ {}", json.dumps(constants), 1)
    return html.replace("/*STYLE*/", css).replace("/*SCRIPT*/", script)


class Answers:
    """The room's answers, typed in the page's box: made before the runner, which reads them as its `read_line`."""

    def __init__(self) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()

    def put(self, text: str) -> None:
        self.queue.put(text)

    def read_line(self, on_change: Callable[[str], None]) -> str | None:
        """`Demo`'s way of asking the room: here the answer comes from the page's box."""
        try:
            return self.queue.get(timeout=ANSWER_TIMEOUT_S)
        except queue.Empty:
            return None


class LiveFeed:
    """What the page sees of a running race, and the answers it sends back. Read from the web thread."""

    mode = "live"

    def __init__(self, snapshot: Callable[[], RaceView], answers: Answers | None = None) -> None:
        self.snapshot = snapshot
        self.answers = answers or Answers()
        self.viewer = threading.Event()  # set when a page first listens
        self.closed = threading.Event()

    def record(self) -> dict[str, Any]:
        return {**race_json(self.snapshot()), "mode": self.mode}

    def wait_for_viewer(self, timeout_s: float) -> bool:
        return self.viewer.wait(timeout_s)

    def update(self, cursors: dict[str, list[int]]) -> dict[str, Any]:
        """What changed since `cursors` (per lane: samples sent, stats sent, finished sent), which it advances."""
        return race_delta(self.snapshot(), cursors)

    def answer(self, text: str) -> bool:
        """The page's answer, taken only while a question is out."""
        if self.snapshot().question is None:
            return False
        self.answers.put(text)
        return True


class ReplayFeed:
    """A saved race, for the page to play by itself."""

    mode = "replay"

    def __init__(self, data: dict[str, Any]) -> None:
        # A race saved before the lab worded `held_by` itself is worded now (read_race has checked `server`).
        lanes = [
            {**lane, "held_by": blocking_text(ServerStats.from_json(lane["server"]))}
            if "held_by" not in lane and lane.get("server") is not None
            else lane
            for lane in data.get("lanes", [])
        ]
        self.data = {**data, "lanes": lanes}
        self.viewer = threading.Event()
        self.closed = threading.Event()

    def record(self) -> dict[str, Any]:
        return {**self.data, "mode": self.mode}


class ProbeFeed:
    """`lab demo probes`: the probe race so far, sent whole (a few kB: a tick per probe, a row per second)."""

    mode = "probes"

    def __init__(self, snapshot: Callable[[], ProbeRaceView]) -> None:
        self.snapshot = snapshot
        self.viewer = threading.Event()
        self.closed = threading.Event()

    def record(self) -> dict[str, Any]:
        return {**probe_race_json(self.snapshot()), "mode": self.mode}

    def wait_for_viewer(self, timeout_s: float) -> bool:
        return self.viewer.wait(timeout_s)


Feed = LiveFeed | ReplayFeed | ProbeFeed


async def _probe_events(feed: ProbeFeed) -> AsyncIterator[ServerSentEvent]:
    number = 0
    while not feed.closed.is_set():
        number += 1
        yield ServerSentEvent(raw_data=json.dumps(feed.record()), event="probes", id=str(number), retry=500)
        await asyncio.sleep(PROBE_INTERVAL_S)


def create_app(feed: Feed) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    document = page()

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return document

    @app.get("/race")
    async def race() -> JSONResponse:
        return JSONResponse(feed.record())

    @app.get("/events", response_class=EventSourceResponse)
    async def events() -> AsyncIterator[ServerSentEvent]:
        feed.viewer.set()
        if isinstance(feed, ProbeFeed):
            async for event in _probe_events(feed):
                yield event
            return
        if not isinstance(feed, LiveFeed):
            yield ServerSentEvent(raw_data=json.dumps({"replay": True}), event="replay")
            return
        cursors: dict[str, list[int]] = {}  # per connection: a page that reconnects starts from scratch
        number = 0
        while not feed.closed.is_set():
            number += 1
            update = feed.update(cursors)
            yield ServerSentEvent(raw_data=json.dumps(update), event="race", id=str(number), retry=500)
            await asyncio.sleep(EVENT_INTERVAL_S)

    @app.post("/answer")
    async def answer(text: str = Body("", embed=True, max_length=MAX_ANSWER)) -> dict[str, bool]:
        return {"accepted": isinstance(feed, LiveFeed) and feed.answer(text.strip())}

    return app


class WebView:
    """The page's server on 127.0.0.1 (a free port, or `port`), in a thread with its own event loop."""

    def __init__(self, feed: Feed, *, port: int = 0) -> None:
        self.feed = feed
        self.server = ThreadServer(create_app(feed), host=DEFAULT_HOST, port=port)
        self.url = ""

    def start(self) -> Self:
        self.server.start()
        self.url = self.server.url
        return self

    def stop(self) -> None:
        self.feed.closed.set()  # open event streams end, so uvicorn can shut down
        time.sleep(2 * EVENT_INTERVAL_S)
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def open_browser(url: str) -> bool:
    """Open the page where a graphical browser can show it. Without a display, Python's `webbrowser`
    would pick a text browser and take over the terminal the demo prints to: then only the URL is printed."""
    import os
    import sys
    import webbrowser

    display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    graphical = sys.platform in ("darwin", "win32") or bool(display)
    if not graphical:
        return False
    try:
        return webbrowser.open(url, new=2)
    except webbrowser.Error:
        return False
