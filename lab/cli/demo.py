"""`lab demo`: the live race for a class (see `lab.demo`), in the terminal or in a browser, live or replayed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lab.cli.output import EXIT_INTERRUPTED, EXIT_USAGE, console, fail, interrupt_on_sigterm, reporting, show
from lab.cli.usage import Scenario

if TYPE_CHECKING:
    from rich.console import Console

    from lab.demo.web import LiveFeed, ReplayFeed

app = typer.Typer()

VIEWER_WAIT_S = 600.0  # the race starts when the page is open: the room sees it from its first request


@app.command()
def demo(
    scenario: Annotated[Scenario, typer.Argument(help="Which twins to race.", show_default=True)] = "sleep",
    requests: Annotated[
        int | None, typer.Option("-n", "--requests", help="Requests in each burst (default: the scenario's).")
    ] = None,
    delay_ms: Annotated[
        int | None,
        typer.Option(
            "--delay-ms",
            help="How long each request waits or computes (default: the scenario's, 100-200).",
            show_default=False,
        ),
    ] = None,
    variants: Annotated[
        str | None,
        typer.Option(help="Twins to race, in order, comma-separated (default: broken first, then the fixes)."),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(help="Race a lab server you started (`lab serve`, `fastapi dev`) instead of starting one."),
    ] = None,
    pause: Annotated[
        bool, typer.Option("--pause", help="Before each burst, ask the room for a guess; show it beside the answer.")
    ] = False,
    step: Annotated[bool, typer.Option("--step", help="Wait for Enter before each twin after the first.")] = False,
    save: Annotated[
        Path | None,
        typer.Option(
            help="Also write the final frame to this .svg or .html file (slides, handouts), or the whole race "
            "to a .json file (for --replay)."
        ),
    ] = None,
    no_live: Annotated[
        bool,
        typer.Option("--no-live", help="Print only the final frame (automatic when the output is not a terminal)."),
    ] = False,
    web: Annotated[
        bool, typer.Option("--web", help="Show the race in a browser page served by this command, on 127.0.0.1.")
    ] = False,
    no_open: Annotated[
        bool, typer.Option("--no-open", help="With --web: print the page's address, do not open a browser.")
    ] = False,
    port: Annotated[
        int | None, typer.Option(help="With --web: the page's port (default: a free one).", min=1, max=65535)
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option(help="Replay a race saved with --save race.json (terminal, or --web), with no server running."),
    ] = None,
    speed: Annotated[float, typer.Option(help="Replay speed, 0.1 to 1 (the web page has its own slider).")] = 1.0,
) -> None:
    """Race the broken twin against its fixes, live: the room watches requests queue, then run side by side."""
    if (no_open or port is not None) and not web:
        fail("--no-open and --port go with --web", EXIT_USAGE)
    if speed != 1.0 and replay is None:
        fail("--speed goes with --replay (a live race runs at the server's own pace)", EXIT_USAGE)
    if replay is not None:
        if url is not None or pause or step:
            fail("--replay plays a saved race: --url, --pause and --step do not apply", EXIT_USAGE)
        _replay(replay, save, speed, live=not no_live, web=web, open_page=not no_open, port=port or 0)
        return
    from lab.demo.plan import check_save_path, check_url, plan
    from lab.demo.race import Demo
    from lab.load.compare import lab_server, require_extra

    with reporting():
        chosen = plan(scenario, requests, delay_ms, variants)
        base_url = None if url is None else check_url(url)
        if base_url is None:
            require_extra(chosen.scenario)  # before saying a server is starting
        if save is not None:
            check_save_path(save)
    screen = console()
    live = not no_live and not web and screen.is_interactive
    feed: LiveFeed | None = None
    with interrupt_on_sigterm(), reporting():
        try:
            if base_url is None:
                typer.echo("lab demo: starting a lab server…", err=True)
            with lab_server(base_url) as server_url:
                if base_url is None:
                    typer.echo(f"lab demo: lab server on {server_url}", err=True)
                runner = Demo(
                    chosen,
                    server_url,
                    screen,
                    live=live,
                    pause=pause,
                    step=step,
                    show_url=base_url is not None,
                    read_line=None if not web else lambda on_change: feed.read_line(on_change) if feed else None,
                )
                if web:
                    from lab.demo.web import LiveFeed, WebView

                    feed = LiveFeed(runner, url=base_url)
                    with WebView(feed, port=port or 0) as view:
                        _announce(view.url, open_page=not no_open)
                        if not feed.wait_for_viewer(VIEWER_WAIT_S):
                            typer.echo("lab demo: nobody opened the page; racing anyway", err=True)
                        comparison = runner.run()
                        _finish(runner, screen, save, base_url)
                        _linger(view.url)
                    return
                comparison = runner.run()
        except KeyboardInterrupt:
            fail("interrupted: the server this command started has been stopped", EXIT_INTERRUPTED)
    _finish(runner, screen, save, base_url)
    failed = {name: r.summary.failed for name, r in comparison.variants.items() if r.summary.failed}
    if failed:
        fail("requests failed (the red bars): " + ", ".join(f"{n} of {name}" for name, n in failed.items()))


def _announce(url: str, *, open_page: bool) -> None:
    from lab.demo.web import open_browser

    typer.echo(f"lab demo: the web view is at {url}", err=True)
    if open_page and not open_browser(url):
        typer.echo("lab demo: no graphical browser here: open that address on the projector's machine", err=True)


def _linger(url: str) -> None:
    """The page stays up after the race, for questions and replays, until Ctrl-C."""
    typer.echo(f"lab demo: race done; {url} stays up for replays (Ctrl-C to stop)", err=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        typer.echo("lab demo: stopped the web view", err=True)


def _finish(runner: Any, screen: Console, save: Path | None, base_url: str | None) -> None:
    """The final frame (fitted to the terminal's height when it is one), then what --save asked for."""
    from lab.view.demo import PRINT, SAVE_WIDTH, export

    show(runner.final_frame(screen.width, screen.height if screen.is_terminal else None), on=screen)
    if save is None:
        return
    try:
        if save.suffix.lower() == ".json":
            from lab.demo.record import race_json

            save.write_text(json.dumps(race_json(runner, url=base_url), indent=1) + "\n", encoding="utf-8")
            typer.echo(f"lab demo: saved the race to {save} (`lab demo --replay {save}`)", err=True)
            return
        export(runner.final_frame(SAVE_WIDTH, palette=PRINT), save)
    except OSError as exc:
        fail(f"--save could not write {str(save)!r}: {exc.strerror or exc}")
    typer.echo(f"lab demo: saved the final frame to {save}", err=True)


def _read_saved(path: Path) -> tuple[Any, dict[str, Any]]:
    from lab.demo.record import read_race

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"--replay cannot read {str(path)!r}: {exc.strerror or exc}", EXIT_USAGE)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(f"--replay {str(path)!r} is not JSON: {exc}", EXIT_USAGE)
    with reporting():
        return read_race(data, repr(str(path))), data


def _replay(path: Path, save: Path | None, speed: float, *, live: bool, web: bool, open_page: bool, port: int) -> None:
    from lab.demo.plan import check_save_path
    from lab.demo.replay import Replay, check_speed

    with reporting():
        check_speed(speed)
        if save is not None:
            check_save_path(save)
            if save.suffix.lower() == ".json":
                fail("--replay is already a saved race: --save exports it to .svg or .html", EXIT_USAGE)
    race, data = _read_saved(path)
    screen = console()
    player = Replay(race, screen, speed=speed)
    with interrupt_on_sigterm(), reporting():
        try:
            if web:
                from lab.demo.web import ReplayFeed, WebView

                feed: ReplayFeed = ReplayFeed(data)
                with WebView(feed, port=port) as view:
                    _announce(view.url, open_page=open_page)
                    _linger(view.url)
                return
            if live and screen.is_interactive:
                player.play()
        except KeyboardInterrupt:
            fail("interrupted", EXIT_INTERRUPTED)
    show(player.final_frame(screen.width, screen.height if screen.is_terminal else None), on=screen)
    if save is not None:
        from lab.view.demo import PRINT, SAVE_WIDTH, export

        try:
            export(player.final_frame(SAVE_WIDTH, palette=PRINT), save)
        except OSError as exc:
            fail(f"--save could not write {str(save)!r}: {exc.strerror or exc}")
        typer.echo(f"lab demo: exported the saved race's final frame to {save}", err=True)
