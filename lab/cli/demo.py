"""`lab demo`: the live race for a class (see `lab.demo`), in the terminal or in a browser, live or replayed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from lab.cli.output import EXIT_INTERRUPTED, console, fail, interrupt_on_sigterm, show

app = typer.Typer()

# The burst scenarios (= lab.cli.usage.Scenario), and `probes`: the broken twin and its fix under steady traffic,
# the kubelet probing each (lab.demo.probe_session).
DemoScenario = Literal["sleep", "cpu", "predict", "pool", "downstream", "numpy", "onnx", "probes"]

# The options, declared once each: the command below reads as what it takes and whom it hands them to.
Requests = Annotated[
    int | None, typer.Option("-n", "--requests", help="Requests in each burst (default: the scenario's).")
]
DelayMs = Annotated[
    int | None,
    typer.Option(
        "--delay-ms",
        help="How long each request waits or computes (default: the scenario's, 100-200).",
        show_default=False,
    ),
]
Variants = Annotated[
    str | None, typer.Option(help="Twins to race, in order, comma-separated (default: broken first, then the fixes).")
]
Url = Annotated[
    str | None, typer.Option(help="Race a lab server you started (`lab serve`, `fastapi dev`) instead of starting one.")
]
Pause = Annotated[
    bool, typer.Option("--pause", help="Before each burst, ask the room for a guess; show it beside the answer.")
]
Step = Annotated[bool, typer.Option("--step", help="Wait for Enter before each twin after the first.")]
Save = Annotated[
    Path | None,
    typer.Option(
        help="Also write the final frame to this .svg or .html file (slides, handouts), or the whole race "
        "to a .json file (for --replay)."
    ),
]
NoLive = Annotated[
    bool, typer.Option("--no-live", help="Print only the final frame (automatic when the output is not a terminal).")
]
Web = Annotated[
    bool, typer.Option("--web", help="Show the race in a browser page served by this command, on 127.0.0.1.")
]
NoOpen = Annotated[bool, typer.Option("--no-open", help="With --web: print the page's address, do not open a browser.")]
Port = Annotated[int | None, typer.Option(help="With --web: the page's port (default: a free one).", min=1, max=65535)]
Replay = Annotated[
    Path | None,
    typer.Option(help="Replay a race saved with --save race.json (terminal, or --web), with no server running."),
]
Speed = Annotated[float, typer.Option(help="Replay speed, 0.1 to 1 (the web page has its own slider).")]


@app.command()
def demo(
    scenario: Annotated[
        DemoScenario,
        typer.Argument(help="Which twins to race (`probes`: steady traffic, the kubelet probing).", show_default=True),
    ] = "sleep",
    requests: Requests = None,
    delay_ms: DelayMs = None,
    variants: Variants = None,
    url: Url = None,
    pause: Pause = False,
    step: Step = False,
    save: Save = None,
    no_live: NoLive = False,
    web: Web = False,
    no_open: NoOpen = False,
    port: Port = None,
    replay: Replay = None,
    speed: Speed = 1.0,
) -> None:
    """Race the broken twin against its fixes, live: the room watches requests queue, then run side by side."""
    from lab.demo.session import DemoOptions, DemoSession

    options = DemoOptions(
        scenario=scenario,
        requests=requests,
        delay_ms=delay_ms,
        variants=variants,
        url=url,
        pause=pause,
        step=step,
        save=save,
        live=not no_live,
        web=web,
        open_page=not no_open,
        port=port,
        replay=replay,
        speed=speed,
    )
    screen = console()
    with interrupt_on_sigterm():
        try:
            DemoSession(options, screen, lambda renderable: show(renderable, on=screen)).run()
        except KeyboardInterrupt:
            fail(
                "interrupted" if replay else "interrupted: the server this command started has been stopped",
                EXIT_INTERRUPTED,
            )
