"""The probe demo's model: each twin's steady traffic and the kubelet's probes on one time axis (pure, no rich).

    view = ProbeLaneView.of("broken", url, seconds, attempts, decisions, done=True)

What `lab demo probes` shows, as plain data: per second of the traffic, what came back (answered, errors,
p99); every probe attempt (a tick, ok or not); every kubelet decision (a restart, a pod out of or back in the
Service's endpoints) where it happened; the spans out of rotation, made from those decisions. The runner
(`lab.demo.probe_race`) writes it, the terminal view (`lab.view.probe_demo`) and the page's JSON
(`probe_race_json`) read the same snapshot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from lab.load.kubelet import Attempt, Decision
    from lab.load.latency import Second

__all__ = ["Mark", "ProbeLaneView", "ProbeRaceView", "Tick", "TrafficSecond", "probe_race_json", "rotation_spans"]

LaneState = Literal["waiting", "running", "done"]
MIN_SPAN_S = 0.05  # a restart that ran again at once (no back-off yet) was out of rotation for no time worth drawing


@dataclass(frozen=True)
class TrafficSecond:
    """One second of the twin's traffic, by when its answers came back."""

    index: int
    sent: int
    answered: int
    errors: int
    p99_s: float | None


@dataclass(frozen=True)
class Tick:
    """One probe attempt: when it was sent, and whether it passed (`ok`) or not (timeout, status, error)."""

    at_s: float
    kind: str
    outcome: str

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass(frozen=True)
class Mark:
    """One kubelet decision where it happened: `restart` (with its number), `unready`, `ready`."""

    at_s: float
    action: str
    text: str
    restart: int = 0
    backoff_s: float = 0.0  # a restart's CrashLoopBackOff: the container runs again this long after

    @property
    def label(self) -> str:
        return f"restart {self.restart}" if self.action == "restart" else self.action


def rotation_spans(marks: Sequence[Mark], end_s: float | None, *, gated: bool) -> tuple[tuple[float, float], ...]:
    """The spans the pod was out of the Service's endpoints, as the kubelet's decisions say.

    With a readiness probe (`gated`), a restart or `unready` starts a span and the next `ready` ends it. Without
    one, only a restart takes the pod out, until its container runs again (after its CrashLoopBackOff). A span
    still open ends at `end_s` (None: the run goes on, it is drawn up to the last mark).
    """
    spans: list[tuple[float, float]] = []
    since: float | None = None
    for mark in sorted(marks, key=lambda m: m.at_s):
        if mark.action == "restart" and not gated:
            spans.append((mark.at_s, mark.at_s + mark.backoff_s))
        elif mark.action in ("restart", "unready") and since is None:
            since = mark.at_s
        elif mark.action == "ready" and since is not None:
            spans.append((since, mark.at_s))
            since = None
    if since is not None:
        spans.append((since, end_s if end_s is not None else since))
    last = end_s if end_s is not None else math.inf
    return tuple((a, min(b, last)) for a, b in spans if min(b, last) - a >= MIN_SPAN_S)


@dataclass(frozen=True)
class ProbeLaneView:
    """One twin under steady traffic with its probe lane: a snapshot, as every view reads it."""

    variant: str
    url: str
    state: LaneState
    seconds: tuple[TrafficSecond, ...] = ()
    ticks: tuple[Tick, ...] = ()
    marks: tuple[Mark, ...] = ()
    restarts: int = 0
    out_of_rotation_s: float = 0.0
    p99_s: float | None = None  # the whole run's (only once done)
    answered: int = 0
    errors: int = 0
    end_s: float | None = None  # the run's end on its own axis (once done)
    gated: bool = False  # a readiness probe decides when the pod is in the Service's endpoints

    @classmethod
    def of(
        cls,
        variant: str,
        url: str,
        seconds: Sequence[Second],
        attempts: Sequence[Attempt],
        decisions: Sequence[Decision],
        *,
        gated: bool = False,
    ) -> ProbeLaneView:
        """A running lane from what the load and the kubelet have so far."""
        traffic = tuple(TrafficSecond(s.index, s.sent, s.answered, s.errors, s.p99_s) for s in seconds)
        ticks = tuple(Tick(a.sent_at_s, a.kind, a.outcome) for a in attempts)
        marks = tuple(Mark(d.at_s, d.action, d.text, d.restart, d.backoff_s) for d in decisions)
        restarts = sum(1 for mark in marks if mark.action == "restart")
        return cls(
            variant,
            url,
            "running",
            traffic,
            ticks,
            marks,
            restarts,
            answered=sum(s.answered for s in traffic),
            errors=sum(s.errors for s in traffic),
            gated=gated,
        )

    @property
    def failed_probes(self) -> int:
        return sum(1 for tick in self.ticks if not tick.ok)

    @property
    def spans(self) -> tuple[tuple[float, float], ...]:
        return rotation_spans(self.marks, self.end_s, gated=self.gated)

    @property
    def last_s(self) -> float:
        """The latest moment the lane has something drawn at."""
        times = [t.at_s for t in self.ticks] + [m.at_s for m in self.marks] + [s.index + 1.0 for s in self.seconds]
        return max([*times, self.end_s or 0.0])

    def to_json(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "url": self.url,
            "state": self.state,
            "seconds": [
                {
                    "t": s.index,
                    "sent": s.sent,
                    "answered": s.answered,
                    "errors": s.errors,
                    "p99_ms": None if s.p99_s is None else round(s.p99_s * 1000, 1),
                }
                for s in self.seconds
            ],
            "probes": [{"sent_at_s": round(t.at_s, 3), "kind": t.kind, "outcome": t.outcome} for t in self.ticks],
            "decisions": [
                {"at_s": round(m.at_s, 3), "action": m.action, "text": m.text, "label": m.label} for m in self.marks
            ],
            "out_of_rotation": [[round(a, 3), round(b, 3)] for a, b in self.spans],
            "restarts": self.restarts,
            "out_of_rotation_s": round(self.out_of_rotation_s, 3),
            "p99_ms": None if self.p99_s is None else round(self.p99_s * 1000, 1),
            "answered": self.answered,
            "errors": self.errors,
            "end_s": None if self.end_s is None else round(self.end_s, 3),
        }


@dataclass(frozen=True)
class ProbeRaceView:
    """The whole probe demo: the traffic and probes every twin met, and each twin's lane."""

    title: str
    rate: float
    duration_s: float
    probes: tuple[str, ...]  # each probe spec in one line
    why: str
    lanes: tuple[ProbeLaneView, ...]

    @property
    def axis_s(self) -> float:
        """The time axis every lane shares: the schedule, or longer when a drain or a mark went past it."""
        return max([self.duration_s, *(lane.last_s for lane in self.lanes)])

    @property
    def done(self) -> bool:
        return all(lane.state == "done" for lane in self.lanes)


def probe_race_json(view: ProbeRaceView) -> dict[str, Any]:
    """The probe demo as the page reads it (`format: lab-demo-probes/1`)."""
    return {
        "format": "lab-demo-probes/1",
        "title": view.title,
        "rate": view.rate,
        "duration_s": view.duration_s,
        "axis_s": round(view.axis_s, 3),
        "probes": list(view.probes),
        "why": view.why,
        "done": view.done,
        "lanes": [lane.to_json() for lane in view.lanes],
    }
