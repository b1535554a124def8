"""The kubelet's decisions from a stream of probe attempts (pure: no I/O, no clock of its own).

    kubelet = Kubelet(specs)
    for decision in kubelet.observe(attempt): ...      # each attempt as the prober sends it
    kubelet.restarted(at_s)                            # the container runs again (after a restart)
    report = kubelet.finish(at_s)                      # restarts, time out of rotation, decisions, counts

The rules, as the Probe API documents them:
- An httpGet attempt passes on 200 <= status < 400 within its timeout; a refused connection, a timeout, any
  other status or error fails it.
- `failures` consecutive failures: liveness and startup restart the container; readiness takes the pod out of
  the Service's endpoints until `successes` consecutive passes bring it back.
- Until the startup probe passes, liveness and readiness are not run (their attempts are ignored here).
- After a restart the container starts afresh: counters reset, startup gates again, not ready until readiness
  passes; the prober applies each probe's initial delay again.
- CrashLoopBackOff, as the kubelet's back-off works: the first restart starts the container at once, each
  further one waits 10 s, then 20 s, 40 s ... capped at 5 min; 10 min without a restart resets it.

Time out of rotation counts from the moment a pod that was in the Service's endpoints leaves them (readiness
failing, or a restart) to the moment it is back: a pod still starting up was never in rotation, so its first
seconds are not counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from lab.load.probes import KINDS, ProbeKind, ProbeSpec

__all__ = [
    "BACKOFF_CAP_S",
    "BACKOFF_INITIAL_S",
    "BACKOFF_RESET_S",
    "MAX_ATTEMPTS_KEPT",
    "OUTCOMES",
    "Attempt",
    "Decision",
    "Kubelet",
    "KubeletReport",
    "clock_text",
    "outcome_of",
    "replay",
]

Outcome = Literal["ok", "status", "timeout", "refused", "error"]
OUTCOMES: tuple[Outcome, ...] = ("ok", "status", "timeout", "refused", "error")
Action = Literal["restart", "unready", "ready", "started"]
BACKOFF_INITIAL_S = 10.0
BACKOFF_CAP_S = 300.0
BACKOFF_RESET_S = 600.0
_OUTCOME_WORDS = {"status": "bad status", "timeout": "timed out", "refused": "refused", "error": "failed"}
# A pod back in rotation sooner than this is counted, not said: a restart the model does at once (no back-off,
# nothing real stopped) would read "out from 00:03 to 00:03 (0.0 s)".
SAID_OUT_S = 0.1
MAX_ATTEMPTS_KEPT = 10_000  # every attempt is counted; this many are kept for the report (memory stays bounded)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One probe sent: when (seconds since the prober started), what came back, how long it took."""

    kind: ProbeKind
    path: str
    sent_at_s: float
    status: int | None
    outcome: Outcome
    took_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "sent_at_s": round(self.sent_at_s, 3),
            "status": self.status,
            "outcome": self.outcome,
        }


def outcome_of(status: int | None, took_s: float, timeout_s: float) -> Outcome:
    """httpGet's rule: a status in [200, 400) received within the timeout passes."""
    if status is None:
        return "error"
    if took_s > timeout_s:
        return "timeout"
    return "ok" if 200 <= status < 400 else "status"


@dataclass(frozen=True, slots=True)
class Decision:
    """What the kubelet did, when, and a sentence saying it."""

    at_s: float
    kind: ProbeKind
    action: Action
    text: str
    restart: int = 0  # the restart's number (restart decisions)
    backoff_s: float = 0.0  # CrashLoopBackOff: how long before the container starts again (restart decisions)

    def to_json(self) -> dict[str, Any]:
        return {"at_s": round(self.at_s, 3), "kind": self.kind, "action": self.action, "text": self.text}


@dataclass(frozen=True)
class KubeletReport:
    """The whole run as the kubelet saw it."""

    restarts: int
    out_of_rotation_s: float
    decisions: tuple[Decision, ...]
    counts: dict[str, dict[str, int]]  # per probe kind: attempts per outcome
    attempts: tuple[Attempt, ...]
    attempts_dropped: int = 0  # sent and counted, but past MAX_ATTEMPTS_KEPT

    def lines(self) -> list[str]:
        """The report in plain sentences (a view may draw it richer): counts per probe, decisions, totals."""
        found = []
        for kind, counts in self.counts.items():
            failed = [f"{counts[outcome]} {_OUTCOME_WORDS[outcome]}" for outcome in OUTCOMES[1:] if counts[outcome]]
            found.append(f"{kind}: {counts['ok']} passed" + (", " + ", ".join(failed) if failed else ""))
        found.extend(decision.text for decision in self.decisions)
        out = f", out of the Service's endpoints for {_span(self.out_of_rotation_s)}" if self.out_of_rotation_s else ""
        found.append(f"{self.restarts} restart{'s' if self.restarts != 1 else ''}{out}")
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "probes": [attempt.to_json() for attempt in self.attempts],
            "kubelet": {
                "restarts": self.restarts,
                "out_of_rotation_s": round(self.out_of_rotation_s, 3),
                "decisions": [decision.to_json() for decision in self.decisions],
                "counts": self.counts,
                "attempts_dropped": self.attempts_dropped,
            },
        }


def clock_text(seconds: float) -> str:
    """`00:31`: minutes and seconds since the start, as a timeline reads."""
    whole = max(0, int(seconds))
    return f"{whole // 60:02d}:{whole % 60:02d}"


def _span(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


@dataclass
class _Streak:
    failures: int = 0
    successes: int = 0

    def add(self, passed: bool) -> None:
        if passed:
            self.successes, self.failures = self.successes + 1, 0
        else:
            self.failures, self.successes = self.failures + 1, 0


@dataclass
class _Rotation:
    """The pod in or out of the Service's endpoints, and the time it spent out after first joining them."""

    ready: bool = False
    ever_ready: bool = False
    out_since: float | None = None
    out_total_s: float = 0.0

    def leave(self, at_s: float) -> bool:
        was = self.ready
        self.ready = False
        if was and self.out_since is None:
            self.out_since = at_s
        return was

    def join(self, at_s: float) -> float | None:
        """Back in; how long it was out (None: it was never in before)."""
        self.ready, self.ever_ready = True, True
        since, self.out_since = self.out_since, None
        if since is None:
            return None
        self.out_total_s += at_s - since
        return at_s - since


@dataclass
class Kubelet:
    """The kubelet's state machine for one container and its probes."""

    specs: tuple[ProbeSpec, ...]
    # The state: made here, never passed in (`Kubelet(specs)` is the whole constructor).
    restarts: int = field(default=0, init=False)
    running: bool = field(default=True, init=False)
    started: bool = field(default=False, init=False)  # the startup probe has passed (or there is none)
    decisions: list[Decision] = field(default_factory=list, init=False)
    _streaks: dict[str, _Streak] = field(default_factory=dict, init=False)
    _rotation: _Rotation = field(default_factory=_Rotation, init=False)
    _attempts: list[Attempt] = field(default_factory=list, init=False)
    _dropped: int = field(default=0, init=False)
    _counts: dict[str, dict[str, int]] = field(default_factory=dict, init=False)
    _backoff_s: float = field(default=0.0, init=False)
    _last_restart_s: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._by_kind = {spec.kind: spec for spec in self.specs}
        self._counts = {spec.kind: dict.fromkeys(OUTCOMES, 0) for spec in self.specs}
        self._start(0.0)

    def _start(self, at_s: float) -> None:
        self.running = True
        self.started = "startup" not in self._by_kind
        self._streaks = {kind: _Streak() for kind in self._by_kind}
        if self.started and "readiness" not in self._by_kind:
            self._join(at_s)  # no probe gates it: ready as soon as it runs

    def active(self, kind: ProbeKind) -> bool:
        """Whether the kubelet runs this probe now: the container runs, and startup gates the other two."""
        if not self.running or kind not in self._by_kind:
            return False
        return not self.started if kind == "startup" else self.started

    def attempts(self) -> list[Attempt]:
        """The attempts kept so far, as a copy (the prober's thread appends; a live view reads)."""
        return list(self._attempts)

    def observe(self, attempt: Attempt) -> list[Decision]:
        """Count the attempt; act on it if the kubelet would have run it. Returns the decisions it caused."""
        self._record(attempt)
        if not self.active(attempt.kind):
            return []  # a probe of a container being restarted, or one that startup still gates: discarded
        streak = self._streaks[attempt.kind]
        streak.add(attempt.outcome == "ok")
        spec = self._by_kind[attempt.kind]
        at = attempt.sent_at_s + attempt.took_s  # the kubelet decides when the attempt ends
        before = len(self.decisions)
        if attempt.kind == "readiness":
            self._readiness(streak, spec, at)
        elif streak.failures >= spec.failures:
            self._restart(spec, at)
        elif attempt.kind == "startup" and streak.successes >= spec.successes:
            self.started = True
            self._decide(at, "startup", "started", f"startup passed at {clock_text(at)}: liveness and readiness begin")
            if "readiness" not in self._by_kind:
                self._join(at)
        return self.decisions[before:]

    def _record(self, attempt: Attempt) -> None:
        if len(self._attempts) < MAX_ATTEMPTS_KEPT:
            self._attempts.append(attempt)
        else:
            self._dropped += 1
        self._counts.setdefault(attempt.kind, dict.fromkeys(OUTCOMES, 0))[attempt.outcome] += 1

    def _readiness(self, streak: _Streak, spec: ProbeSpec, at: float) -> None:
        if self._rotation.ready and streak.failures >= spec.failures:
            self._rotation.leave(at)
            text = (
                f"readiness failed {streak.failures} times in a row at {clock_text(at)}: out of the Service's endpoints"
            )
            self._decide(at, "readiness", "unready", text)
        elif not self._rotation.ready and streak.successes >= spec.successes:
            self._join(at)

    def _join(self, at: float) -> None:
        since = self._rotation.out_since
        out = self._rotation.join(at)
        if since is not None and out is not None and out >= SAID_OUT_S:
            # Without a readiness probe only a restart takes the pod out: the sentence says which.
            why = "readiness" if "readiness" in self._by_kind else "restart"
            text = f"{why}: out of the Service's endpoints from {clock_text(since)} to {clock_text(at)} ({_span(out)})"
            self._decide(at, "readiness", "ready", text)

    def _restart(self, spec: ProbeSpec, at: float) -> None:
        if self._last_restart_s is not None and at - self._last_restart_s > BACKOFF_RESET_S:
            self._backoff_s = 0.0  # ran well long enough: the back-off starts over
        self.restarts += 1
        self.running = False
        self._last_restart_s = at
        text = (
            f"{spec.kind} failed {self._streaks[spec.kind].failures} times in a row at {clock_text(at)}: "
            f"the kubelet restarts the container (restart {self.restarts})"
        )
        if self._backoff_s:
            text += f"; CrashLoopBackOff: it starts again {_span(self._backoff_s)} later"
        self._decide(at, spec.kind, "restart", text, restart=self.restarts, backoff_s=self._backoff_s)
        self._backoff_s = min(BACKOFF_CAP_S, self._backoff_s * 2 or BACKOFF_INITIAL_S)
        self._rotation.leave(at)

    def restarted(self, at_s: float) -> None:
        """The container runs again (the prober says when): the probes start afresh."""
        self._start(at_s)

    def _decide(self, at: float, kind: ProbeKind, action: Action, text: str, **extra: Any) -> None:
        self.decisions.append(Decision(at, kind, action, text, **extra))

    def finish(self, at_s: float) -> KubeletReport:
        """The report at `at_s` (the end of the run); a pod still out of rotation is counted to the end."""
        out_total = self._rotation.out_total_s
        decisions = list(self.decisions)
        since = self._rotation.out_since
        if since is not None:
            out_total += at_s - since
            why = "readiness" if "readiness" in self._by_kind else "restart"
            text = (
                f"{why}: out of the Service's endpoints from {clock_text(since)} to the end "
                f"({clock_text(at_s)}, {_span(at_s - since)})"
            )
            decisions.append(Decision(at_s, "readiness", "unready", text))
        counts: dict[str, dict[str, int]] = {k: dict(self._counts[k]) for k in KINDS if k in self._counts}
        return KubeletReport(self.restarts, out_total, tuple(decisions), counts, tuple(self._attempts), self._dropped)


def replay(specs: Iterable[ProbeSpec], attempts: Iterable[Attempt], end_s: float) -> KubeletReport:
    """The kubelet's report for recorded attempts; after each restart the container runs again at once."""
    kubelet = Kubelet(tuple(specs))
    for attempt in attempts:
        for decision in kubelet.observe(attempt):
            if decision.action == "restart":
                kubelet.restarted(decision.at_s + decision.backoff_s)
    return kubelet.finish(end_s)
