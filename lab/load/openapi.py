"""Which requests `lab scan` sends: one per operation of an app's OpenAPI schema, valid for that schema.

    plan = plan_requests(schema, Choices(methods=("GET", "HEAD")))   # plan.requests, plan.not_scanned

Values come, in order, from what the user gave (`--param name=value`, `--body 'METHOD /path' JSON`: they win,
since they are given precisely when a generated value was not good enough), the schema's own `example` /
`examples`, and else a small valid instance drawn from the JSON Schema by hypothesis-jsonschema, deterministically
(Hypothesis' `find` shrinks to the simplest instance: the same schema always gives the same value). `$ref`s are
resolved against `components/schemas` first. Only required query, header and path parameters are filled in, and
those given by hand.
Pure, apart from the generation's imports (Hypothesis costs ~0.5 s to import, so only when a value is drawn).
"""

from __future__ import annotations

import fnmatch
import json
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from lab.errors import LabError
from lab.protocol import RESET_PATH, STATS_PATH

__all__ = [
    "Choices",
    "Plan",
    "PlannedRequest",
    "Skipped",
    "parse_body",
    "parse_param",
    "plan_requests",
    "prepare_generation",
    "selected",
]

HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete", "options")
DEFAULT_METHODS = ("GET", "HEAD")
JSON_TYPES = ("application/json",)
LAB_PATHS = (STATS_PATH, RESET_PATH, "/metrics")
MAX_REF_DEPTH = 8  # a recursive schema (a tree of nodes) is cut here: the simplest instance needs no depth


@dataclass(frozen=True)
class Choices:
    """What the user asked for: the methods to send, path patterns, and values given by hand."""

    methods: tuple[str, ...] = DEFAULT_METHODS
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    params: Mapping[str, str] = field(default_factory=dict)
    bodies: Mapping[str, Any] = field(default_factory=dict)  # "POST /items/{id}" -> JSON value


@dataclass(frozen=True)
class PlannedRequest:
    method: str
    path: str  # the template, as the schema names it: /items/{item_id}
    url_path: str  # with its parameters filled in, and the query string
    json_body: Any
    headers: Mapping[str, str]
    endpoint: str  # the endpoint function's name, as FastAPI puts it at the start of the operation id
    generated: tuple[str, ...] = ()  # which values were drawn from the schema (not given, not an example)


@dataclass(frozen=True)
class Skipped:
    method: str
    path: str
    reason: str


@dataclass(frozen=True)
class Plan:
    requests: list[PlannedRequest]
    skipped: list[Skipped]  # left out on purpose: another method, a body that is not JSON...
    operations: int  # every operation in the schema


def parse_param(text: str) -> tuple[str, str]:
    """`name=value` -> (name, value), or a usage error saying how to write it."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise LabError(f"--param {text!r}: write it as name=value (e.g. --param item_id=3)", usage=True)
    return name.strip(), value


def parse_body(text: str) -> tuple[str, Any]:
    """`--body 'POST /items {"a": 1}'` -> ("POST /items", {"a": 1}), or a usage error."""
    method, _, rest = text.strip().partition(" ")
    path, _, body = rest.strip().partition(" ")
    if not path.startswith("/") or method.lower() not in HTTP_METHODS:
        raise LabError(f"--body {text!r}: write it as 'METHOD /path JSON', e.g. 'POST /items {{\"a\": 1}}'", usage=True)
    where = f"{method.upper()} {path}"
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        raise LabError(f"--body for {where}: not valid JSON: {exc.msg} at character {exc.pos}", usage=True) from None
    return where, value


def plan_requests(schema: Mapping[str, Any], choices: Choices) -> Plan:
    """One request per operation of `schema` that `choices` select; the rest listed with the reason.
    The lab's own read-out routes (`/lab/stats`, `/metrics`: the instruments added them) are not the app's."""
    operations = [op for op in _operations(schema) if op[1] not in LAB_PATHS]
    _check_patterns(choices, [path for _, path, _ in operations])
    components = schema.get("components", {}).get("schemas", {})
    requests: list[PlannedRequest] = []
    skipped: list[Skipped] = []
    used: set[str] = set()
    for method, path, operation in operations:
        if not selected(path, choices):
            continue
        if method not in choices.methods:
            skipped.append(Skipped(method, path, f"{method} may change data: add --methods {method} to scan it"))
            continue
        planned = _plan_one(method, path, operation, components, choices, used)
        if isinstance(planned, Skipped):
            skipped.append(planned)
        else:
            requests.append(planned)
    _check_given(choices, used)
    return Plan(requests, skipped, len(operations))


def _operations(schema: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    found: list[tuple[str, str, Mapping[str, Any]]] = []
    for path, item in (schema.get("paths") or {}).items():
        shared = item.get("parameters", [])
        for method in HTTP_METHODS:
            if method in item:
                operation = dict(item[method])
                operation["parameters"] = [*shared, *operation.get("parameters", [])]
                found.append((method.upper(), path, operation))
    return found


def selected(path: str, choices: Choices) -> bool:
    """Whether `--only` / `--skip` keep this path."""
    if choices.only and not any(fnmatch.fnmatchcase(path, p) for p in choices.only):
        return False
    return not any(fnmatch.fnmatchcase(path, p) for p in choices.skip)


def _check_patterns(choices: Choices, paths: Sequence[str]) -> None:
    for option, patterns in (("--only", choices.only), ("--skip", choices.skip)):
        for pattern in patterns:
            if not any(fnmatch.fnmatchcase(path, pattern) for path in paths):
                raise LabError(
                    f"{option} {pattern!r} matches no route of the app's schema (patterns match paths, "
                    "e.g. '/items/*')",
                    usage=True,
                )


def _check_given(choices: Choices, used: set[str]) -> None:
    for name in choices.params:
        if f"param:{name}" not in used:
            raise LabError(f"--param {name}: no scanned route has a parameter named {name!r}", usage=True)
    for where in choices.bodies:
        if f"body:{where}" not in used:
            raise LabError(f"--body {where!r}: no scanned route is {where} (see the paths in /docs)", usage=True)


def _plan_one(
    method: str,
    path: str,
    operation: Mapping[str, Any],
    components: Mapping[str, Any],
    choices: Choices,
    used: set[str],
) -> PlannedRequest | Skipped:
    generated: list[str] = []
    values: dict[str, dict[str, str]] = {"path": {}, "query": {}, "header": {}}
    for parameter in operation.get("parameters", []):
        where, name = parameter.get("in"), parameter.get("name", "")
        if where not in values:
            continue  # cookies are not sent
        if name in choices.params:  # given by hand: sent, even where optional (`--param delay_ms=20`)
            used.add(f"param:{name}")
            values[where][name] = choices.params[name]
            continue
        if not (parameter.get("required") or where == "path"):
            continue  # optional ones keep their defaults
        value, drawn = _value(parameter, resolve(parameter.get("schema", {}), components), nonempty=True)
        values[where][name] = value if isinstance(value, str) else json.dumps(value)
        if drawn:
            generated.append(name)
    body = _body(method, path, operation, components, choices, used, generated)
    if isinstance(body, Skipped):
        return body
    url_path = path
    for name, value in values["path"].items():
        url_path = url_path.replace("{" + name + "}", quote(value, safe=""))
    if values["query"]:
        url_path += "?" + urlencode(values["query"])
    endpoint = _endpoint_name(operation.get("operationId", ""), path, method)
    return PlannedRequest(method, path, url_path, body, values["header"], endpoint, tuple(generated))


_NO_BODY = object()


def _body(
    method: str,
    path: str,
    operation: Mapping[str, Any],
    components: Mapping[str, Any],
    choices: Choices,
    used: set[str],
    generated: list[str],
) -> Any:
    where = f"{method} {path}"
    if where in choices.bodies:
        used.add(f"body:{where}")
        return choices.bodies[where]
    request_body = operation.get("requestBody")
    if not request_body:
        return None
    content = request_body.get("content", {})
    media = next((m for m in JSON_TYPES if m in content), None)
    if media is None:
        kinds = ", ".join(content) or "no media type"
        return Skipped(method, path, f"its body is {kinds}, not JSON: pass one with --body '{where}' JSON")
    value, drawn = _value(content[media], resolve(content[media].get("schema", {}), components))
    if drawn:
        generated.append("body")
    return value


def _value(holder: Mapping[str, Any], schema: Mapping[str, Any], *, nonempty: bool = False) -> tuple[Any, bool]:
    """The schema's own example if it has one (False), else a generated instance (True)."""
    for source in (holder, schema):
        if "example" in source:
            return source["example"], False
        examples = source.get("examples")
        if isinstance(examples, list) and examples:
            return examples[0], False
        if isinstance(examples, Mapping) and examples:
            first = next(iter(examples.values()))
            if isinstance(first, Mapping) and "value" in first:
                return first["value"], False
    return generate(schema, nonempty=nonempty), True


def prepare_generation() -> None:
    """Import the generator (~0.5-1 s), its cache pointed away from the user's project first: Hypothesis
    writes its Unicode tables to `./.hypothesis` by default, as hypothesis-jsonschema is imported."""
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "lab-hypothesis")
    import hypothesis_jsonschema  # noqa: F401


def generate(schema: Mapping[str, Any], *, nonempty: bool = False) -> Any:
    """A simple instance of a (resolved) JSON Schema, the same every time (a derandomized search's first);
    `nonempty`: for a parameter, not "" (a path segment must not be empty), and plain letters or digits
    when the schema allows them.

    Generation only, no shrinking: the first instance is already simple, and shrinking an order with nested
    lines cost 1-2 s, against ~0.1 s (plus ~1 s the first time, as Hypothesis warms up)."""
    prepare_generation()
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample, Unsatisfiable
    from hypothesis_jsonschema import from_schema

    quiet = settings(
        database=None,  # no .hypothesis/ folder in the user's project
        deadline=None,
        max_examples=200,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
    )
    tries = (_plain, _filled) if nonempty else (_anything,)
    for condition in tries:
        try:
            return find(from_schema(dict(schema)), condition, settings=quiet)
        except (NoSuchExample, Unsatisfiable):
            continue
        except (ValueError, TypeError) as exc:  # hypothesis-jsonschema's word for a schema it cannot read
            raise LabError(f"cannot draw a value from the schema {json.dumps(schema)[:120]}: {exc}") from None
    raise LabError(f"cannot draw a value from the schema {json.dumps(schema)[:120]}: pass one with --param/--body")


def _anything(value: Any) -> bool:
    return True


def _filled(value: Any) -> bool:
    return value not in ("", None)


def _plain(value: Any) -> bool:
    return _filled(value) and (not isinstance(value, str) or value.isascii() and value.isalnum())


def resolve(schema: Any, components: Mapping[str, Any], depth: int = 0) -> Any:
    """`schema` with every `#/components/schemas/...` reference replaced by what it names."""
    if isinstance(schema, list):
        return [resolve(item, components, depth) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        if depth >= MAX_REF_DEPTH:
            return {}
        return resolve(components.get(ref.rsplit("/", 1)[-1], {}), components, depth + 1)
    return {key: resolve(value, components, depth) for key, value in schema.items()}


def _endpoint_name(operation_id: str, path: str, method: str) -> str:
    """The endpoint's function name: FastAPI's ids are `{name}{path with non-word characters as _}_{method}`."""
    tail = re.sub(r"\W", "_", path) + "_" + method.lower()
    return operation_id[: -len(tail)] if operation_id.endswith(tail) else operation_id
