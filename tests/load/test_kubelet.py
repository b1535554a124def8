"""The kubelet's rules, replayed on attempt streams written by hand (no network, no clock)."""

from __future__ import annotations

import json

import pytest

from lab.load.kubelet import Attempt, Kubelet, Outcome, clock_text, outcome_of, replay
from lab.load.probes import ProbeKind, ProbeSpec

LIVE = ProbeSpec("liveness", "/health", period_s=1, timeout_s=1, failures=3)
READY = ProbeSpec("readiness", "/ready", period_s=1, timeout_s=1, failures=2, successes=2)
START = ProbeSpec("startup", "/health", period_s=1, timeout_s=1, failures=3)


def attempts(kind: ProbeKind, outcomes: str, start: float = 0.0, period: float = 1.0) -> list[Attempt]:
    """`"oo xx"`: o ok, s a 503, t a timeout, r refused, e an error; spaces are periods with no attempt."""
    code: dict[str, tuple[Outcome, int | None]] = {
        "o": ("ok", 200),
        "s": ("status", 503),
        "t": ("timeout", None),
        "r": ("refused", None),
        "e": ("error", None),
    }
    made = []
    for i, letter in enumerate(outcomes):
        if letter != " ":
            outcome, status = code[letter]
            took = 1.0 if outcome == "timeout" else 0.0
            made.append(Attempt(kind, "/p", start + i * period, status, outcome, took))
    return made


@pytest.mark.parametrize(
    ("status", "took", "timeout", "expected"),
    [
        (200, 0.01, 1, "ok"),
        (204, 0.01, 1, "ok"),
        (302, 0.01, 1, "ok"),
        (399, 0.01, 1, "ok"),
        (199, 0.01, 1, "status"),
        (400, 0.01, 1, "status"),
        (503, 0.01, 1, "status"),
        (200, 1.5, 1, "timeout"),  # a 200 too late fails all the same
        (None, 0.01, 1, "error"),
    ],
)
def test_httpget_rule(status: int | None, took: float, timeout: float, expected: str) -> None:
    assert outcome_of(status, took, timeout) == expected


@pytest.mark.parametrize(
    ("outcomes", "restarts"),
    [
        ("oooooo", 0),
        ("ooxxoo".replace("x", "t"), 0),  # two failures are not three
        ("ottotto", 0),  # not in a row
        ("ottt", 1),
        ("osss", 1),  # a 503 fails as a timeout does
        ("orrr", 1),
        ("otse", 1),  # any mix of failures
    ],
)
def test_liveness_restarts_after_failures_in_a_row(outcomes: str, restarts: int) -> None:
    report = replay([LIVE], attempts("liveness", outcomes), end_s=len(outcomes))
    assert report.restarts == restarts
    assert [d.action for d in report.decisions].count("restart") == restarts


def test_the_restart_sentence() -> None:
    report = replay([LIVE], attempts("liveness", "o" * 28 + "ttt"), end_s=40)
    (decision,) = report.decisions
    assert decision.text == "liveness failed 3 times in a row at 00:31: the kubelet restarts the container (restart 1)"
    assert decision.at_s == 31  # sent at 30, timed out 1 s later
    assert decision.backoff_s == 0  # the first restart starts the container at once


def test_crash_loop_back_off_doubles_and_is_capped() -> None:
    kubelet = Kubelet((LIVE,))
    backoffs = []
    now = 0.0
    for _ in range(8):
        for attempt in attempts("liveness", "ttt", start=now):
            for decision in kubelet.observe(attempt):
                backoffs.append(decision.backoff_s)
                now = decision.at_s + decision.backoff_s
                kubelet.restarted(now)
    assert backoffs == [0, 10, 20, 40, 80, 160, 300, 300]
    assert kubelet.restarts == 8
    assert "CrashLoopBackOff: it starts again 10 s later" in kubelet.decisions[1].text


def test_back_off_resets_after_ten_minutes_running_well() -> None:
    kubelet = Kubelet((LIVE,))
    first = attempts("liveness", "ttt")
    second = attempts("liveness", "ttt", start=10)
    third = attempts("liveness", "ttt", start=10 + 700)
    found = []
    for batch in (first, second, third):
        for attempt in batch:
            for decision in kubelet.observe(attempt):
                found.append(decision.backoff_s)
                kubelet.restarted(decision.at_s)
    assert found == [0, 10, 0]


def test_no_probes_while_the_container_is_down() -> None:
    kubelet = Kubelet((LIVE,))
    decisions = [d for a in attempts("liveness", "tttttt") for d in kubelet.observe(a)]
    assert len(decisions) == 1  # down after the third: the next three are discarded
    assert not kubelet.active("liveness")
    report = kubelet.finish(10)
    assert report.counts["liveness"]["timeout"] == 6  # sent all the same, so counted


def test_readiness_leaves_and_returns() -> None:
    stream = attempts("readiness", "o" * 10 + "ss" + "s" * 13 + "oo")
    report = replay([READY], stream, end_s=40)
    assert report.restarts == 0
    actions = [(d.action, d.at_s) for d in report.decisions]
    assert actions == [("unready", 11), ("ready", 26)]
    assert report.decisions[0].text == "readiness failed 2 times in a row at 00:11: out of the Service's endpoints"
    assert report.decisions[1].text == "readiness: out of the Service's endpoints from 00:11 to 00:26 (15 s)"
    assert report.out_of_rotation_s == pytest.approx(15)


def test_readiness_needs_its_successes_in_a_row() -> None:
    stream = attempts("readiness", "oo" + "ss" + "osos" + "oo")
    report = replay([READY], stream, end_s=10)
    assert [d.action for d in report.decisions] == ["unready", "ready"]
    assert report.decisions[-1].at_s == 9  # the second success in a row, not the first


def test_still_out_at_the_end_counts_to_the_end() -> None:
    report = replay([READY], attempts("readiness", "oosss"), end_s=20)
    assert report.out_of_rotation_s == pytest.approx(17)  # from 3 to 20
    assert report.decisions[-1].text == "readiness: out of the Service's endpoints from 00:03 to the end (00:20, 17 s)"


def test_a_pod_still_starting_was_never_in_rotation() -> None:
    report = replay([READY], attempts("readiness", "sssss" + "oo"), end_s=10)
    assert report.out_of_rotation_s == 0
    assert report.decisions == ()


def test_startup_gates_liveness_and_readiness() -> None:
    kubelet = Kubelet((START, LIVE, READY))
    assert kubelet.active("startup") and not kubelet.active("liveness") and not kubelet.active("readiness")
    # Liveness failures while startup has not passed are not the kubelet's to act on.
    assert [d for a in attempts("liveness", "tttt") for d in kubelet.observe(a)] == []
    (started,) = kubelet.observe(attempts("startup", "o", start=5)[0])
    assert started.action == "started"
    assert kubelet.active("liveness") and kubelet.active("readiness") and not kubelet.active("startup")
    (restart,) = [d for a in attempts("liveness", "ttt", start=6) for d in kubelet.observe(a)]
    assert restart.action == "restart"
    kubelet.restarted(10)
    assert kubelet.active("startup") and not kubelet.active("liveness")  # startup gates again after a restart


def test_startup_that_never_passes_restarts() -> None:
    report = replay([START, LIVE], attempts("startup", "rrr"), end_s=5)
    assert report.restarts == 1
    assert report.decisions[0].text.startswith("startup failed 3 times in a row at 00:02")


def test_a_restart_takes_a_ready_pod_out_of_rotation() -> None:
    kubelet = Kubelet((LIVE, READY))
    for attempt in attempts("readiness", "oo"):
        kubelet.observe(attempt)
    for attempt in attempts("liveness", "ttt", start=2):
        for decision in kubelet.observe(attempt):
            kubelet.restarted(decision.at_s + 2)
    for attempt in attempts("readiness", "oo", start=10):
        kubelet.observe(attempt)
    report = kubelet.finish(20)
    assert report.out_of_rotation_s == pytest.approx(11 - 5)  # down at 5, ready again at the 2nd success (11)


def test_without_a_readiness_probe_a_restart_is_the_time_out() -> None:
    kubelet = Kubelet((LIVE,))
    for attempt in attempts("liveness", "ottt"):
        for decision in kubelet.observe(attempt):
            kubelet.restarted(decision.at_s + 3)
    report = kubelet.finish(20)
    assert report.out_of_rotation_s == pytest.approx(3)
    assert report.decisions[-1].text == "restart: out of the Service's endpoints from 00:04 to 00:07 (3.0 s)"


def test_counts_and_json() -> None:
    stream = attempts("liveness", "otsre") + attempts("readiness", "oo", start=0.5)
    report = replay([LIVE, READY], sorted(stream, key=lambda a: a.sent_at_s), end_s=6)
    assert report.counts == {
        "liveness": {"ok": 1, "timeout": 1, "status": 1, "refused": 1, "error": 1},
        "readiness": {"ok": 2, "timeout": 0, "status": 0, "refused": 0, "error": 0},
    }
    data = json.loads(json.dumps(report.to_json()))
    assert len(data["probes"]) == 7
    assert data["probes"][1] == {"kind": "readiness", "path": "/p", "sent_at_s": 0.5, "status": 200, "outcome": "ok"}
    assert data["probes"][2]["status"] is None and data["probes"][2]["outcome"] == "timeout"
    assert data["kubelet"]["restarts"] == 1
    assert data["kubelet"]["out_of_rotation_s"] > 0
    assert set(data["kubelet"]["decisions"][0]) == {"at_s", "kind", "action", "text"}


def test_the_report_in_sentences() -> None:
    stream = attempts("readiness", "oossssoo", start=0.5) + attempts("liveness", "oootttt")
    report = replay([LIVE, READY], sorted(stream, key=lambda a: a.sent_at_s), end_s=10)
    assert report.lines() == [
        "liveness: 3 passed, 4 timed out",
        "readiness: 4 passed, 4 bad status",
        "readiness failed 2 times in a row at 00:03: out of the Service's endpoints",
        "liveness failed 3 times in a row at 00:06: the kubelet restarts the container (restart 1)",
        # Back at the second success in a row after the restart (6.5 and 7.5): out from 3.5 to 7.5.
        "readiness: out of the Service's endpoints from 00:03 to 00:07 (4.0 s)",
        "1 restart, out of the Service's endpoints for 4.0 s",
    ]


@pytest.mark.parametrize(("seconds", "text"), [(0, "00:00"), (31.9, "00:31"), (75, "01:15"), (-1, "00:00")])
def test_clock_text(seconds: float, text: str) -> None:
    assert clock_text(seconds) == text


def test_a_restart_done_at_once_is_counted_not_said() -> None:
    """Without --restart the prober restarts the model at once (no back-off the first time): back in rotation a
    few milliseconds later is not a sentence ("out from 00:02 to 00:02 (0.0 s)"); after a back-off it is."""
    kubelet = Kubelet((ProbeSpec("liveness", "/health", period_s=1.0),))
    decisions = [d for a in attempts("liveness", "ttt") for d in kubelet.observe(a)]
    [restart] = decisions
    kubelet.restarted(restart.at_s + 0.003)
    assert [d.action for d in kubelet.decisions] == ["restart"]
    second = [d for a in attempts("liveness", "ttt", start=5.0) for d in kubelet.observe(a)]
    assert second[0].backoff_s == 10.0
    kubelet.restarted(second[0].at_s + second[0].backoff_s)
    assert [d.action for d in kubelet.decisions] == ["restart", "restart", "ready"]
    assert "(10 s)" in kubelet.decisions[-1].text
