"""`lab scan APP`: serve an app with the lab's instruments, burst each route of its schema, judge each one.

    report = run_scan(ScanOptions("main:app"))   # report.routes: a `RouteResult` each, worst first

One server (`ServerProcess`, as `lab serve` loads apps, lifespan included), one route after another: each gets
one request alone first (its status: 401/403/404/422 means the generated request did not reach the code, so it
is listed as not scanned; a streamed answer is skipped), then the lab's one burst procedure (`burst`: warm-up,
a fresh stats window, every connection opened, N at once). The finding is `lab.load.findings.find`'s.
"""

from __future__ import annotations

import ast
import asyncio
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lab.client import httpx
from lab.errors import BurstError, LabError, ServerError
from lab.launch.forked import server_process
from lab.launch.process import ServerProcess
from lab.load.burst import METHODS, BurstResult, burst, parse_headers
from lab.load.findings import Context, Finding, RouteReading, find
from lab.load.fire import run
from lab.load.openapi import (
    Choices,
    PlannedRequest,
    Skipped,
    parse_body,
    parse_param,
    plan_requests,
    prepare_generation,
    selected,
)
from lab.protocol import ROUTES_PATH, BlockingSite

__all__ = ["RouteResult", "ScanOptions", "ScanReport", "run_scan", "scan_options", "startup_failure"]

OPENAPI_PATH = "/openapi.json"
PROBE_TIMEOUT_S = 10.0
NOT_REACHED = {401: "unauthorized", 403: "forbidden", 404: "not found", 422: "the request was not valid"}
ROUTE_DEADLINE_S = 30.0  # one route's burst at most: a route that hangs does not hang the scan


@dataclass(frozen=True)
class ScanOptions:
    target: str
    choices: Choices = field(default_factory=Choices)
    requests: int = 10
    max_lag_ms: float = 100.0
    headers: Mapping[str, str] = field(default_factory=dict)
    route_deadline_s: float = ROUTE_DEADLINE_S


@dataclass(frozen=True)
class RouteResult:
    planned: PlannedRequest
    reading: RouteReading | None  # None: not scanned (see `not_scanned`)
    finding: Finding | None
    not_scanned: str = ""  # why not: "401 unauthorized: pass what it needs with ..."
    took_s: float = 0.0

    @property
    def blocks(self) -> bool:
        return self.finding is not None and self.finding.blocks


@dataclass(frozen=True)
class ScanReport:
    target: str
    routes: list[RouteResult]  # scanned ones worst first, then the ones not scanned
    skipped: list[Skipped]
    operations: int
    wall_s: float
    max_lag_ms: float
    requests: int
    source: Path | None  # the app's own file, where its routes are most likely defined

    @property
    def blocking(self) -> list[RouteResult]:
        return [r for r in self.routes if r.blocks]


MAX_REQUESTS = 100


def scan_options(
    target: str,
    methods: str,
    only: list[str],
    skip: list[str],
    params: list[str],
    bodies: list[str],
    headers: list[str],
    *,
    requests: int = 10,
    max_lag_ms: float = 100.0,
) -> ScanOptions:
    """The command line as `ScanOptions`, every mistake a one-line usage error."""
    chosen = tuple(m.strip().upper() for m in methods.split(",") if m.strip())
    if not chosen or any(m not in METHODS for m in chosen):
        raise LabError(f"--methods {methods!r}: use some of {', '.join(METHODS)}, comma-separated", usage=True)
    if not 2 <= requests <= MAX_REQUESTS:
        raise LabError(f"--requests must be between 2 and {MAX_REQUESTS}, got {requests}", usage=True)
    if not max_lag_ms > 0:
        raise LabError(f"--max-lag-ms must be more than 0, got {max_lag_ms:g}", usage=True)
    choices = Choices(
        methods=chosen,
        only=tuple(only),
        skip=tuple(skip),
        params=dict(parse_param(p) for p in params),
        bodies=dict(parse_body(text) for text in bodies),
    )
    return ScanOptions(target, choices, requests, max_lag_ms, parse_headers(headers))


def run_scan(options: ScanOptions) -> ScanReport:
    """Serve `options.target`, scan every selected route, stop the server: the report."""
    started = time.perf_counter()
    # Hypothesis takes ~0.5-1 s to import: beside the server's own start-up, not after it.
    preload = threading.Thread(target=prepare_generation, daemon=True)
    preload.start()
    # Forked from the warm host where there is one (`lab scan` starts it first thing: lab.cli), as checks are.
    server = server_process(options.target)
    try:
        server.start()
    except ServerError as exc:
        raise startup_failure(options.target, server.log_text(), str(exc)) from None
    preload.join()
    try:
        schema = _schema(server.url, options.headers, options.target)
        plan = plan_requests(schema, options.choices)
        unlisted = [u for u in _unlisted(server.url) if selected(u.path, options.choices)]
        streams = {u.path for u in unlisted}
        requests = [r for r in plan.requests if r.path not in streams]
        results = run(_scan_routes(server, requests, options))
    finally:
        server.stop()
    context = source_context({(site.file, site.line) for r in results for site in _sites(r)})
    results = _refind(results, context, options.max_lag_ms / 1000)
    return ScanReport(
        options.target,
        results,
        [*plan.skipped, *unlisted],
        plan.operations,
        time.perf_counter() - started,
        options.max_lag_ms,
        options.requests,
        source_file(options.target),
    )


UNLISTED = {
    "websocket": "a WebSocket route: a burst sends HTTP requests",
    "mount": "a mounted sub-app: its routes are not in this app's schema (scan the sub-app by itself)",
    "streaming": "a streaming response: a burst times whole answers",
    "hidden": "not in the OpenAPI schema (include_in_schema=False): no request to draw from it",
}


def _unlisted(url: str) -> list[Skipped]:
    """What the schema leaves out, as the server lists it (`/lab/routes`): skipped, and said so."""
    with httpx.Client(timeout=PROBE_TIMEOUT_S, verify=False, trust_env=False) as client:
        try:
            routes = client.get(url + ROUTES_PATH).raise_for_status().json()["routes"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return []
    return [Skipped("*", str(r["path"]), UNLISTED.get(str(r["kind"]), str(r["kind"]))) for r in routes]


def _schema(url: str, headers: Mapping[str, str], target: str) -> Mapping[str, Any]:
    with httpx.Client(timeout=PROBE_TIMEOUT_S, verify=False, trust_env=False, headers=dict(headers)) as client:
        try:
            response = client.get(url + OPENAPI_PATH)
        except httpx.HTTPError as exc:
            raise LabError(f"{target}: could not read {OPENAPI_PATH}: {type(exc).__name__}") from None
    if response.status_code == 404:
        raise LabError(
            f"{target} serves no OpenAPI schema at {OPENAPI_PATH} (was it made with openapi_url=None?): "
            "lab scan reads the routes from it",
            usage=True,
        )
    try:
        schema = response.raise_for_status().json()
    except (httpx.HTTPError, ValueError):
        raise LabError(f"{target}: {OPENAPI_PATH} answered {response.status_code}, not a JSON schema") from None
    if not isinstance(schema, dict) or not isinstance(schema.get("paths"), dict):
        raise LabError(f"{target}: {OPENAPI_PATH} has no `paths`: not an OpenAPI schema", usage=True)
    return schema


async def _scan_routes(server: ServerProcess, planned: list[PlannedRequest], options: ScanOptions) -> list[RouteResult]:
    results = []
    for request in planned:
        if not server.alive:
            reason = f"the server died before this route ({server.log_tail() or 'no message'})"
            results.append(RouteResult(request, None, None, reason))
            continue
        results.append(await _scan_route(server.url, request, options))
    return results


async def _scan_route(base: str, request: PlannedRequest, options: ScanOptions) -> RouteResult:
    started = time.perf_counter()
    headers = {**options.headers, **request.headers}
    url = base + request.url_path
    reason = await _probe(url, request, headers)
    if reason:
        return RouteResult(request, None, None, reason, time.perf_counter() - started)
    try:
        result = await burst(
            url,
            requests=options.requests,
            method=request.method,
            json_body=request.json_body,
            headers=headers,
            deadline_s=options.route_deadline_s,
        )
    except BurstError as exc:
        return RouteResult(request, None, None, f"the burst failed: {exc}", time.perf_counter() - started)
    reading = _reading(request, result)
    finding = find(reading, Context(), options.max_lag_ms / 1000)
    return RouteResult(request, reading, finding, "", time.perf_counter() - started)


async def _probe(url: str, request: PlannedRequest, headers: Mapping[str, str]) -> str:
    """One request alone: "" when the route can be burst, else why not (its status, or a stream)."""
    timeout = httpx.Timeout(PROBE_TIMEOUT_S)
    async with httpx.AsyncClient(timeout=timeout, verify=False, trust_env=False) as client:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S):
                call = client.stream(request.method, url, json=request.json_body, headers=dict(headers))
                async with call as response:  # headers only: an endless stream is never read
                    status, answer = response.status_code, response.headers
        except (httpx.HTTPError, TimeoutError) as exc:
            return f"one request alone failed ({type(exc).__name__})"
    if status in NOT_REACHED:
        return f"{status} {NOT_REACHED[status]}: pass what it needs with --header/--param/--body"
    if "text/event-stream" in answer.get("content-type", "") or (
        answer.get("transfer-encoding") == "chunked" and request.method != "HEAD"
    ):
        return "skipped: a streaming response (a burst times whole answers)"
    return ""


def _reading(request: PlannedRequest, result: BurstResult) -> RouteReading:
    s = result.summary
    return RouteReading(
        request.method,
        request.path,
        request.endpoint,
        result.verdict,
        result.server,
        result.requests,
        s.ok,
        dict(s.errors),
        dict(s.status_counts),
        s.wall_s,
    )


def _sites(result: RouteResult) -> tuple[BlockingSite, ...]:
    server = None if result.reading is None else result.reading.server
    return () if server is None else tuple(s for s in server.blocking if s.file)


def _refind(results: list[RouteResult], context: Context, max_lag_s: float) -> list[RouteResult]:
    """Findings again, now that the source says which functions are dependencies and middleware; worst first:
    the routes that held the loop, longest first, then the others by path, then those not scanned."""
    scanned = [replace(r, finding=find(r.reading, context, max_lag_s)) for r in results if r.reading is not None]
    scanned.sort(key=lambda r: (not r.blocks, -(r.finding.held_s if r.finding else 0.0), r.planned.path))
    return scanned + [r for r in results if r.reading is None]


def source_context(sites: set[tuple[str, int]]) -> Context:
    """What the files of the blocking `sites` say: which function names they pass to `Depends(...)` /
    `Security(...)`, which are middleware, and the named function around each site's line."""
    dependencies: set[str] = set()
    middleware: set[str] = set()
    enclosing: dict[tuple[str, int], str] = {}
    for file in {f for f, _ in sites}:
        try:
            tree = ast.parse(Path(file).read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        lines = [line for f, line in sites if f == file]
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in ("Depends", "Security") and node.args:
                dependencies.add(_name(node.args[0]))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if _is_middleware(node):
                    middleware.add(node.name)
                # ast.walk goes outside in: the innermost function around a line is written last
                enclosing.update({(file, line): node.name for line in lines if _spans(node, line)})
    return Context(frozenset(dependencies - {""}), frozenset(middleware), enclosing)


def _is_middleware(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(_name(d.func if isinstance(d, ast.Call) else d) == "middleware" for d in node.decorator_list)


def _spans(node: ast.FunctionDef | ast.AsyncFunctionDef, line: int) -> bool:
    return node.lineno <= line <= (node.end_lineno or node.lineno)


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def source_file(target: str) -> Path | None:
    """The file behind `main:app` or `app.py`, without importing it (a module found from the current directory)."""
    if target.endswith(".py"):
        return Path(target).resolve()
    module = target.partition(":")[0]
    for candidate in (Path(*module.split(".")).with_suffix(".py"), Path(*module.split("."), "__init__.py")):
        if candidate.is_file():
            return candidate.resolve()
    import importlib.util

    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin and spec.origin.endswith(".py") else None


_TRACEBACK_FILE = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)')


def startup_failure(target: str, log: str, message: str) -> LabError:
    """One line for an app that did not start: its import error as `lab serve` says it (file:line: what),
    or, for a lifespan that raised, the deepest line of the app's own code in uvicorn's traceback."""
    if "Application startup failed" not in log and "Traceback" not in log:
        return LabError(message, usage=True)  # the host's own one line: an import error, no `app`, not an app
    lines = log.splitlines()
    places = [(m["file"], m["line"]) for m in map(_TRACEBACK_FILE.match, lines) if m is not None]
    own = [p for p in places if "site-packages" not in p[0] and "/lib/python" not in p[0]]
    error = next((x.strip() for x in reversed(lines) if re.match(r"^\w[\w.]*(Error|Exception)\b", x.strip())), "")
    where = f"{own[-1][0]}:{own[-1][1]}: " if own else f"{target}: "
    what = error or message
    return LabError(f"{where}the app's lifespan failed at start-up: {what}")
