"""`lab compare`: the same burst, or the same steady traffic (`--rate`), at the sync, async and broken twins."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated

import typer

from lab.cli.output import EXIT_INTERRUPTED, fail, interrupt_on_sigterm, print_json, show
from lab.cli.usage import Scenario

if TYPE_CHECKING:
    from lab.load.compare import LoadComparison
    from lab.scenarios import Scenario as ScenarioSpec

app = typer.Typer()

DEFAULT_URL_HELP = "Use a running lab server (e.g. http://127.0.0.1:8000) instead of starting one."
PROBES_HELP = "With --rate: the kubelet's probes beside each twin (default liveness=/health, period 2 s)."
PROBE_HELP = (
    "With --rate: this probe instead of the default, kind=/path[,period=2s,...] (repeatable; implies --probes)."
)


@app.command()
def compare(
    scenario: Annotated[Scenario, typer.Option("-s", "--scenario", help="Which twins to compare.")] = "sleep",
    requests: Annotated[int, typer.Option("-n", "--requests", help="Requests in each burst (2-1000).")] = 10,
    delay_ms: Annotated[int, typer.Option("--delay-ms", help="How long each request waits or computes.")] = 100,
    url: Annotated[str | None, typer.Option(help=DEFAULT_URL_HELP)] = None,
    rate: Annotated[
        str | None, typer.Option("-r", "--rate", help="Steady traffic instead of a burst: 20, 20/s, 1200/m.")
    ] = None,
    duration: Annotated[str, typer.Option("-d", "--duration", help="With --rate: how long at each twin.")] = "20s",
    probes: Annotated[bool, typer.Option("--probes", help=PROBES_HELP)] = False,
    probe: Annotated[list[str] | None, typer.Option("--probe", metavar="SPEC", help=PROBE_HELP)] = None,
    restart: Annotated[
        bool, typer.Option("--restart", help="With probes: restart each twin's server when the kubelet would.")
    ] = False,
    grace: Annotated[
        str | None, typer.Option("--grace", metavar="DURATION", help="With --restart: the grace period (30s).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Fire the same burst (or, with --rate, steady traffic and probes) at the sync, async and broken twins."""
    from lab.load.burst import check_url
    from lab.load.compare import check_compare_arguments, check_steady_options, compare, lab_server
    from lab.load.fire import run

    chosen = check_compare_arguments(scenario, requests, delay_ms)
    if url is not None:
        check_url(url)
    check_steady_options(rate=rate, probing=probes or bool(probe), restart=restart, grace=grace, url=url)
    if rate is not None:
        result = _under_load(chosen, rate, duration, delay_ms, url, probes, probe or [], restart, grace, as_json)
        if as_json:
            print_json(result.to_json())
        else:
            show(result)
        return
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


def _under_load(
    scenario: ScenarioSpec,
    rate: str,
    duration: str,
    delay_ms: int,
    url: str | None,
    probes: bool,
    probe: list[str],
    restart: bool,
    grace: str | None,
    as_json: bool,
) -> LoadComparison:
    """Each twin under the same steady traffic, with the default probes unless --probe names others."""
    from lab.load.compare import DEFAULT_PROBES, compare_steady
    from lab.load.probed import probe_plan
    from lab.load.rates import parse_duration, parse_rate

    rate_s, duration_s = parse_rate(rate), parse_duration(duration)
    wanted = probe or (list(DEFAULT_PROBES) if probes or restart else [])
    plan = probe_plan(wanted, restart=restart, grace=grace, served=url is None)
    if plan is not None and not probe:
        plan = dataclasses.replace(plan, source="lab compare's default")

    def announce(twin: str) -> None:
        if not as_json:
            typer.echo(f"{twin}: {rate_s:,.4g}/s for {duration_s:g} s...", err=True)

    if plan is not None and not as_json:
        typer.echo("probes: " + "; ".join(spec.describe() for spec in plan.specs), err=True)
    try:
        with interrupt_on_sigterm():
            return compare_steady(
                scenario, rate=rate_s, duration_s=duration_s, delay_ms=delay_ms, probes=plan, url=url, on_twin=announce
            )
    except KeyboardInterrupt:
        fail(
            "interrupted" if url else "interrupted: the servers this command started have been stopped",
            EXIT_INTERRUPTED,
        )
