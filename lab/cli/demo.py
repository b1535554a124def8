"""`lab demo`: the live race for a class (see `lab.demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lab.cli.output import EXIT_INTERRUPTED, console, fail, interrupt_on_sigterm, reporting, show
from lab.cli.usage import Scenario

app = typer.Typer()


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
        Path | None, typer.Option(help="Also write the final frame to this .svg or .html file (slides, handouts).")
    ] = None,
    no_live: Annotated[
        bool,
        typer.Option("--no-live", help="Print only the final frame (automatic when the output is not a terminal)."),
    ] = False,
) -> None:
    """Race the broken twin against its fixes, live: the room watches requests queue, then run side by side."""
    from lab.demo.plan import check_save_path, check_url, plan
    from lab.demo.race import Demo
    from lab.load.compare import lab_server
    from lab.view.demo import SAVE_WIDTH, export

    with reporting():
        chosen = plan(scenario, requests, delay_ms, variants)
        base_url = None if url is None else check_url(url)
        if save is not None:
            check_save_path(save)
    screen = console()
    live = not no_live and screen.is_interactive
    with interrupt_on_sigterm(), reporting():
        try:
            if base_url is None:
                typer.echo("lab demo: starting a lab server…", err=True)
            with lab_server(base_url) as server_url:
                if base_url is None:
                    typer.echo(f"lab demo: lab server on {server_url}", err=True)
                runner = Demo(chosen, server_url, screen, live=live, pause=pause, step=step)
                comparison = runner.run()
        except KeyboardInterrupt:
            fail("interrupted: the server this command started has been stopped", EXIT_INTERRUPTED)
    show(runner.final_frame(screen.width), on=screen)  # stays on screen (and in pipes) after the live view
    if save is not None:
        try:
            export(runner.final_frame(SAVE_WIDTH), save)
        except OSError as exc:
            fail(f"--save could not write {str(save)!r}: {exc.strerror or exc}")
        typer.echo(f"lab demo: saved the final frame to {save}", err=True)
    failed = {name: r.summary.failed for name, r in comparison.variants.items() if r.summary.failed}
    if failed:
        fail("requests failed (the red bars): " + ", ".join(f"{n} of {name}" for name, n in failed.items()))
