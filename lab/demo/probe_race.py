"""`lab demo probes`: the broken twin and its fix under the same steady traffic, the kubelet probing each.

    runner = ProbeDemo(ProbeDemoPlan(), console, live=True)
    view = runner.run()          # a `ProbeRaceView`; `runner.snapshot()` is readable from any thread meanwhile

Each twin gets a fresh lab server (unless `url` names one), the same open-loop traffic (`lab.load.steady`)
and the same probes (`lab.load.prober`: its own thread, loop and clock, started at send 0's due time, so a
probe's time and the traffic's seconds are one axis). Nothing real is restarted: the kubelet's model decides,
and the lane marks its decision where it happened, as `lab load` without `--restart` reports it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from lab.demo.probe_model import ProbeLaneView, ProbeRaceView
from lab.load.compare import COMPARE_TIMEOUT_S, DEFAULT_PROBES, lab_server
from lab.load.fire import run
from lab.load.prober import Prober
from lab.load.probes import parse_probes
from lab.load.steady import SteadyLoad, SteadyPlan
from lab.scenarios import SCENARIOS

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["PROBE_DELAY_MS", "PROBE_DURATION_S", "PROBE_RATE", "ProbeDemo", "ProbeDemoPlan"]

# The traffic of `lab compare -s sleep --rate 20 --duration 10s --probes`: the broken twin handles 10/s one
# at a time, so at 20/s its queue (and its loop's stall) grows by the second and /health times out.
PROBE_RATE = 20.0
PROBE_DURATION_S = 10.0
PROBE_DELAY_MS = 100
PROBER_SLACK_S = 30.0  # the prober outlives the schedule by the drain at most; beyond this it stops on its own

WHY = (
    "The broken twin calls `time.sleep` inside `async def`: the event loop is held, so even `/health` (async def, "
    "cheap) cannot answer within the probe's {timeout} timeout. Liveness fails {failures} times in a row and the "
    "kubelet restarts a pod that was healthy, only busy; its replacement meets the same traffic and the same "
    "blocking call. The fix (`await asyncio.sleep`) gives the loop back: every probe answers, no restart."
)


@dataclass(frozen=True)
class ProbeDemoPlan:
    """The traffic and the probes every twin meets; the twins, broken first."""

    rate: float = PROBE_RATE
    duration_s: float = PROBE_DURATION_S
    delay_ms: int = PROBE_DELAY_MS
    variants: tuple[str, ...] = ("broken", "async")
    probes: tuple[str, ...] = DEFAULT_PROBES

    def why(self) -> str:
        spec = parse_probes(self.probes)[0]
        return WHY.format(timeout=f"{spec.timeout_s:g} s", failures=spec.failures)


class ProbeDemo:
    """Runs each twin in turn; `snapshot()` is the race so far, for the live frame and the page."""

    def __init__(self, plan: ProbeDemoPlan, screen: Console, *, live: bool, url: str | None = None) -> None:
        self.plan = plan
        self.screen = screen
        self.live = live
        self.url = url
        self.specs = parse_probes(plan.probes)
        self.gated = any(spec.kind == "readiness" for spec in self.specs)
        scenario = SCENARIOS["sleep"]
        self.urls = {v: scenario.url("", v, plan.delay_ms) for v in plan.variants}
        self._done: dict[str, ProbeLaneView] = {}
        self._running: tuple[str, SteadyLoad, Prober] | None = None
        self._lock = threading.Lock()

    def snapshot(self) -> ProbeRaceView:
        lanes = []
        with self._lock:
            done, running = dict(self._done), self._running
        for variant in self.plan.variants:
            if variant in done:
                lanes.append(done[variant])
            elif running is not None and running[0] == variant:
                _, load, prober = running
                decisions = list(prober.kubelet.decisions)
                seconds, attempts = load.timeline, prober.attempts()
                lanes.append(
                    ProbeLaneView.of(variant, self.urls[variant], seconds, attempts, decisions, gated=self.gated)
                )
            else:
                lanes.append(ProbeLaneView(variant, self.urls[variant], "waiting"))
        title = f"sleep: {self.plan.rate:g} requests/s for {self.plan.duration_s:g} s, {self.plan.delay_ms} ms each"
        described = tuple(spec.describe() for spec in self.specs)
        return ProbeRaceView(title, self.plan.rate, self.plan.duration_s, described, self.plan.why(), tuple(lanes))

    def run(self) -> ProbeRaceView:
        if self.live:
            from lab.view.demo import live_display
            from lab.view.probe_demo import probe_frame

            width = self.screen.width
            with live_display(self.screen, lambda: probe_frame(self.snapshot(), width=width), screen=True):
                self._race()
        else:
            self._race()
        return self.snapshot()

    def _race(self) -> None:
        for variant in self.plan.variants:
            with lab_server(self.url) as base:
                self._lane(variant, base)

    def _lane(self, variant: str, base: str) -> None:
        plan = SteadyPlan(
            base + self.urls[variant], rate=self.plan.rate, duration_s=self.plan.duration_s, timeout_s=COMPARE_TIMEOUT_S
        )
        limit = plan.duration_s + plan.timeout_s + PROBER_SLACK_S
        prober = Prober(base, self.specs, max_run_s=limit)
        load = SteadyLoad(plan, on_start=prober.start, clock=time.monotonic)  # time 0 of the probes is send 0's
        with self._lock:
            self._running = (variant, load, prober)
        try:
            result = run(load.run())
        finally:
            report = prober.stop()
        end_s = result.wall_s
        url, seconds = self.urls[variant], result.report.timeline
        lane = ProbeLaneView.of(variant, url, seconds, report.attempts, report.decisions, gated=self.gated)
        lane = replace(
            lane,
            state="done",
            restarts=report.restarts,
            out_of_rotation_s=report.out_of_rotation_s,
            p99_s=result.report.latency.p99,
            answered=result.report.answered,
            errors=result.report.failed,
            end_s=end_s,
        )
        with self._lock:
            self._done[variant] = lane
            self._running = None
