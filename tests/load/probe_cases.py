"""Bad probe specs and manifests, each with the words of its one-line message.

Read by tests/load/test_probes.py (the library) and tests/cli/test_load.py (the same mistakes through `lab load`),
with `runpy.run_path`: the tests are not a package.
"""

from __future__ import annotations


def pod_template(kind: str, probe: str = "livenessProbe: {httpGet: {path: /health, port: 8000}}") -> str:
    pod = f"containers:\n  - name: app\n    {probe}\n"
    nested = {
        "Pod": ("spec",),
        "StatefulSet": ("spec", "template", "spec"),
        "DaemonSet": ("spec", "template", "spec"),
        "Job": ("spec", "template", "spec"),
        "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    }[kind]
    text = f"kind: {kind}\nmetadata: {{name: x}}\n"
    for depth, key in enumerate(nested):
        text += "  " * depth + f"{key}:\n"
    return text + "".join("  " * len(nested) + line + "\n" for line in pod.splitlines())


BAD_PROBES = [
    ("health=/health", "unknown kind 'health'"),
    ("liveness", "expected kind=/path"),
    ("=/health", "expected kind=/path"),
    ("liveness=health", "must start with /"),
    ("liveness=", "must start with /"),
    ("liveness=/health,interval=2s", "unknown key 'interval'"),
    ("liveness=/health,period", "period needs a value"),
    ("liveness=/health,period=0", "period must be more than 0"),
    ("liveness=/health,timeout=0s", "timeout must be more than 0"),
    ("liveness=/health,period=-2s", "period must be more than 0"),
    ("liveness=/health,failures=0", "failures must be at least 1"),
    ("liveness=/health,failures=-1", "failures must be at least 1"),
    ("liveness=/health,failures=2.5", "is not a whole number"),
    ("readiness=/ready,successes=0", "successes must be at least 1"),
    ("liveness=/health,successes=2", "successes must be 1"),
    ("startup=/health,successes=3", "successes must be 1"),
    ("liveness=/health,period=2s,period=3s", "period given twice"),
]

BAD_MANIFESTS = [
    ("kind: Deployment\nspec: {template: {spec: {containers: [{name: a}]}}}\n", "no livenessProbe"),
    ("kind: ConfigMap\ndata: {a: b}\n", "no livenessProbe"),
    ("", "no livenessProbe"),
    ("kind: Pod\nspec:\n  containers: [\n", "YAML does not parse at line 4"),
    ("kind: Pod\n\tspec: {}\n", "YAML does not parse at line 2"),
    (pod_template("Pod", "livenessProbe: {exec: {command: [cat, /tmp/ok]}}"), "only httpGet probes are replayed"),
    (pod_template("Pod", "readinessProbe: {tcpSocket: {port: 80}}"), "tcpSocket probe: only httpGet"),
    (pod_template("Pod", "startupProbe: {grpc: {port: 80}}"), "grpc probe: only httpGet"),
    (pod_template("Pod", "livenessProbe: {periodSeconds: 3}"), "has no httpGet"),
    (pod_template("Pod", "livenessProbe: {httpGet: {path: /h, port: web}}"), "'web' is not a named port"),
    (pod_template("Pod", "livenessProbe: {httpGet: {path: /h}}"), "httpGet has no port"),
    (pod_template("Pod", "livenessProbe: {httpGet: {path: h, port: 80}}"), "must start with /"),
    (pod_template("Pod", "livenessProbe: {httpGet: {path: /h, port: 80, scheme: HTTPS}}"), "plain HTTP"),
    (pod_template("Pod", "livenessProbe: {httpGet: {path: /h, port: 80}, periodSeconds: -1}"), "negative"),
    (pod_template("Pod", "livenessProbe: {httpGet: {path: /h, port: 80}, periodSeconds: 2s}"), "whole number"),
    (pod_template("Pod", "livenessProbe: {httpGet: {path: /h, port: 80}, successThreshold: 2}"), "must be 1"),
]
