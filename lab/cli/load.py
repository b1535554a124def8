"""`lab load URL --rate 50/s --duration 30s`: steady open-loop traffic, latency counted from each scheduled send."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lab.cli.output import EXIT_FAILURE, EXIT_USAGE, console, fail, print_json, reporting, show
from lab.cli.usage import Method

if TYPE_CHECKING:
    from lab.load.steady import SteadyPlan
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
    from lab.load.steady import SteadyPlan, run_steady

    body: Any = None
    if json_body is not None:
        try:
            body = json.loads(json_body)
        except json.JSONDecodeError as exc:
            fail(f"--json-body is not valid JSON: {exc.msg} at character {exc.pos}", EXIT_USAGE)
    with reporting():
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
        view = _live_view(plan) if not as_json and sys.stdout.isatty() else None
        with view or nullcontext():
            result = run_steady(plan, on_second=None if view is None else view.second)
    if as_json:
        print_json(result.to_json())
    else:
        show(result)
    if result.report.failed or result.report.skipped:
        raise typer.Exit(EXIT_FAILURE)


def _live_view(plan: SteadyPlan) -> LiveLoad:
    """The last seconds, redrawn each second, while the run goes on (only on a terminal)."""
    from lab.view.steady import LiveLoad

    return LiveLoad(plan, console())
