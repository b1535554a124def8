"""`lab compare`: the same burst at the sync, async and broken twins of a scenario, side by side."""

from __future__ import annotations

from typing import Annotated

import typer

from lab.cli.output import EXIT_INTERRUPTED, fail, interrupt_on_sigterm, print_json, show
from lab.cli.usage import Scenario

app = typer.Typer()

DEFAULT_URL_HELP = "Use a running lab server (e.g. http://127.0.0.1:8000) instead of starting one."


@app.command()
def compare(
    scenario: Annotated[Scenario, typer.Option("-s", "--scenario", help="Which twins to compare.")] = "sleep",
    requests: Annotated[int, typer.Option("-n", "--requests", help="Requests in each burst (2-1000).")] = 10,
    delay_ms: Annotated[int, typer.Option("--delay-ms", help="How long each request waits or computes.")] = 100,
    url: Annotated[str | None, typer.Option(help=DEFAULT_URL_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Fire the same burst at the sync, async and broken twins of a scenario and compare them side by side."""
    from lab.load.burst import check_url
    from lab.load.compare import check_compare_arguments, compare, lab_server
    from lab.load.fire import run

    chosen = check_compare_arguments(scenario, requests, delay_ms)
    if url is not None:
        check_url(url)
    try:
        with interrupt_on_sigterm(), lab_server(url, chosen) as base_url:
            comparison = run(compare(base_url, chosen, requests, delay_ms))
    except KeyboardInterrupt:
        fail(
            "interrupted" if url else "interrupted: the server this command started has been stopped", EXIT_INTERRUPTED
        )
    if as_json:
        print_json(comparison.to_json())
    else:
        show(comparison)
