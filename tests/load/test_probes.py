"""Probe specs: every form a user types on the command line, and the manifests they already have."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.load.probes import DEFAULT_GRACE_S, ProbeSpec, parse_probe, parse_probes, probes_from_manifest
from lab.load.rates import parse_seconds

# The bad specs and manifests, shared with the CLI's tests (tests/cli/test_load.py): one list, two layers.
CASES = runpy.run_path(str(Path(__file__).with_name("probe_cases.py")))
pod_template = CASES["pod_template"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2s", 2.0), ("500ms", 0.5), ("1m", 60.0), ("3", 3.0), ("1.5s", 1.5), (" 2s ", 2.0), ("0", 0.0), ("-1s", -1.0)],
)
def test_durations(text: str, seconds: float) -> None:
    # One reader for every duration (lab.load.rates); each caller bounds the value (a negative period is below).
    assert parse_seconds(text, "period") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "two", "1e3", "2 s s", "nan"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(LabError, match="is not a duration") as caught:
        parse_seconds(text, "period")
    assert caught.value.usage


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("liveness=/health", ProbeSpec("liveness", "/health")),
        (
            "readiness=/ready,period=2s,timeout=1s,failures=3,successes=1,initial-delay=5s",
            ProbeSpec("readiness", "/ready", period_s=2, timeout_s=1, failures=3, successes=1, initial_delay_s=5),
        ),
        ("readiness=/ready, successes=2", ProbeSpec("readiness", "/ready", successes=2)),
        ("startup=/health,period=500ms,failures=30", ProbeSpec("startup", "/health", period_s=0.5, failures=30)),
        # Kubernetes allows a timeout longer than the period: the next attempt waits for a slow one to end.
        ("liveness=/health,period=1s,timeout=5s", ProbeSpec("liveness", "/health", period_s=1, timeout_s=5)),
        ("liveness=/lab/stats?x=1", ProbeSpec("liveness", "/lab/stats?x=1")),
    ],
)
def test_probe_forms(text: str, expected: ProbeSpec) -> None:
    assert parse_probe(text) == expected


def test_defaults_are_kubernetes_own() -> None:
    spec = parse_probe("liveness=/health")
    assert (spec.period_s, spec.timeout_s, spec.failures, spec.successes, spec.initial_delay_s) == (10, 1, 3, 1, 0)
    assert spec.port is None


@pytest.mark.parametrize(("text", "message"), CASES["BAD_PROBES"])
def test_bad_probes(text: str, message: str) -> None:
    with pytest.raises(LabError, match=message) as caught:
        parse_probe(text)
    assert caught.value.usage
    assert "\n" not in str(caught.value)


def test_several_probes_one_of_each_kind() -> None:
    specs = parse_probes(["liveness=/health", "readiness=/ready,period=2s"])
    assert [s.kind for s in specs] == ["liveness", "readiness"]
    with pytest.raises(LabError, match="two liveness probes") as caught:
        parse_probes(["liveness=/health", "liveness=/live"])
    assert caught.value.usage


DEPLOYMENT = """\
apiVersion: v1
kind: Service
metadata: {name: api}
spec: {ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template:
    spec:
      terminationGracePeriodSeconds: 45
      containers:
        - name: web
          ports: [{name: http, containerPort: 8080}]
          livenessProbe:
            httpGet: {path: /health, port: http}
            periodSeconds: 5
            timeoutSeconds: 2
          readinessProbe:
            httpGet: {path: /ready, port: 8080}
            failureThreshold: 2
            successThreshold: 2
            initialDelaySeconds: 3
          startupProbe:
            httpGet: {path: /health, port: "8080"}
            failureThreshold: 30
            periodSeconds: 1
"""


def write(tmp_path: Path, text: str, name: str = "deploy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_deployment_with_three_probes(tmp_path: Path) -> None:
    found = probes_from_manifest(write(tmp_path, DEPLOYMENT))
    assert found.container == "web"
    assert found.grace_period_s == 45
    assert found.probes == (
        ProbeSpec("liveness", "/health", 8080, period_s=5, timeout_s=2),
        ProbeSpec("readiness", "/ready", 8080, failures=2, successes=2, initial_delay_s=3),
        ProbeSpec("startup", "/health", 8080, period_s=1, failures=30),
    )
    assert "Deployment/api" in found.source


@pytest.mark.parametrize("kind", ["Pod", "StatefulSet", "DaemonSet", "Job", "CronJob"])
def test_every_workload_kind(tmp_path: Path, kind: str) -> None:
    found = probes_from_manifest(write(tmp_path, pod_template(kind)))
    assert found.probes == (ProbeSpec("liveness", "/health", 8000),)
    assert found.grace_period_s == DEFAULT_GRACE_S


def test_zero_in_a_manifest_means_the_default(tmp_path: Path) -> None:
    probe = "livenessProbe: {httpGet: {path: /h, port: 80}, periodSeconds: 0, timeoutSeconds: 0, failureThreshold: 0}"
    found = probes_from_manifest(write(tmp_path, pod_template("Pod", probe)))
    assert found.probes == (ProbeSpec("liveness", "/h", 80),)


TWO_CONTAINERS = """\
kind: Pod
metadata: {name: two}
spec:
  containers:
    - name: api
      livenessProbe: {httpGet: {path: /health, port: 8000}}
    - name: sidecar
      readinessProbe: {httpGet: {path: /ready, port: 9000}}
    - name: quiet
"""


def test_several_containers_need_a_name(tmp_path: Path) -> None:
    path = write(tmp_path, TWO_CONTAINERS)
    with pytest.raises(LabError, match=r"Pod/two api, Pod/two sidecar.*--container NAME") as caught:
        probes_from_manifest(path)
    assert caught.value.usage
    assert probes_from_manifest(path, container="sidecar").probes == (ProbeSpec("readiness", "/ready", 9000),)
    with pytest.raises(LabError, match="no container named 'quiet' has probes"):
        probes_from_manifest(path, container="quiet")


@pytest.mark.parametrize(("text", "message"), CASES["BAD_MANIFESTS"])
def test_bad_manifests(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(LabError, match=message) as caught:
        probes_from_manifest(write(tmp_path, text))
    assert caught.value.usage
    assert "\n" not in str(caught.value)


def test_a_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="no such file") as caught:
        probes_from_manifest(tmp_path / "absent.yaml")
    assert caught.value.usage


def test_a_kubectl_list(tmp_path: Path) -> None:
    listed = "kind: List\nitems:\n  - " + pod_template("Pod").replace("\n", "\n    ").rstrip() + "\n"
    assert probes_from_manifest(write(tmp_path, listed)).probes == (ProbeSpec("liveness", "/health", 8000),)
