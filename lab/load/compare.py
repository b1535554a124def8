"""`lab compare`: the same burst, or the same steady traffic, at the sync, async and broken twins of one scenario.

    comparison = await compare(base_url, scenario, requests=10, delay_ms=100)         # a burst each
    under_load = compare_steady(scenario, rate=20, duration_s=20, delay_ms=100,       # steady traffic each,
                                probes=ProbePlan(default_probes()))                 # the kubelet beside it

Under steady traffic each twin gets a lab server of its own (unless `url` names a running one): the
broken twin's backlog, lag and restarts must not spill into the next twin's figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from lab.errors import LabError
from lab.launch.process import LAB_APP, ServerProcess
from lab.load.burst import BurstResult, burst
from lab.load.fire import run
from lab.load.probed import ProbedResult, ProbePlan, probed
from lab.load.probes import ProbeSpec, parse_probes
from lab.load.steady import SteadyLoad, SteadyPlan, SteadyResult
from lab.scenarios import SCENARIOS, VARIANTS, Scenario

MAX_COMPARE_REQUESTS = 1_000


@dataclass(frozen=True)
class Comparison:
    scenario: Scenario
    requests: int
    delay_ms: int
    variants: dict[str, BurstResult]

    def speedup(self, variant: str) -> float | None:
        """How many times faster than the broken twin (wall time against wall time)."""
        broken, this = self.variants.get("broken"), self.variants[variant]
        if broken is None or this.summary.wall_s <= 0:
            return None
        return broken.summary.wall_s / this.summary.wall_s

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "delay_ms": self.delay_ms,
            "scenario": self.scenario.name,
            "variants": {name: result.to_json() for name, result in self.variants.items()},
            "speedup_over_broken": {name: _round(self.speedup(name)) for name in self.variants},
        }

    # Display hooks, as `BurstResult`'s: the view is imported only when the comparison is shown.
    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from lab.view.burst import comparison_report

        yield comparison_report(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, str]:
        from lab.view.jupyter import mimebundle

        return mimebundle(self, include, exclude)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def check_compare_arguments(scenario: str, requests: int, delay_ms: int) -> Scenario:
    """One line for each mistake, saying what is allowed (a usage `LabError`)."""
    if scenario not in SCENARIOS:
        raise LabError(f"unknown scenario {scenario!r}: choose one of {', '.join(SCENARIOS)}", usage=True)
    if not 2 <= requests <= MAX_COMPARE_REQUESTS:
        raise LabError(f"requests must be between 2 and {MAX_COMPARE_REQUESTS}, got {requests}", usage=True)
    limit = SCENARIOS[scenario].max_delay_ms
    if not 1 <= delay_ms <= limit:
        raise LabError(f"delay must be between 1 and {limit} ms for {scenario}, got {delay_ms}", usage=True)
    return SCENARIOS[scenario]


async def compare(base_url: str, scenario: Scenario, requests: int, delay_ms: int) -> Comparison:
    """Fire the same burst at each twin, one twin at a time, on one server."""
    results = {}
    for variant in VARIANTS:
        results[variant] = await burst(
            scenario.url(base_url, variant, delay_ms),
            requests=requests,
            method=scenario.method,
            json_body=scenario.json_body,
        )
    return Comparison(scenario, requests, delay_ms, results)


def require_extra(scenario: Scenario) -> None:
    """A `LabError` line naming the install command when the scenario's optional extra is missing here."""
    if scenario.extra is not None and not scenario.extra.installed():
        raise LabError(scenario.extra.missing(f"the {scenario.name} scenario"))


@contextmanager
def lab_server(url: str | None, scenario: Scenario | None = None) -> Iterator[str]:
    """The given server's base URL, or a fresh lab server of our own, stopped on the way out.

    A server of our own that could not serve `scenario` (its optional extra is not installed) is not
    started: one `LabError` line says which command installs it. A given server answers for itself.
    """
    if url is not None:
        yield url.rstrip("/")
        return
    if scenario is not None:
        require_extra(scenario)
    with ServerProcess(LAB_APP) as server:
        yield server.url


# The probe a twin gets when none is given: the lab server's `/health` is `async def`, so it fails only when
# the event loop is blocked (the broken twin), never because the fixed twins are busy. Period 2 s (not the
# default 10 s) so that a short lab run sees the kubelet act; timeout and threshold are Kubernetes' own.
DEFAULT_PROBES = ("liveness=/health,period=2s,timeout=1s,failures=3",)
COMPARE_TIMEOUT_S = 5.0  # per request under steady traffic: the broken twin's drain is bounded by it


def default_probes() -> tuple[ProbeSpec, ...]:
    return parse_probes(DEFAULT_PROBES)


def check_steady_options(*, rate: str | None, probing: bool, restart: bool, grace: str | None, url: str | None) -> None:
    """`lab compare`'s steady-traffic options that do not fit together: one usage line each."""
    if rate is None and (probing or restart or grace is not None):
        raise LabError("--probes, --probe, --restart and --grace go with steady traffic: add --rate", usage=True)
    if restart and url is not None:
        raise LabError("--restart restarts servers the lab started: drop --url", usage=True)


@dataclass(frozen=True)
class LoadComparison:
    """Each twin under the same steady traffic, with the kubelet's probes beside it when `probes` is set."""

    scenario: Scenario
    rate: float
    duration_s: float
    delay_ms: int
    probes: ProbePlan | None
    variants: dict[str, SteadyResult | ProbedResult]

    def to_json(self) -> dict[str, Any]:
        probes = self.probes
        return {
            "scenario": self.scenario.name,
            "rate": self.rate,
            "duration_s": self.duration_s,
            "delay_ms": self.delay_ms,
            "probes": None if probes is None else [spec.describe() for spec in probes.specs],
            "restart": bool(probes and probes.restart),
            "variants": {name: result.to_json() for name, result in self.variants.items()},
        }

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from lab.view.steady import load_comparison_report

        yield load_comparison_report(self)


def compare_steady(
    scenario: Scenario,
    *,
    rate: float,
    duration_s: float,
    delay_ms: int,
    probes: ProbePlan | None = None,
    url: str | None = None,
    on_twin: Callable[[str], None] | None = None,
) -> LoadComparison:
    """The same steady traffic at each twin, one twin at a time; `on_twin(name)` as each begins."""
    results: dict[str, SteadyResult | ProbedResult] = {}
    for variant in VARIANTS:
        if on_twin is not None:
            on_twin(variant)
        with _twin_server(url, scenario) as (base, server):
            plan = SteadyPlan(
                scenario.url(base, variant, delay_ms),
                rate=rate,
                duration_s=duration_s,
                method=scenario.method,
                json_body=scenario.json_body,
                timeout_s=COMPARE_TIMEOUT_S,
            )
            if probes is None:
                results[variant] = run(SteadyLoad(plan).run())
            else:
                results[variant] = run(probed(plan, probes, server))
    return LoadComparison(scenario, rate, duration_s, delay_ms, probes, results)


@contextmanager
def _twin_server(url: str | None, scenario: Scenario) -> Iterator[tuple[str, ServerProcess | None]]:
    """A fresh lab server for one twin (stopped on the way out), or the running one at `url` (no process)."""
    if url is not None:
        yield url.rstrip("/"), None
        return
    require_extra(scenario)
    with ServerProcess(LAB_APP) as server:
        yield server.url, server
