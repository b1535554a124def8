"""Steady traffic with the kubelet beside it: the losses a restart caused, the plan read from the options, and a
short run against a real lab server (one time axis, the JSON beside the latency figures, the report, the plot)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from lab.errors import LabError
from lab.load.probed import LOST_SLACK_S, Losses, ProbePlan, probe_plan, run_probed
from lab.load.probes import DEFAULT_GRACE_S, parse_probes
from lab.load.restart import Downtime
from lab.load.steady import SteadyPlan


def test_losses_count_what_was_cut_or_refused_in_the_window() -> None:
    losses = Losses()
    for end_s, outcome in [
        (0.5, "refused"),  # before the window
        (2.05, "reset"),  # cut at the SIGTERM
        (2.5, "refused"),  # nothing listening
        (2.6, "200"),  # answered: not lost
        (2.7, "503"),  # an answer, however bad: the server was there
        (3.0, "timeout"),  # slow, not lost to the restart
        (3.0 + LOST_SLACK_S - 0.05, "reset"),  # a kept-alive connection to the old process, first used after
        (6.0, "refused"),  # long after
    ]:
        losses.done(end_s, outcome)
    restart = losses.of(Downtime(1, down_at=102.0, up_at=103.0, killed=True, ended="x", pid=7), t0=100.0)
    assert (restart.down_at_s, restart.up_at_s) == (2.0, 3.0)
    assert restart.lost == 3
    assert "3 requests lost" in restart.sentence(grace_s=5)
    assert "SIGKILL after the 5 s grace period" in restart.sentence(grace_s=5)


MANIFEST = """\
kind: Deployment
metadata: {name: api}
spec:
  template:
    spec:
      terminationGracePeriodSeconds: 12
      containers:
        - name: web
          livenessProbe: {httpGet: {path: /health, port: 8080}, periodSeconds: 2}
"""


def test_the_grace_period_is_the_option_then_the_manifest_then_kubernetes(tmp_path: Path) -> None:
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    assert probe_plan([], None) is None  # no probes: a plain steady run
    assert probe_plan(["liveness=/health"]) == ProbePlan(parse_probes(["liveness=/health"]), grace_s=DEFAULT_GRACE_S)
    from_manifest = probe_plan([], str(manifest))
    assert from_manifest is not None and from_manifest.grace_s == 12
    assert from_manifest.source.endswith("Deployment/api container web")
    chosen = probe_plan([], str(manifest), "web", restart=True, grace="500ms", served=True)
    assert chosen is not None and chosen.grace_s == 0.5 and chosen.restart


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"restart": True}, "--restart needs --serve APP"),
        ({"restart": True, "served": True, "probes": []}, "--restart needs probes"),
        ({"grace": "-1s"}, "--grace must be between 0 and 10 min"),
        ({"grace": "soon"}, "--grace 'soon' is not a duration"),
        ({"container": "web"}, "--container names a container"),
    ],
)
def test_plan_mistakes_are_one_usage_line(kwargs: dict[str, object], words: str) -> None:
    args = {"probes": ["liveness=/health"], **kwargs}
    with pytest.raises(LabError, match=words) as caught:
        probe_plan(**args)  # type: ignore[arg-type]
    assert caught.value.usage


def test_a_served_restart_needs_a_server() -> None:
    with pytest.raises(LabError, match="a server the lab did not start cannot be restarted"):
        ProbePlan(parse_probes(["liveness=/health"]), restart=True).check(None)


def test_a_healthy_server_under_steady_traffic(lab_url: str) -> None:
    """An idle lab server's `async def /health` passes every probe: no decision, nothing out of rotation."""
    probes = ProbePlan(parse_probes(["liveness=/health,period=500ms", "readiness=/health,period=500ms"]))
    result = run_probed(SteadyPlan(f"{lab_url}/health", rate=20, duration_s=2), probes)
    kubelet = result.kubelet
    assert kubelet.restarts == 0 and kubelet.out_of_rotation_s == 0
    assert kubelet.counts["liveness"]["ok"] >= 3 and kubelet.counts["readiness"]["ok"] >= 3
    assert sum(kubelet.counts["liveness"].values()) == kubelet.counts["liveness"]["ok"]
    # One time axis: the probes start with the schedule, not before it, and not long after.
    first = min(attempt.sent_at_s for attempt in kubelet.attempts)
    assert 0 <= first < 1
    data = result.to_json()
    assert data["sent"] == 40 and data["errors"] == {}
    assert {"p50", "p99"} <= set(data["latency_ms"]) and "p99" in data["schedule_lag_ms"]
    assert data["achieved_rate"] > 0
    assert {a["kind"] for a in data["probes"]} == {"liveness", "readiness"}
    assert {"kind", "path", "sent_at_s", "status", "outcome"} == set(data["probes"][0])
    assert data["kubelet"]["restarts"] == 0 and data["kubelet"]["out_of_rotation_s"] == 0
    assert data["kubelet"]["decisions"] == [] and data["kubelet"]["restarts_done"] == []
    assert data["kubelet"]["would_have"] == [
        "Without --restart nothing was stopped, and the kubelet would not have restarted it either."
    ]
    console = Console(width=120, record=True, color_system=None)
    console.print(result)
    text = console.export_text()
    assert "liveness GET /health every 0.5 s" in text and "The kubelet took no action" in text

    from lab.view import plot

    figure = plot.probe_timeline(result)
    latency_ax, probe_ax = figure.axes
    assert [label.get_text() for label in probe_ax.get_yticklabels()] == ["liveness", "readiness"]


# Its liveness always fails; its second process dies at start-up: the restart cannot bring it back.
ONCE_ONLY = """\
import os
from pathlib import Path

from fastapi import FastAPI, Response

MARKER = Path(os.environ["LAB_TEST_MARKER"])
if MARKER.exists():
    raise SystemExit("this app starts once")
MARKER.write_text("ran")
app = FastAPI()


@app.get("/health")
async def health() -> Response:
    return Response(status_code=500)
"""


def test_a_restart_that_cannot_bring_the_server_back_is_reported_with_the_run(tmp_path: Path) -> None:
    from lab.launch.process import ServerProcess

    app_file = tmp_path / "once_only.py"
    app_file.write_text(ONCE_ONLY, encoding="utf-8")
    probes = ProbePlan(parse_probes(["liveness=/health,period=500ms,failures=2"]), restart=True, grace_s=0)
    with ServerProcess(str(app_file), env={"LAB_TEST_MARKER": str(tmp_path / "marker")}) as server:
        result = run_probed(SteadyPlan(f"{server.url}/health", rate=10, duration_s=4), probes, server)
    assert result.kubelet.restarts >= 1
    assert result.restarts == ()  # nothing came back...
    [failure] = result.restart_failures  # ...and the run says why, in one line, instead of raising
    assert failure.startswith("restart 1 failed:") and "starts once" in failure and "\n" not in failure
    assert result.steady.report.errors.get("refused", 0) > 0  # the traffic met a closed port after it
    assert result.to_json()["kubelet"]["restart_failures"] == [failure]
