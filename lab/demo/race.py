"""`lab demo`: the live race an instructor shows a class. Fires each twin's burst, draws it as it happens.

    demo = Demo(plan("sleep"), "http://127.0.0.1:8000", Console(), live=True)
    comparison = demo.run()
    demo.snapshot()      # the race at this moment (`lab.demo.model.RaceView`): what every view reads

One variant at a time (the broken twin first: it blocks the server's event loop, and would ruin
any burst running beside it), each drawn on one shared time axis. While a burst runs, a second
client polls the server's `/lab/stats` for its heartbeat: against the broken twin that request
itself waits, and the meter says so instead of freezing the screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lab.client import httpx
from lab.demo.keyboard import read_keyboard_line
from lab.demo.model import STATS_POLL_S, LagReading, Lane, RaceView, blocking_text
from lab.demo.plan import DemoPlan, parse_seconds
from lab.durations import duration
from lab.errors import DemoError, LabError
from lab.load.burst import burst
from lab.load.compare import Comparison
from lab.load.fire import run
from lab.load.stats import fetch, reset
from lab.view.demo import MIN_PANEL_WIDTH, SCREEN, Palette, fit_rows, live_display, race_frame

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

__all__ = ["Demo"]

STATS_GRACE_S = 2.0  # how long the last stats request may take once the burst is over
STATS_TIMEOUT_S = 30.0  # a waiting stats request is the lesson; the meter shows the wait as it grows
MAX_STATS_POLLS = 2_000
GUESS_TRIES = 3
MAX_ROWS = 25


class Demo:
    """Run a plan against a server, drawing each burst live (or only the final frame)."""

    def __init__(
        self,
        demo_plan: DemoPlan,
        base_url: str,
        console: Console,
        *,
        live: bool = False,
        pause: bool = False,
        step: bool = False,
        screen: bool = True,
        read_line: Callable[[Callable[[str], None]], str | None] | None = None,
        show_url: bool = True,
    ) -> None:
        self.plan = demo_plan
        self.base_url = base_url.rstrip("/")
        self.console = console
        self.live = live
        self.pause = pause
        self.step = step
        self.screen = screen
        self.read_line = read_line or read_keyboard_line
        self.url = self.base_url if show_url else None  # the CLI shows it only when the user named it (--url)
        self.lanes = [
            Lane(
                v,
                demo_plan.caption(v),
                demo_plan.scenario.url(self.base_url, v, demo_plan.delay_ms),
                demo_plan.requests,
            )
            for v in demo_plan.variants
        ]
        self.question: str | None = None
        self.typed = ""

    # --- what the screen shows -------------------------------------------------------------

    def snapshot(self) -> RaceView:
        """The race at this moment: what the terminal frame, the saved race and the web page all read."""
        now = time.perf_counter()
        p = self.plan
        lanes = tuple(lane.view(now) for lane in self.lanes)
        return RaceView(p.scenario, p.requests, p.delay_ms, self.url, p.takeaway, lanes, self.question, self.typed)

    def frame(self, width: int | None = None, max_rows: int | None = None, palette: Palette = SCREEN) -> RenderableType:
        width = width or self.console.width
        return race_frame(
            self.snapshot(), width=width, max_rows=max_rows or self._rows_that_fit(width), palette=palette
        )

    def final_frame(self, width: int, height: int | None = None, palette: Palette = SCREEN) -> RenderableType:
        """The last frame; with `height`, its bars grouped until the whole frame fits that many lines."""
        if height is None:
            return self.frame(width=width, max_rows=MAX_ROWS, palette=palette)
        rows = fit_rows(lambda rows: self.frame(width=width, max_rows=rows, palette=palette), width, height, MAX_ROWS)
        return self.frame(width=width, max_rows=rows, palette=palette)

    def _rows_that_fit(self, width: int) -> int:
        """Bars get the screen's height first; the closing "Why" is printed after the live view anyway."""
        if not self.live:
            return MAX_ROWS
        lanes = len(self.lanes)
        stacked = width // lanes < MIN_PANEL_WIDTH
        asking = self.pause or self.step
        chrome = 2 + 1 + (3 if asking else 0) + (lanes + 3)  # heading, legend, question, scoreboard
        per_lane = 5 + (1 if self.pause else 0)  # borders, the stall band's label, ruler, lag meter, the guess
        space = self.console.height - chrome - per_lane * (lanes if stacked else 1)
        return max(3, min(MAX_ROWS, space // (lanes if stacked else 1)))

    # --- running -------------------------------------------------------------------------

    def run(self) -> Comparison:
        """Every lane in turn; returns the bursts as a `Comparison` (same shape as `lab compare`)."""
        run(self.preflight())
        display: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if self.live:
            display = live_display(self.console, self.frame, screen=self.screen)
        with display:
            for number, lane in enumerate(self.lanes):
                if self.pause:
                    lane.guess_s = self.ask_guess(lane)
                elif self.step and number > 0:
                    self.ask(f"Press Enter to run the {lane.variant} twin ({lane.caption}).")
                run(self.race(lane))
                if not self.live and lane.guess_s is not None and lane.result is not None:
                    self._say(
                        f"{lane.variant}: {duration(lane.result.summary.wall_s)} (guess: {duration(lane.guess_s)})"
                    )
        return self.comparison()

    async def arun(self) -> Comparison:
        """`run` for notebooks (`await demo.arun()`): no live view, no questions; then show `final_frame(width)`."""
        await self.preflight()
        for lane in self.lanes:
            await self.race(lane)
        return self.comparison()

    def comparison(self) -> Comparison:
        results = {lane.variant: lane.result for lane in self.lanes if lane.result is not None}
        return Comparison(self.plan.scenario, self.plan.requests, self.plan.delay_ms, results)

    async def preflight(self) -> None:
        """One quick request per twin: a missing route or a dead server is one clear line, before the screen."""
        p = self.plan
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            for variant in p.variants:
                url = p.scenario.url(self.base_url, variant, 1)
                try:
                    response = await client.request(p.scenario.method, url, json=p.scenario.json_body)
                except httpx.ConnectError:
                    raise DemoError(f"cannot connect to {self.base_url}: nothing is listening there") from None
                except httpx.HTTPError as exc:
                    raise DemoError(f"{url}: {type(exc).__name__}: {exc}") from None
                if response.status_code == 404:
                    path = p.scenario.path.format(variant=variant)
                    raise DemoError(f"{self.base_url} has no {path} (404): is it a lab server (`lab serve`)?")

    async def race(self, lane: Lane) -> None:
        """One burst, with the heartbeat watched beside it."""
        await self._reset_stats()  # a fresh window: the worst lag shown is this twin's, not the one before
        lane.begin()
        stop = asyncio.Event()
        watcher = asyncio.create_task(self.watch_heartbeat(lane, stop))
        try:
            result = await burst(
                lane.url,
                requests=self.plan.requests,
                method=self.plan.scenario.method,
                json_body=self.plan.scenario.json_body,
                on_sample=lane.on_sample,
                on_start=lane.on_start,
            )
        finally:
            stop.set()
            # The stats request still out was sent during the burst; with every response back the loop is
            # free, so its answer comes at once and marks where the stall ended. A server still blocked
            # after STATS_GRACE_S is abandoned (wait_for cancels the request).
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(watcher, STATS_GRACE_S)
        lane.finish(result)

    async def _reset_stats(self) -> None:
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            await reset(client, self.base_url)

    async def watch_heartbeat(self, lane: Lane, stop: asyncio.Event) -> None:
        """Poll `/lab/stats` a few times a second. One request at a time: when the loop is blocked,
        the request waits, and how long it has waited is itself the reading."""
        async with httpx.AsyncClient(timeout=STATS_TIMEOUT_S, trust_env=False) as client:
            for _ in range(MAX_STATS_POLLS):
                if stop.is_set():
                    return
                sent = lane.stats_sent = time.perf_counter()
                try:
                    stats = await fetch(client, self.base_url)
                    answered = time.perf_counter()  # one clock reading for both: the wait ends where it is stamped
                    reading = LagReading(
                        at_s=lane.since_t0(answered),
                        lag_s=stats.loop_lag_last_s,
                        lag_max_s=stats.loop_lag_max_s,
                        waited_s=answered - sent,
                        blocking=blocking_text(stats),
                    )
                except (httpx.HTTPError, LabError):
                    lane.lag_note = "no heartbeat: not a lab server (no /lab/stats)"
                    return
                finally:
                    lane.stats_sent = None
                lane.lag.append(reading)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), STATS_POLL_S)

    # --- asking the room -----------------------------------------------------------------

    def ask_guess(self, lane: Lane) -> float | None:
        question = (
            f"How long will {self.plan.requests} requests to {self.plan.scenario.path.format(variant=lane.variant)} "
            f"({lane.caption}) take? (e.g. 1s, 150ms; Enter to skip)"
        )
        for _ in range(GUESS_TRIES):
            answer = self.ask(question)
            if not answer:
                return None
            seconds = parse_seconds(answer)
            if seconds is not None:
                return seconds
            question = f"{answer!r} is not a duration. Try 1.5s or 300ms (Enter to skip):"
        return None

    def ask(self, question: str) -> str | None:
        """Show the question (inside the live screen, or on stderr) and read one line of answer."""
        self.question, self.typed = question, ""
        if not self.live:
            self._say(question + " ")
        try:
            return self.read_line(self._typing)
        finally:
            self.question = None

    def _typing(self, typed: str) -> None:
        self.typed = typed

    def _say(self, message: str) -> None:
        sys.stderr.write(message + ("" if message.endswith(" ") else "\n"))
        sys.stderr.flush()
