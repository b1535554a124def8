"""`lab load URL --rate 50/s --duration 30s`: steady open-loop traffic, latency counted from each scheduled send.

With `--probe` or `--probes-from`, the kubelet's probes run beside the traffic on the same time axis
(`lab.load.probed`); with `--serve APP` the lab starts the app itself, and with `--restart` it restarts
it as the kubelet would, while the traffic keeps coming.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
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
    from lab.launch.process import ServerProcess
    from lab.load.probed import ProbedResult, ProbePlan
    from lab.load.steady import SteadyPlan, SteadyResult
    from lab.view.steady import LiveLoad

app = typer.Typer()


PROBE_HELP = (
    "A kubelet probe beside the traffic: kind=/path[,period=2s][,timeout=1s][,failures=3][,successes=1]"
    "[,initial-delay=0s]; kind is liveness, readiness or startup. Repeatable."
)
SERVE_HELP = (
    "Start APP (main:app, a .py file, lab.server.app:app) with the lab's instruments on a free loopback port, "
    "as `lab serve` does; URL is then a path, e.g. /sleep/broken?delay_ms=100."
)
SERVED_BASE = "http://127.0.0.1:1"  # stands for the served app's origin while the arguments are checked


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
    probe: Annotated[list[str] | None, typer.Option("--probe", metavar="SPEC", help=PROBE_HELP)] = None,
    probes_from: Annotated[
        str | None,
        typer.Option("--probes-from", metavar="FILE", help="A Deployment or Pod manifest (YAML): its httpGet probes."),
    ] = None,
    container: Annotated[
        str | None,
        typer.Option("--container", metavar="NAME", help="Which container of the manifest, when several have probes."),
    ] = None,
    serve: Annotated[str | None, typer.Option("--serve", metavar="APP", help=SERVE_HELP)] = None,
    restart: Annotated[
        bool,
        typer.Option("--restart", help="Restart the --serve'd app when the kubelet would (SIGTERM, grace, SIGKILL)."),
    ] = False,
    grace: Annotated[
        str | None,
        typer.Option(
            "--grace",
            metavar="DURATION",
            help="terminationGracePeriodSeconds for --restart: 30s by default, or the manifest's.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Send requests at a steady rate (open loop) and report latency from each scheduled send; with probes, what
    the kubelet would do (and, with --serve APP --restart, does)."""
    from lab.load.probed import ProbedResult, probe_plan

    probes = probe_plan(probe or [], probes_from, container, restart=restart, grace=grace, served=serve is not None)
    plan = _plan(url, rate, duration, method, json_body, timeout, max_in_flight, served=serve is not None)
    live = not as_json and sys.stdout.isatty()
    with interrupt_on_sigterm(), _served(serve) as server:
        if server is not None:
            plan = dataclasses.replace(plan, url=server.url + url)
        result: SteadyResult | ProbedResult = (
            _run(plan, live=live) if probes is None else _run_probed(plan, probes, server, live=live)
        )
    if as_json:
        print_json(result.to_json())
    else:
        show(result)
    steady = result.steady if isinstance(result, ProbedResult) else result
    if steady.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if steady.report.failed or steady.report.skipped:
        raise typer.Exit(EXIT_FAILURE)


def _plan(
    url: str,
    rate: str,
    duration: str,
    method: str,
    json_body: str | None,
    timeout: float,
    max_in_flight: int,
    *,
    served: bool,
) -> SteadyPlan:
    """Every argument checked before anything starts: a served app's URL is a path, joined to its origin later."""
    from lab.load.probed import served_path
    from lab.load.rates import parse_duration, parse_rate
    from lab.load.steady import SteadyPlan

    body: Any = None
    if json_body is not None:
        try:
            body = json.loads(json_body)
        except json.JSONDecodeError as exc:
            fail(f"--json-body is not valid JSON: {exc.msg} at character {exc.pos}", EXIT_USAGE)
    if served:
        served_path(url)
    plan = SteadyPlan(
        SERVED_BASE + url if served else url,
        rate=parse_rate(rate),
        duration_s=parse_duration(duration),
        method=method.upper(),
        json_body=body,
        timeout_s=timeout,
        max_in_flight=max_in_flight,
    )
    plan.check()
    return plan


@contextmanager
def _served(target: str | None) -> Iterator[ServerProcess | None]:
    """The app the lab serves for this run (stopped on the way out), or None for a server given by URL."""
    if target is None:
        yield None
        return
    from lab.launch.process import ServerProcess

    typer.echo(f"starting {target} with the lab's instruments...", err=True)
    with ServerProcess(target) as server:
        yield server


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


def _run_probed(plan: SteadyPlan, probes: ProbePlan, server: ServerProcess | None, *, live: bool) -> ProbedResult:
    """The run with the kubelet beside it; Ctrl-C stops the prober, a restart under way and the served app."""
    from lab.load.probed import run_probed

    view = _live_view(plan) if live else None
    with view or nullcontext():
        try:
            return run_probed(plan, probes, server, on_second=None if view is None else view.second)
        except KeyboardInterrupt:
            fail(
                "interrupted" if server is None else "interrupted: the app this command started has been stopped",
                EXIT_INTERRUPTED,
            )


def _live_view(plan: SteadyPlan) -> LiveLoad:
    """The last seconds, redrawn each second, while the run goes on (only on a terminal)."""
    from lab.view.steady import LiveLoad

    return LiveLoad(plan, console())
