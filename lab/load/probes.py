"""Probe specs, as the kubelet reads them: typed on the command line or taken from a Kubernetes manifest (pure).

    parse_probe("readiness=/ready,period=2s,timeout=1s,failures=3")    # --probe
    parse_probes(["liveness=/health", "readiness=/ready"])             # several, no kind twice
    probes_from_manifest("deploy.yaml", container=None)                # --probes-from, --container

Defaults are Kubernetes' own (the Probe API): period 10 s, timeout 1 s, failureThreshold 3,
successThreshold 1, initialDelaySeconds 0, and the pod's terminationGracePeriodSeconds 30.

Two choices the API leaves open, made here on purpose:
- a timeout longer than the period is allowed, as Kubernetes allows it (its validation checks each field on
  its own): the kubelet's worker probes one attempt at a time, so the next attempt waits for a slow one to end.
- the command line takes sub-second durations (`500ms`), so a lab run can show in seconds what a pod shows in
  minutes; a manifest is read in whole seconds, as the kubelet does, and 0 there means the default (API defaulting).

A manifest whose probes are in several containers is ambiguous: the lab replays one container, the one named by
`container=`, and otherwise says which names there are (`--container NAME`), rather than guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lab.errors import LabError
from lab.load.rates import parse_seconds

__all__ = [
    "DEFAULT_GRACE_S",
    "KINDS",
    "ManifestProbes",
    "ProbeKind",
    "ProbeSpec",
    "parse_probe",
    "parse_probes",
    "probes_from_manifest",
]

ProbeKind = Literal["liveness", "readiness", "startup"]
KINDS: tuple[ProbeKind, ...] = ("startup", "liveness", "readiness")
DEFAULT_GRACE_S = 30.0  # a pod's terminationGracePeriodSeconds when its manifest does not say
MANIFEST_FIELDS = {"liveness": "livenessProbe", "readiness": "readinessProbe", "startup": "startupProbe"}
OTHER_HANDLERS = ("exec", "tcpSocket", "grpc")
# Workload kinds and where each keeps its pod spec (a CronJob's is one level deeper).
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_DURATION_KEYS = ("period", "timeout", "initial-delay")
_KEYS = {
    "period": "period_s",
    "timeout": "timeout_s",
    "failures": "failures",
    "successes": "successes",
    "initial-delay": "initial_delay_s",
}


@dataclass(frozen=True)
class ProbeSpec:
    """One probe: what the kubelet sends (GET `path`) and how it judges.

    `port` is the manifest's, kept to be reported: the prober sends every probe to the server under test,
    which stands for the pod (a lab server listens on a port of its own choosing, not the manifest's).
    """

    kind: ProbeKind
    path: str
    port: int | None = None
    period_s: float = 10.0
    timeout_s: float = 1.0
    failures: int = 3  # failureThreshold: consecutive failures before the kubelet acts
    successes: int = 1  # successThreshold: consecutive successes to count as passing again
    initial_delay_s: float = 0.0

    def __post_init__(self) -> None:
        _check_spec(self)

    def describe(self) -> str:
        """`readiness GET /ready every 2 s, timeout 1 s, 3 failures`: the spec in one line."""
        port = f" on port {self.port}" if self.port is not None else ""
        delay = f", after {self.initial_delay_s:g} s" if self.initial_delay_s else ""
        return (
            f"{self.kind} GET {self.path}{port} every {self.period_s:g} s, timeout {self.timeout_s:g} s, "
            f"{self.failures} failure{'s' if self.failures != 1 else ''}{delay}"
        )


def _check_spec(spec: ProbeSpec) -> None:
    if spec.kind not in KINDS:
        raise LabError(f"unknown probe kind {spec.kind!r}: use liveness, readiness or startup", usage=True)
    if not spec.path.startswith("/"):
        raise LabError(f"{spec.kind} probe path {spec.path!r} must start with /", usage=True)
    for name, value in (("period", spec.period_s), ("timeout", spec.timeout_s)):
        if not value > 0:
            raise LabError(f"{spec.kind} probe {name} must be more than 0 (got {value:g})", usage=True)
    for name, count in (("failures", spec.failures), ("successes", spec.successes)):
        if count < 1:
            raise LabError(f"{spec.kind} probe {name} must be at least 1 (got {count})", usage=True)
    if spec.initial_delay_s < 0:
        raise LabError(f"{spec.kind} probe initial-delay cannot be negative (got {spec.initial_delay_s:g})", usage=True)
    if spec.successes != 1 and spec.kind != "readiness":
        # Kubernetes rejects it too: a liveness or startup probe passes on its first success.
        raise LabError(f"{spec.kind} probe successes must be 1 (only readiness can ask for more)", usage=True)
    if spec.port is not None and not 0 < spec.port < 65536:
        raise LabError(f"{spec.kind} probe port {spec.port} is not a TCP port", usage=True)


def _parse_count(text: str, what: str) -> int:
    if not re.fullmatch(r"\s*-?\d+\s*", text):
        raise LabError(f"{what}: {text!r} is not a whole number", usage=True)
    return int(text)


def parse_probe(text: str) -> ProbeSpec:
    """`kind=/path[,period=2s][,timeout=1s][,failures=3][,successes=1][,initial-delay=5s]` -> a `ProbeSpec`."""
    head, *options = [part.strip() for part in text.split(",")]
    kind, equals, path = head.partition("=")
    kind = kind.strip()
    if not equals or not kind:
        raise LabError(f"probe {text!r}: expected kind=/path, e.g. liveness=/health", usage=True)
    if kind not in KINDS:
        raise LabError(f"probe {text!r}: unknown kind {kind!r} (use liveness, readiness or startup)", usage=True)
    fields: dict[str, Any] = {}
    for option in options:
        key, equals, value = (part.strip() for part in option.partition("="))
        if key not in _KEYS:
            known = ", ".join(_KEYS)
            raise LabError(f"probe {text!r}: unknown key {key!r} (known: {known})", usage=True)
        if not equals or not value:
            raise LabError(f"probe {text!r}: {key} needs a value ({key}=...)", usage=True)
        if _KEYS[key] in fields:
            raise LabError(f"probe {text!r}: {key} given twice", usage=True)
        what = f"probe {kind} {key}"
        fields[_KEYS[key]] = parse_seconds(value, what) if key in _DURATION_KEYS else _parse_count(value, what)
    return ProbeSpec(kind, path.strip(), **fields)  # kind is checked against KINDS above


def parse_probes(texts: Iterable[str]) -> tuple[ProbeSpec, ...]:
    """Every `--probe`, at most one of each kind (the kubelet runs one probe of each kind per container)."""
    specs = tuple(parse_probe(text) for text in texts)
    _no_kind_twice(specs, "--probe")
    return specs


def _no_kind_twice(specs: Iterable[ProbeSpec], where: str) -> None:
    seen: set[str] = set()
    for spec in specs:
        if spec.kind in seen:
            raise LabError(f"{where}: two {spec.kind} probes (one of each kind per container)", usage=True)
        seen.add(spec.kind)


@dataclass(frozen=True)
class ManifestProbes:
    """What a manifest says the kubelet does to one container: its probes and its grace period."""

    container: str
    probes: tuple[ProbeSpec, ...]
    grace_period_s: float = DEFAULT_GRACE_S
    source: str = ""  # `deploy.yaml: Deployment/api`


@dataclass(frozen=True)
class _Container:
    where: str  # `Deployment/api`
    spec: Mapping[str, Any]
    grace_period_s: float


def probes_from_manifest(path: str | Path, container: str | None = None) -> ManifestProbes:
    """The httpGet probes of one container of a Deployment, StatefulSet, DaemonSet, Job, CronJob or Pod manifest."""
    file = Path(path)
    documents = _load_documents(file)
    candidates = [c for c in _containers(documents, file) if any(field in c.spec for field in MANIFEST_FIELDS.values())]
    if container is not None:
        candidates = [c for c in candidates if c.spec.get("name") == container]
        if not candidates:
            raise LabError(f"{file}: no container named {container!r} has probes", usage=True)
    if not candidates:
        raise LabError(f"{file}: no livenessProbe, readinessProbe or startupProbe found", usage=True)
    if len(candidates) > 1:
        names = ", ".join(f"{c.where} {c.spec.get('name', '?')}" for c in candidates)
        message = f"{file}: several containers have probes ({names}): choose one with --container NAME"
        raise LabError(message, usage=True)
    chosen = candidates[0]
    name = str(chosen.spec.get("name", ""))
    where = f"{file}: {chosen.where} container {name}"
    probes = tuple(
        _probe_from_field(kind, chosen.spec[field], chosen.spec, where)
        for kind, field in MANIFEST_FIELDS.items()
        if field in chosen.spec
    )
    return ManifestProbes(name, probes, chosen.grace_period_s, f"{file}: {chosen.where}")


def _load_documents(file: Path) -> list[Any]:
    import yaml  # here: only `--probes-from` needs it

    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LabError(f"{file}: no such file", usage=True) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabError(f"{file}: cannot be read ({exc})", usage=True) from None
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise LabError(f"{file}: YAML does not parse{line}: {problem}", usage=True) from None


def _containers(documents: Iterable[Any], file: Path) -> Iterator[_Container]:
    for document in documents:
        if not isinstance(document, Mapping):
            continue
        kind = str(document.get("kind", ""))
        if kind == "List":  # `kubectl get -o yaml` wraps several objects in one
            yield from _containers(document.get("items") or [], file)
            continue
        pod = _dig(document, POD_SPEC_PATHS.get(kind))
        if pod is None:
            continue
        metadata = _dig(document, ("metadata",))
        name = metadata.get("name") if metadata is not None else None
        grace = _seconds(pod.get("terminationGracePeriodSeconds"), DEFAULT_GRACE_S, f"{file}: {kind}", zero_ok=True)
        for spec in pod.get("containers") or []:
            if isinstance(spec, Mapping):
                yield _Container(f"{kind}/{name or '?'}", spec, grace)


def _dig(document: Mapping[str, Any], path: tuple[str, ...] | None) -> Mapping[str, Any] | None:
    node: Any = document
    for key in path or ():
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if path is not None and isinstance(node, Mapping) else None


def _probe_from_field(kind: str, probe: Any, container: Mapping[str, Any], where: str) -> ProbeSpec:
    field = MANIFEST_FIELDS[kind]
    if not isinstance(probe, Mapping):
        raise LabError(f"{where}: {field} is not a mapping", usage=True)
    other = next((handler for handler in OTHER_HANDLERS if handler in probe), None)
    if other is not None:
        raise LabError(f"{where}: {field} is an {other} probe: only httpGet probes are replayed", usage=True)
    http = probe.get("httpGet")
    if not isinstance(http, Mapping):
        raise LabError(f"{where}: {field} has no httpGet: only httpGet probes are replayed", usage=True)
    if str(http.get("scheme", "HTTP")).upper() != "HTTP":
        raise LabError(f"{where}: {field} uses {http.get('scheme')}: the lab replays plain HTTP only", usage=True)
    what = f"{where}: {field}"
    return ProbeSpec(
        kind,  # type: ignore[arg-type] # one of MANIFEST_FIELDS' keys
        str(http.get("path") or "/"),  # the API's default path is /
        _port(http.get("port"), container, what),
        period_s=_seconds(probe.get("periodSeconds"), 10, f"{what}.periodSeconds"),
        timeout_s=_seconds(probe.get("timeoutSeconds"), 1, f"{what}.timeoutSeconds"),
        failures=int(_seconds(probe.get("failureThreshold"), 3, f"{what}.failureThreshold")),
        successes=int(_seconds(probe.get("successThreshold"), 1, f"{what}.successThreshold")),
        initial_delay_s=_seconds(probe.get("initialDelaySeconds"), 0, f"{what}.initialDelaySeconds", zero_ok=True),
    )


def _seconds(value: Any, default: float, what: str, *, zero_ok: bool = False) -> float:
    """A manifest's whole number; absent (or 0, where API defaulting fills it in) means the default."""
    if value is None:
        return float(default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise LabError(f"{what}: {value!r} is not a whole number", usage=True)
    if value < 0:
        raise LabError(f"{what}: {value} cannot be negative", usage=True)
    return float(value) if value or zero_ok else float(default)


def _port(value: Any, container: Mapping[str, Any], what: str) -> int:
    """httpGet's port: a number, or the name of one of the container's `ports`."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, str):
        for port in container.get("ports") or []:
            if isinstance(port, Mapping) and port.get("name") == value and isinstance(port.get("containerPort"), int):
                return int(port["containerPort"])
        raise LabError(f"{what}: port {value!r} is not a named port of the container", usage=True)
    raise LabError(f"{what}: httpGet has no port", usage=True)
