"""`lab demo` from its options to its last line: the orchestration the CLI hands its parsed options to.

    DemoSession(DemoOptions(scenario="cpu", pause=True), console, show).run()

A live race: the plan and the options checked (every mistake one `DemoError` line, before a server
starts), a lab server of our own unless `--url` names one, the runner (`lab.demo.race`), the web view
wired beside it with `--web` (the page's answer box made first, the runner reading it), then the final
frame and what `--save` asked for. A replay: the saved race read and checked, played in the terminal or
served to the page. Ctrl-C (a KeyboardInterrupt) is left to the caller, after the servers are stopped.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.demo.plan import DemoPlan, check_save_path, check_url, plan
from lab.demo.race import Demo
from lab.demo.record import Race, race_json, read_race
from lab.demo.replay import Replay, check_speed
from lab.errors import DemoError
from lab.load.compare import lab_server, require_extra
from lab.view.demo import PRINT, SAVE_WIDTH, export

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from lab.demo.web import Answers, Feed

__all__ = ["PROBES", "DemoOptions", "DemoSession"]

PROBES = "probes"  # `lab demo probes`: steady traffic and the kubelet's probes, not a burst (lab.demo.probe_session)
VIEWER_WAIT_S = 600.0  # the race starts when the page is open: the room sees it from its first request


@dataclass(frozen=True)
class DemoOptions:
    """What `lab demo` was asked, as parsed: which race, where to show it, what to keep."""

    scenario: str = "sleep"
    requests: int | None = None
    delay_ms: int | None = None
    variants: str | None = None
    url: str | None = None
    pause: bool = False
    step: bool = False
    save: Path | None = None
    live: bool = True  # False: only the final frame (--no-live)
    web: bool = False
    open_page: bool = True
    port: int | None = None
    replay: Path | None = None
    speed: float = 1.0

    def check(self) -> None:
        """The options that go only with others: one usage line each."""
        if (not self.open_page or self.port is not None) and not self.web:
            raise DemoError("--no-open and --port go with --web", usage=True)
        if self.speed != 1.0 and self.replay is None:
            raise DemoError("--speed goes with --replay (a live race runs at the server's own pace)", usage=True)
        if self.replay is not None and (self.url is not None or self.pause or self.step):
            raise DemoError("--replay plays a saved race: --url, --pause and --step do not apply", usage=True)


FinalFrame = Callable[[int, "int | None"], "RenderableType"]  # Demo.final_frame, Replay.final_frame


class DemoSession:
    """One `lab demo` command: `run()` races (or replays) and shows it; a failure is a `LabError`."""

    def __init__(self, options: DemoOptions, screen: Console, show: Callable[[RenderableType], None]) -> None:
        self.options = options
        self.screen = screen
        self.show = show  # prints a renderable on `screen` (the CLI's, which turns a closed stdout into one line)

    def run(self) -> None:
        self.options.check()
        if self.options.scenario == PROBES:
            from lab.demo.probe_session import run_probe_demo

            run_probe_demo(self.options, self.screen, self.show)
        elif self.options.replay is not None:
            self.replay(self.options.replay)
        else:
            self.race()

    # --- a live race ---------------------------------------------------------------------

    def race(self) -> None:
        o = self.options
        chosen = plan(o.scenario, o.requests, o.delay_ms, o.variants)
        base_url = None if o.url is None else check_url(o.url)
        if base_url is None:
            require_extra(chosen.scenario)  # before saying a server is starting
        if o.save is not None:
            check_save_path(o.save)
        if base_url is None:
            say("lab demo: starting a lab server…")
        with lab_server(base_url) as server_url:
            if base_url is None:
                say(f"lab demo: lab server on {server_url}")
            if o.web:
                self._race_on_the_web(chosen, server_url, named=base_url is not None)
                return
            runner = self._runner(chosen, server_url, named=base_url is not None)
            comparison = runner.run()
        self._finish(runner)
        failed = {name: r.summary.failed for name, r in comparison.variants.items() if r.summary.failed}
        if failed:
            raise DemoError("requests failed (the red bars): " + ", ".join(f"{n} of {v}" for v, n in failed.items()))

    def _runner(self, chosen: DemoPlan, server_url: str, *, named: bool, answers: Answers | None = None) -> Demo:
        o = self.options
        return Demo(
            chosen,
            server_url,
            self.screen,
            live=o.live and not o.web and self.screen.is_interactive,
            pause=o.pause,
            step=o.step,
            show_url=named,  # the server's address on the slide only when the user named it
            read_line=None if answers is None else answers.read_line,
        )

    def _race_on_the_web(self, chosen: DemoPlan, server_url: str, *, named: bool) -> None:
        """The page's answer box first, then the runner that reads it, then the page that watches the runner."""
        from lab.demo.web import Answers, LiveFeed

        answers = Answers()
        runner = self._runner(chosen, server_url, named=named, answers=answers)
        feed = LiveFeed(runner.snapshot, answers)
        with self._web_view(feed) as url:
            if not feed.wait_for_viewer(VIEWER_WAIT_S):
                say("lab demo: nobody opened the page; racing anyway")
            runner.run()
            self._finish(runner)
            linger(url)

    def _finish(self, runner: Demo) -> None:
        """The final frame (fitted to the terminal's height when it is one), then what --save asked for."""
        self._show_final(runner.final_frame)
        save = self.options.save
        if save is None:
            return
        if save.suffix.lower() == ".json":
            data = json.dumps(race_json(runner.snapshot()), indent=1) + "\n"
            _write(save, lambda: save.write_text(data, encoding="utf-8"))
            say(f"lab demo: saved the race to {save} (`lab demo --replay {save}`)")
            return
        _write(save, lambda: export(runner.final_frame(SAVE_WIDTH, None, PRINT), save))
        say(f"lab demo: saved the final frame to {save}")

    # --- a saved race --------------------------------------------------------------------

    def replay(self, path: Path) -> None:
        o = self.options
        check_speed(o.speed)
        if o.save is not None:
            check_save_path(o.save)
            if o.save.suffix.lower() == ".json":
                raise DemoError("--replay is already a saved race: --save exports it to .svg or .html", usage=True)
        race, data = read_saved(path)
        player = Replay(race, self.screen, speed=o.speed)
        if o.web:
            from lab.demo.web import ReplayFeed

            with self._web_view(ReplayFeed(data)) as url:
                linger(url)
            return
        if o.live and self.screen.is_interactive:
            player.play()
        self._show_final(player.final_frame)
        if o.save is not None:
            save = o.save
            _write(save, lambda: export(player.final_frame(SAVE_WIDTH, None, PRINT), save))
            say(f"lab demo: exported the saved race's final frame to {save}")

    # --- shared --------------------------------------------------------------------------

    def _show_final(self, final_frame: FinalFrame) -> None:
        screen = self.screen
        self.show(final_frame(screen.width, screen.height if screen.is_terminal else None))

    def _web_view(self, feed: Feed) -> PageServer:
        return PageServer(feed, self.options.port or 0, open_page=self.options.open_page)


class PageServer:
    """The web view's server for the length of a `with`, its address announced (and opened) on the way in."""

    def __init__(self, feed: Feed, port: int, *, open_page: bool) -> None:
        from lab.demo.web import WebView

        self.view = WebView(feed, port=port)
        self.open_page = open_page

    def __enter__(self) -> str:
        from lab.demo.web import open_browser

        url = self.view.start().url
        say(f"lab demo: the web view is at {url}")
        if self.open_page and not open_browser(url):
            say("lab demo: no graphical browser here: open that address on the projector's machine")
        return url

    def __exit__(self, *exc: object) -> None:
        self.view.stop()


def linger(url: str) -> None:
    """The page stays up after the race, for questions and replays, until Ctrl-C."""
    say(f"lab demo: race done; {url} stays up for replays (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        say("lab demo: stopped the web view")


def read_saved(path: Path) -> tuple[Race, dict[str, Any]]:
    """A saved race, read and checked; every problem with the file is one usage line."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DemoError(f"--replay cannot read {str(path)!r}: {exc.strerror or exc}", usage=True) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DemoError(f"--replay {str(path)!r} is not JSON: {exc}", usage=True) from None
    return read_race(data, repr(str(path))), data


def _write(path: Path, write: Callable[[], object]) -> None:
    try:
        write()
    except OSError as exc:
        raise DemoError(f"--save could not write {str(path)!r}: {exc.strerror or exc}") from None


def say(message: str) -> None:
    """A line on stderr, where the command's progress goes (stdout carries the frame)."""
    print(message, file=sys.stderr, flush=True)
