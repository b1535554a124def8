"""`lab demo --web`: the race in a browser, for a projector, served by the `lab demo` process itself.

    with WebView(LiveFeed(demo), port=0) as view:   # a FastAPI app in a thread of this process
        print(view.url)                             # http://127.0.0.1:PORT
        view.feed.wait_for_viewer(600)
        demo.run()

Served by the observing process, never by the server under test: while the broken twin blocks that
server's event loop, this one keeps streaming. Routes:

    GET  /            the page (lab/view/web/index.html with its CSS and script inlined: one document)
    GET  /race        the race so far (or the saved one) in `lab.demo.record`'s format
    GET  /events      server-sent events, `race` every 40 ms: what changed since the last one
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

from lab.demo.record import LANE_GAP_S, lag_json, race_json, sample_json
from lab.launch.process import DEFAULT_HOST, ThreadServer
from lab.protocol import ServerStats
from lab.view.demo import LAG_BAD_S, LAG_FULL_S, NOT_ANSWERING_S, blocking_text

if TYPE_CHECKING:
    from types import TracebackType

    from lab.demo.race import Demo

__all__ = ["EVENT_INTERVAL_S", "LiveFeed", "ReplayFeed", "WebView", "page"]

EVENT_INTERVAL_S = 0.04  # 25 updates a second: smooth bars, and well above the 20 a projector needs
ANSWER_TIMEOUT_S = 600.0  # a question nobody answers ends as "no answer", not as a demo stuck forever
MAX_ANSWER = 40


def page() -> str:
    """The page as one document: no CDN, no build step, nothing else to fetch."""
    assets = files("lab.view") / "web"
    html = (assets / "index.html").read_text(encoding="utf-8")
    css = (assets / "style.css").read_text(encoding="utf-8")
    script = (assets / "app.js").read_text(encoding="utf-8")
    constants = {"LANE_GAP_S": LANE_GAP_S, "NOT_ANSWERING_S": NOT_ANSWERING_S, "LAG_FULL_S": LAG_FULL_S}
    constants["LAG_BAD_S"] = LAG_BAD_S
    script = script.replace("/*CONSTANTS*/ {}", json.dumps(constants), 1)
    return html.replace("/*STYLE*/", css).replace("/*SCRIPT*/", script)


class LiveFeed:
    """What the page sees of a running `Demo`, and the answers it sends back. Read from the web thread."""

    mode = "live"

    def __init__(self, demo: Demo, *, url: str | None = None) -> None:
        self.demo = demo
        self.url = url
        self.answers: queue.Queue[str | None] = queue.Queue()
        self.viewer = threading.Event()  # set when a page first listens
        self.closed = threading.Event()

    def record(self) -> dict[str, Any]:
        data = race_json(self.demo, url=self.url)
        data["mode"] = self.mode
        return data

    def wait_for_viewer(self, timeout_s: float) -> bool:
        return self.viewer.wait(timeout_s)

    def read_line(self, on_change: Callable[[str], None]) -> str | None:
        """`Demo`'s way of asking the room: here the answer comes from the page's box."""
        try:
            return self.answers.get(timeout=ANSWER_TIMEOUT_S)
        except queue.Empty:
            return None

    def update(self, cursors: dict[str, list[int]]) -> dict[str, Any]:
        """What changed since `cursors` (per lane: samples sent, stats sent, finished sent), which it advances."""
        demo = self.demo
        now = time.perf_counter()
        lanes = []
        for lane in demo.lanes:
            sent = cursors.setdefault(lane.variant, [0, 0, 0])
            samples = list(lane.samples)
            lag = list(lane.lag)
            data: dict[str, Any] = {
                "variant": lane.variant,
                "caption": lane.caption,
                "requests": lane.requests,
                "state": lane.state,
                "elapsed_s": round(lane.since_t0(now), 4) if lane.state == "running" else 0.0,
                "stats_waiting_s": None if lane.stats_sent is None else round(now - lane.stats_sent, 4),
                "lag_note": lane.lag_note,
                "guess_s": lane.guess_s,
                "samples_from": sent[0],
                "samples": [sample_json(s) for s in samples[sent[0] :]],
                "stats_from": sent[1],
                "stats": [lag_json(r) for r in lag[sent[1] :]],
            }
            sent[0], sent[1] = len(samples), len(lag)
            result = lane.result
            if result is not None and not sent[2]:
                sent[2] = 1
                server = result.server
                data["samples_from"] = 0  # the final samples, in the burst's order, replace the live ones
                data["samples"] = [sample_json(s) for s in result.samples]
                data["wall_s"] = round(result.summary.wall_s, 6)
                data["single_s"] = round(result.single_s, 6)
                data["verdict"] = result.verdict.as_dict()
                data["server"] = None if server is None else server_json(server)
                data["held_by"] = None if server is None else blocking_text(server)
            lanes.append(data)
        done = all(lane.result is not None for lane in demo.lanes)
        return {
            "question": demo.question,
            "typed": demo.typed,
            "done": done,
            "takeaway": demo.plan.takeaway if done else None,
            "lanes": lanes,
        }


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


def create_app(feed: LiveFeed | ReplayFeed) -> FastAPI:
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
        if isinstance(feed, LiveFeed) and feed.demo.question is not None:
            feed.answers.put(text.strip())
            return {"accepted": True}
        return {"accepted": False}

    return app


class WebView:
    """The page's server on 127.0.0.1 (a free port, or `port`), in a thread with its own event loop."""

    def __init__(self, feed: LiveFeed | ReplayFeed, *, port: int = 0) -> None:
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


def server_json(server: ServerStats) -> dict[str, Any]:
    """The scoreboard's figures, as the page shows them (the line that held the loop is the lane's `held_by`)."""
    return {
        "peak_in_flight": server.peak_in_flight,
        "peak_in_handler": server.peak_in_handler,
        "loop_lag_max_s": round(server.loop_lag_max_s, 6),
    }
