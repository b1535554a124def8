"""`lab load URL --rate 50/s --duration 30s`: steady open-loop traffic, latency counted from each scheduled send."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lab.cli.output import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    console,
    fail,
    interrupt_on_sigterm,
    print_json,
    show,
)
from lab.cli.usage import Method

if TYPE_CHECKING:
    from lab.load.steady import SteadyPlan, SteadyResult
    from lab.view.steady import LiveLoad

app = typer.Typer()


@app.command()
def load(
    url: Annotated[str, typer.Argument(help="The URL to load, e.g. http://127.0.0.1:8000/health (loopback only)")],
    rate: Annotated[
        str, typer.Option("-r", "--rate", help="Requests a second or a minute: 50, 50/s, 3000/m.")
    ] = "50/s",
    duration: Annotated[str, typer.Option("-d", "--duration", help="How long: 30s, 2m, 500ms.")] = "10s",
    method: Annotated[Method, typer.Option("-m", "--method", help="HTTP method.", case_sensitive=False)] = "GET",
    json_body: Annotated[str | None, typer.Option("--json-body", help="A JSON request body.")] = None,
    timeout: Annotated[float, typer.Option(help="Per-request timeout in seconds (at most 60).")] = 10.0,
    max_in_flight: Annotated[
        int, typer.Option("--max-in-flight", help="At most this many requests out at once (1-1000); beyond, skipped.")
    ] = 1_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Send requests at a steady rate (open loop) and report latency from each scheduled send."""
    from lab.load.rates import parse_duration, parse_rate
    from lab.load.steady import SteadyPlan

    body: Any = None
    if json_body is not None:
        try:
            body = json.loads(json_body)
        except json.JSONDecodeError as exc:
            fail(f"--json-body is not valid JSON: {exc.msg} at character {exc.pos}", EXIT_USAGE)
    plan = SteadyPlan(
        url,
        rate=parse_rate(rate),
        duration_s=parse_duration(duration),
        method=method.upper(),
        json_body=body,
        timeout_s=timeout,
        max_in_flight=max_in_flight,
    )
    plan.check()
    with interrupt_on_sigterm():
        result = _run(plan, live=not as_json and sys.stdout.isatty())
    if as_json:
        print_json(result.to_json())
    else:
        show(result)
    if result.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if result.report.failed or result.report.skipped:
        raise typer.Exit(EXIT_FAILURE)


def _run(plan: SteadyPlan, *, live: bool) -> SteadyResult:
    """The run, with its live view on a terminal; after Ctrl-C (or SIGTERM), what it measured until then."""
    from lab.load.fire import run
    from lab.load.steady import SteadyLoad

    view = _live_view(plan) if live else None
    load = SteadyLoad(plan, on_second=None if view is None else view.second)
    with view or nullcontext():
        try:
            return run(load.run())
        except KeyboardInterrupt:
            if load.t0 is None:  # before the first send: nothing to report
                fail("interrupted", EXIT_INTERRUPTED)
            return load.result_so_far()


def _live_view(plan: SteadyPlan) -> LiveLoad:
    """The last seconds, redrawn each second, while the run goes on (only on a terminal)."""
    from lab.view.steady import LiveLoad

    return LiveLoad(plan, console())
