"""Steady traffic with the kubelet beside it: its probes, its decisions and, for a server the lab started, its restarts.

    probes = ProbePlan(parse_probes(["liveness=/health,period=2s"]), restart=True, grace_s=5)
    with ServerProcess("main:app") as server:
        result = run_probed(SteadyPlan(server.url + "/work", rate=20, duration_s=30), probes, server)
    result = await probed(plan, probes)      # from async code (a notebook): the load runs on the caller's loop

One time axis for everything: the load's `t0` (send 0's due time, on `time.monotonic`) is the prober's time 0
and the origin of each restart's downtime, so "liveness failed at 00:07" and the timeline's second 7 are the
same moment. The prober keeps its own thread, loop and connections (`lab.load.prober`): the traffic cannot
slow it, a blocked server only makes its probes time out.

Without `restart`, nothing real happens to the server: the kubelet's model still decides, and the report
says what it would have done. With it (only for a server the lab started: `Restarter`), each decision is
carried out while the traffic keeps coming, and the requests each restart cost are counted: those cut or
refused at the connection (`LOST_KINDS`) from the SIGTERM until `LOST_SLACK_S` after the server answered again.
A timeout is not counted there: it is the server being slow (the errors and the timeline show it), and a
restarted server that takes the queued traffic at once can be slow to answer for long after it listens.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lab.errors import LabError, ServerError
from lab.load.fire import run
from lab.load.kubelet import KubeletReport, clock_text
from lab.load.latency import Second
from lab.load.prober import Prober
from lab.load.probes import DEFAULT_GRACE_S, ProbeSpec, parse_probes, probes_from_manifest
from lab.load.rates import parse_seconds
from lab.load.restart import Downtime, Restarter
from lab.load.steady import SteadyLoad, SteadyPlan, SteadyResult

if TYPE_CHECKING:
    from lab.launch.process import ServerProcess

__all__ = [
    "LOST_KINDS",
    "LOST_SLACK_S",
    "MAX_GRACE_S",
    "Losses",
    "ProbePlan",
    "ProbedResult",
    "Restart",
    "parse_grace",
    "probe_plan",
    "served_path",
    "probed",
    "run_probed",
]

# After a restart the client's kept-alive connections point at the old process: their first use fails
# a moment after the new one answers. Those requests were lost to the restart too.
LOST_SLACK_S = 1.0
LOST_KINDS = frozenset({"refused", "reset"})  # how a request fails when its server is stopped or not there
MAX_GRACE_S = 600.0  # a restart's wait is bounded as every run is
PROBER_SLACK_S = 30.0  # the prober may outlive the schedule by the drain; beyond this it stops on its own


@dataclass(frozen=True)
class ProbePlan:
    """What the kubelet does beside the traffic: which probes, whether to restart for real, the grace period."""

    specs: tuple[ProbeSpec, ...]
    restart: bool = False
    grace_s: float = DEFAULT_GRACE_S
    source: str = "--probe"  # where the specs came from: `--probe`, or a manifest's `file: Deployment/api`

    def check(self, server: ServerProcess | None) -> None:
        if not self.specs:
            raise LabError("no probes to run: give --probe kind=/path or --probes-from a manifest", usage=True)
        if self.restart and server is None:
            raise LabError(
                "--restart needs --serve APP: a server the lab did not start cannot be restarted", usage=True
            )
        if self.grace_s < 0:
            raise LabError(f"the grace period cannot be negative (got {self.grace_s:g} s)", usage=True)


def probe_plan(
    probes: list[str],
    manifest: str | None = None,
    container: str | None = None,
    *,
    restart: bool = False,
    grace: str | None = None,
    served: bool = False,
) -> ProbePlan | None:
    """The command line's probe options read into a plan (None: no probes), or one usage line for each mistake.

    `--grace` wins over the manifest's terminationGracePeriodSeconds, which wins over Kubernetes' 30 s.
    """
    if probes and manifest is not None:
        raise LabError("give --probe or --probes-from, not both (a manifest already names its probes)", usage=True)
    if container is not None and manifest is None:
        raise LabError("--container names a container of --probes-from's manifest: give --probes-from", usage=True)
    if restart and not served:
        raise LabError("--restart needs --serve APP: a server the lab did not start cannot be restarted", usage=True)
    grace_s = None if grace is None else parse_grace(grace)
    if manifest is not None:
        found = probes_from_manifest(manifest, container)
        default = found.grace_period_s
        specs, source = found.probes, f"{found.source} container {found.container}"
    else:
        specs, source, default = parse_probes(probes), "--probe", DEFAULT_GRACE_S
    if not specs:
        if restart:
            raise LabError("--restart needs probes (--probe or --probes-from): the kubelet restarts on one", usage=True)
        return None
    return ProbePlan(specs, restart, default if grace_s is None else grace_s, source)


def served_path(url: str) -> str:
    """With `--serve`, the URL argument is a path on the app the lab starts (it picks the port)."""
    if not url.startswith("/"):
        raise LabError(
            f"with --serve, URL is the path to load (e.g. /health), not {url!r}: the lab picks the port", usage=True
        )
    return url


def parse_grace(text: str) -> float:
    """`--grace`: terminationGracePeriodSeconds as typed (`30s`, `500ms`), 0 (SIGKILL at once) to `MAX_GRACE_S`."""
    seconds = parse_seconds(text, "--grace")
    if not 0 <= seconds <= MAX_GRACE_S:
        raise LabError(f"--grace must be between 0 and {MAX_GRACE_S / 60:.0f} min, got {text!r}", usage=True)
    return seconds


@dataclass(frozen=True)
class Restart:
    """One real restart, on the run's time axis, and the requests it cost."""

    number: int
    down_at_s: float  # SIGTERM sent
    up_at_s: float  # answering again (the lab's readiness check on the new process)
    killed: bool  # outlived the grace period: SIGKILL
    ended: str  # how the old process ended
    pid: int | None  # the new server's
    lost: int  # requests cut or refused from SIGTERM until LOST_SLACK_S after it answered again
    started_at_s: float | None = None  # the new process started on the port: connections are taken again

    def sentence(self, grace_s: float) -> str:
        how = f"SIGKILL after the {grace_s:g} s grace period" if self.killed else f"it exited within {grace_s:g} s"
        started = (
            "" if self.started_at_s is None else f"a new process on the port from {clock_text(self.started_at_s)}, "
        )
        return (
            f"restart {self.number}: SIGTERM at {clock_text(self.down_at_s)}, {how} ({self.ended}); {started}"
            f"answering again at {clock_text(self.up_at_s)} as pid {self.pid} "
            f"({self.up_at_s - self.down_at_s:.1f} s after the SIGTERM), "
            f"{self.lost:,} request{'s' if self.lost != 1 else ''} lost (cut or refused)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "down_at_s": round(self.down_at_s, 3),
            "up_at_s": round(self.up_at_s, 3),
            "killed": self.killed,
            "ended": self.ended,
            "pid": self.pid,
            "lost": self.lost,
            "started_at_s": None if self.started_at_s is None else round(self.started_at_s, 3),
        }


class Losses:
    """Requests cut or refused, by tenth of a second of the run (bounded: ten counters a second at most)."""

    def __init__(self) -> None:
        self._tenths: Counter[int] = Counter()

    def done(self, end_s: float, outcome: str) -> None:
        """`SteadyLoad`'s `on_done`: an outcome is a status (`200`) or an error kind (`refused`)."""
        if outcome in LOST_KINDS:
            self._tenths[int(end_s * 10)] += 1

    def between(self, start_s: float, end_s: float) -> int:
        first, last = int(start_s * 10), int(end_s * 10)
        return sum(n for tenth, n in self._tenths.items() if first <= tenth <= last)

    def of(self, downtime: Downtime, t0: float) -> Restart:
        down, up = downtime.down_at - t0, downtime.up_at - t0
        lost = self.between(down, up + LOST_SLACK_S)
        started = None if downtime.started_at is None else downtime.started_at - t0
        return Restart(downtime.number, down, up, downtime.killed, downtime.ended, downtime.pid, lost, started)


@dataclass(frozen=True)
class ProbedResult:
    """The traffic's figures (`steady`), the kubelet's view (`kubelet`), and the restarts done (with `restart`)."""

    steady: SteadyResult
    probes: ProbePlan
    kubelet: KubeletReport
    restarts: tuple[Restart, ...] = ()
    restarts_skipped: int = 0  # decided past the Restarter's bound: counted, not carried out
    served: str | None = None  # the app the lab started, if it did
    served_pid: int | None = None  # its first process (each restart's `pid` is the next one's)
    restart_failures: tuple[str, ...] = ()  # restarts whose new process never answered

    def would_have(self) -> list[str]:
        """Without `--restart`: what the kubelet would have done to this server, in sentences."""
        k = self.kubelet
        if self.probes.restart:
            return []
        if not k.restarts:
            lines = ["Without --restart nothing was stopped, and the kubelet would not have restarted it either."]
        else:
            times = ", ".join(clock_text(d.at_s) for d in k.decisions if d.action == "restart")
            lines = [
                f"Without --restart the server kept running; the kubelet would have restarted it "
                f"{k.restarts} time{'s' if k.restarts != 1 else ''} (at {times}): SIGTERM, up to "
                f"{self.probes.grace_s:g} s of grace, SIGKILL, start again, the requests in flight and those "
                "arriving meanwhile refused or cut (`--serve APP --restart` does it for real)."
            ]
        if k.out_of_rotation_s:
            lines.append(
                f"A Service would have sent it no traffic for {k.out_of_rotation_s:.1f} s; "
                "the lab's traffic kept coming, as if another pod had taken it on."
            )
        return lines

    def to_json(self) -> dict[str, Any]:
        data = {**self.steady.to_json(), **self.kubelet.to_json()}
        data["kubelet"] = {
            **data["kubelet"],
            "specs": [spec.describe() for spec in self.probes.specs],
            "source": self.probes.source,
            "grace_s": self.probes.grace_s,
            "restart": self.probes.restart,
            "restarts_done": [restart.to_json() for restart in self.restarts],
            "restarts_skipped": self.restarts_skipped,
            "restart_failures": list(self.restart_failures),
            "would_have": self.would_have(),
        }
        data["served"], data["served_pid"] = self.served, self.served_pid
        return data

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from lab.view.steady import probed_report  # rendering stays in lab.view

        yield probed_report(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, str]:
        from lab.view.jupyter import mimebundle

        return mimebundle(self, include, exclude)


@dataclass
class _Kubelet:
    """The prober and, with `restart`, the restarter of one run, and the run's losses."""

    plan: SteadyPlan
    probes: ProbePlan
    server: ServerProcess | None
    losses: Losses = field(default_factory=Losses)

    def __post_init__(self) -> None:
        self.restarter = None
        if self.probes.restart:
            assert self.server is not None  # ProbePlan.check
            self.restarter = Restarter(self.server, grace_s=self.probes.grace_s)
        base = self.server.url if self.server is not None else self.plan.url
        # Bounded: the schedule, its drain, and slack; `stop()` normally comes long before.
        limit = self.plan.duration_s + self.plan.timeout_s + PROBER_SLACK_S
        on_restart = None if self.restarter is None else self.restarter.on_restart
        self.prober = Prober(base, self.probes.specs, on_restart=on_restart, max_run_s=limit)

    def stop(self) -> tuple[KubeletReport, list[Downtime], int, tuple[str, ...]]:
        """The prober first (a restart under way is left to the restarter), then the restarter's server.

        A restart that failed is reported with the run (`restart_failures`), not raised: the traffic's figures
        are what the failure did, and they are worth showing.
        """
        try:
            report = self.prober.stop()
        except ServerError:
            report = self.prober.kubelet.finish(self.prober.now())
        finally:
            if self.restarter is not None:
                self.restarter.close()
        if self.restarter is None:
            return report, [], 0, ()
        restarter = self.restarter
        return report, list(restarter.downtimes), restarter.skipped, tuple(restarter.failures)


async def probed(
    plan: SteadyPlan,
    probes: ProbePlan,
    server: ServerProcess | None = None,
    *,
    on_second: Callable[[Second], None] | None = None,
) -> ProbedResult:
    """Steady traffic on the caller's loop, the kubelet on its own thread; with `restart`, the server is stopped
    at the end (the one running then: after a restart it is a new process)."""
    probes.check(server)
    pid = server.pid if server is not None else None
    kubelet = _Kubelet(plan, probes, server)
    load = SteadyLoad(
        plan,
        on_second=on_second,
        on_start=kubelet.prober.start,  # time 0 of the probes is send 0's due time
        on_done=kubelet.losses.done,
        clock=time.monotonic,  # the prober's and the restarter's clock
    )
    try:
        steady = await load.run()
    finally:
        report, downtimes, skipped, failures = await asyncio.to_thread(kubelet.stop)
    assert load.t0 is not None
    restarts = tuple(kubelet.losses.of(downtime, load.t0) for downtime in downtimes)
    served = server.target if server is not None else None
    return ProbedResult(steady, probes, report, restarts, skipped, served, pid, failures)


def run_probed(plan: SteadyPlan, probes: ProbePlan, server: ServerProcess | None = None, **kwargs: Any) -> ProbedResult:
    """`probed` for synchronous callers (the CLI), on uvloop."""
    return run(probed(plan, probes, server, **kwargs))
