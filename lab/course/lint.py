"""Static hints: point at the lines of a learner's file that block the event loop, and say why.

    findings = lint_file(Path("exercises/exercise_01_sleepy_endpoint.py"))   # ruff's ASYNC rules + ours
    findings = ast_findings(source)                                          # ours only: pure

Two passes. ruff's ASYNC rules know the common blocking calls (`time.sleep`, `requests`, `open`...).
A small AST pass adds what linters miss: `asyncio.sleep(...)` without `await`, a blocking call hidden
in a same-module helper, an executor handed a call instead of a function, a client, semaphore or
pool created per request, a model loaded lazily inside a handler. Hints explain; they never pass or
fail an exercise on their own (the burst does).
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from lab.workloads import BLOCKING_CALLS

RUFF_RULES = "ASYNC,RUF006"
RUFF_TIMEOUT_S = 15.0


class Finding(NamedTuple):
    line: int
    code: str
    message: str


# Calls that block the calling thread. Names are resolved through the file's imports first.
BLOCKING = {
    "time.sleep": "`time.sleep` blocks the thread it runs on",
    "open": "`open` reads the disk synchronously",
    "input": "`input` waits for a keyboard",
    "os.system": "`os.system` waits for a process",
    "urllib.request.urlopen": "`urlopen` waits for the network synchronously",
    "httpx.Client": "a sync `httpx.Client` waits for the network synchronously",
    "lab.model.load_model": "`load_model` reads (and here, waits for) a model synchronously",
    "lab.model.burn": "`burn` is CPU work that holds the GIL",
}
# The lab's stand-ins for blocking SDKs and heavy models, as `lab.workloads` declares them.
BLOCKING.update(
    {
        f"lab.workloads.{name}": f"`{name}` blocks (the lab's stand-in for a blocking SDK or model)"
        for name in BLOCKING_CALLS
    }
)
BLOCKING.update(
    {
        "lab.workloads.remote_model_call": "`remote_model_call` waits for a remote model synchronously",
        "lab.workloads.lookup_customer_tier": "`lookup_customer_tier` waits for a database synchronously",
        "lab.workloads.write_audit_record": "`write_audit_record` waits for a disk write synchronously",
        "lab.workloads.cpu_predict": "`cpu_predict` is CPU work that holds the GIL",
    }
)
BLOCKING_PREFIXES = {
    "requests.": "`requests` waits for the network synchronously",
    "subprocess.": "`subprocess` waits for a process",
}
BLOCKING_HTTPX_FUNCTIONS = {"get", "post", "put", "patch", "delete", "head", "request", "stream"}

# Coroutine functions: calling one without `await` only creates a coroutine object.
COROUTINE_FUNCTIONS = {
    "asyncio.sleep",
    "asyncio.to_thread",
    "asyncio.wait_for",
    "anyio.sleep",
    "anyio.to_thread.run_sync",
    "starlette.concurrency.run_in_threadpool",
    "fastapi.concurrency.run_in_threadpool",
}

# Hand-offs to a thread or process, and which positional argument is the function.
OFFLOADS = {
    "asyncio.to_thread": 0,
    "anyio.to_thread.run_sync": 0,
    "starlette.concurrency.run_in_threadpool": 0,
    "fastapi.concurrency.run_in_threadpool": 0,
    ".run_in_executor": 1,
    ".submit": 0,
}
CALLABLE_FACTORIES = {"functools.partial", "partial"}
DEFAULT_EXECUTOR = {"asyncio.to_thread"}  # and `loop.run_in_executor(None, ...)`
TIMEOUTS = {"asyncio.wait_for", "asyncio.timeout", "anyio.move_on_after", "anyio.fail_after"}

# Things made once (module level or lifespan) and shared; made per request they defeat their purpose.
PER_REQUEST = {
    "httpx.AsyncClient": "a new AsyncClient per request opens new connections every time and shares no pool: "
    "create one in the lifespan and reuse it",
    "httpx.Client": "a new Client per request opens new connections every time: create one in the lifespan",
    "aiohttp.ClientSession": "a new session per request shares no connections: create one in the lifespan",
    "asyncio.Semaphore": "a Semaphore created inside the handler limits nothing: every request gets its own; "
    "create it once, at module level or in the lifespan",
    "asyncio.BoundedSemaphore": "a semaphore created inside the handler limits nothing: create it once",
    "asyncio.Lock": "a Lock created inside the handler protects nothing: every request gets its own",
    "threading.Lock": "a Lock created inside the handler protects nothing: every request gets its own",
    "threading.Semaphore": "a semaphore created inside the handler limits nothing: create it once",
    "anyio.Semaphore": "a semaphore created inside the handler limits nothing: create it once",
    "anyio.CapacityLimiter": "a limiter created inside the handler limits nothing: create it once",
    "concurrent.futures.ProcessPoolExecutor": "a process pool per request starts new processes every time: "
    "create it once, in the lifespan",
    "concurrent.futures.ThreadPoolExecutor": "a thread pool per request starts new threads every time: "
    "create it once, in the lifespan",
    "multiprocessing.Pool": "a process pool per request starts new processes every time: create it once",
}

ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete", "head", "options", "api_route", "websocket"}
LIFESPAN_NAMES = {"lifespan", "startup", "on_startup", "load", "main"}

# ruff's messages say what; these say why, in the lab's terms.
RUFF_WHY = {
    "ASYNC251": "it stops the event loop: every other request waits; use `await asyncio.sleep` or a `def` route",
    "ASYNC210": "the event loop waits for the network: use a shared `httpx.AsyncClient` and `await` it",
    "ASYNC212": "the event loop waits for the network: use a shared `httpx.AsyncClient` and `await` it",
    "ASYNC230": "the event loop waits for the disk: read it in the lifespan, or off the loop",
    "ASYNC100": "a timeout around code that never awaits can never fire",
    "RUF006": "keep a reference to the task, or it can be garbage-collected mid-run and its errors are lost",
}

_NORMALIZE = {"lab.client.httpx": "httpx", "httpx2": "httpx"}


def lint_file(path: Path) -> list[Finding]:
    """ruff's findings and ours for one file, one finding per line (ruff's first), sorted by line."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Finding(1, "LAB000", f"cannot read the file: {exc}")]
    return merge(ruff_findings(path), ast_findings(source))


def merge(ruff: list[Finding], ours: list[Finding]) -> list[Finding]:
    """ruff's finding wins a line: ours only add the lines ruff did not see."""
    seen = {f.line for f in ruff}
    return sorted([*ruff, *(f for f in ours if f.line not in seen)])


def ruff_findings(path: Path) -> list[Finding]:
    """ruff's ASYNC rules on one file; `--ignore-noqa` so that the broken lines marked `# noqa` still show."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    command = [ruff] if ruff else [sys.executable, "-m", "ruff"]
    command += ["check", "--isolated", "--select", RUFF_RULES, "--ignore-noqa", "--no-cache", "--exit-zero"]
    command += ["--output-format", "json", str(path)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=RUFF_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []  # hints are a bonus: no ruff, no ruff hints
    return parse_ruff_json(done.stdout)


def parse_ruff_json(text: str) -> list[Finding]:
    try:
        items = json.loads(text or "[]")
    except json.JSONDecodeError:
        return []
    findings = []
    for item in items if isinstance(items, list) else []:
        code = item.get("code") or "ruff"
        message = item.get("message", "")
        if code in RUFF_WHY:
            message = f"{message}: {RUFF_WHY[code]}"
        findings.append(Finding(int(item.get("location", {}).get("row", 1)), code, message))
    return findings


def ast_findings(source: str) -> list[Finding]:
    """The lab's own pass. Pure: source text in, findings out."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [Finding(exc.lineno or 1, "LAB000", f"SyntaxError: {exc.msg}")]
    return sorted(set(_Pass(tree).run()))


class _Pass:
    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.names = _import_names(tree)
        self.functions = {
            node.name: node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        self.coroutines = {name for name, node in self.functions.items() if isinstance(node, ast.AsyncFunctionDef)}
        self.blocking_helpers = self._blocking_helpers()

    def run(self) -> Iterator[Finding]:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.AsyncFunctionDef) and not _is_context_manager(node):
                # A lifespan blocks before the server accepts anything: the one place a slow load belongs.
                yield from self._async_body(node)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                yield from self._unawaited(node.value)
            if isinstance(node, ast.Call):
                yield from self._offload(node)
                yield from self._default_executor(node)
                yield from self._timeout_around_thread(node)
            if isinstance(node, ast.AsyncWith):
                yield from self._timeout_block_around_thread(node)
        handlers = [f for f in ast.walk(self.tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)]
        handlers = [f for f in handlers if _is_route(f)]
        for handler in handlers:
            yield from self._per_request(handler)
            yield from self._sync_health(handler)
        yield from self._lazy_globals(handlers)

    def qualified(self, node: ast.expr) -> str:
        """`np.sqrt` -> `numpy.sqrt` through the imports; '' when it is not a plain dotted name."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return "." + parts[0] if parts else ""  # `self.pool.submit` -> ".submit"
        base = self.names.get(node.id, node.id)
        name = ".".join([base, *reversed(parts)])
        for old, new in _NORMALIZE.items():
            if name == old or name.startswith(old + "."):
                name = new + name[len(old) :]
        return name

    def blocking_reason(self, call: ast.Call) -> str | None:
        name = self.qualified(call.func)
        if name in BLOCKING:
            return BLOCKING[name]
        for prefix, why in BLOCKING_PREFIXES.items():
            if name.startswith(prefix):
                return why
        if name.startswith("httpx.") and name.split(".")[-1] in BLOCKING_HTTPX_FUNCTIONS:
            return f"`{name}` waits for the network synchronously"
        return None

    def _blocking_helpers(self) -> dict[str, str]:
        """Same-module `def` functions that block, directly or through each other: name -> why."""
        helpers: dict[str, str] = {}
        changed = True
        while changed:  # a fixpoint over at most len(functions) rounds
            changed = False
            for name, node in self.functions.items():
                if name in helpers or isinstance(node, ast.AsyncFunctionDef):
                    continue
                for call in _calls(node):
                    why = self.blocking_reason(call)
                    callee = call.func.id if isinstance(call.func, ast.Name) else None
                    if why is None and callee in helpers:
                        why = f"it calls `{callee}()`, which blocks"
                    if why is not None:
                        helpers[name] = f"{why} (line {call.lineno})" if callee not in helpers else why
                        changed = True
                        break
        return helpers

    def _async_body(self, function: ast.AsyncFunctionDef) -> Iterator[Finding]:
        for call in _calls(function):
            why = self.blocking_reason(call)
            if why is not None:
                yield Finding(
                    call.lineno,
                    "LAB101",
                    f"{why}, here inside `async def {function.name}`: the event loop stops and every request waits",
                )
            elif isinstance(call.func, ast.Name) and call.func.id in self.blocking_helpers:
                helper = call.func.id
                yield Finding(
                    call.lineno,
                    "LAB102",
                    f"`{helper}()` is a plain function that blocks: {self.blocking_helpers[helper]}; called from "
                    f"`async def {function.name}` it runs on the event loop (FastAPI moves only `def` routes "
                    "and dependencies to threads, never the functions they call)",
                )

    def _unawaited(self, call: ast.Call) -> Iterator[Finding]:
        name = self.qualified(call.func)
        if name in COROUTINE_FUNCTIONS or name in self.coroutines:
            yield Finding(
                call.lineno,
                "LAB103",
                f"`{name}(...)` is not awaited: it only creates a coroutine, which never runs (add `await`)",
            )

    def _offload(self, call: ast.Call) -> Iterator[Finding]:
        name = self.qualified(call.func)
        key = name if name in OFFLOADS else "." + name.rsplit(".", 1)[-1]
        position = OFFLOADS.get(key)
        if position is None or len(call.args) <= position:
            return
        argument = call.args[position]
        if isinstance(argument, ast.Call) and self.qualified(argument.func) not in CALLABLE_FACTORIES:
            inner = ast.unparse(argument)
            function = ast.unparse(argument.func)
            yield Finding(
                call.lineno,
                "LAB104",
                f"`{inner}` is called right here, on this thread, and only its result is handed to the pool: "
                f"pass the function and its arguments separately, e.g. `({function}, ...)`",
            )

    def _is_offload(self, call: ast.Call) -> bool:
        name = self.qualified(call.func)
        return name in OFFLOADS or "." + name.rsplit(".", 1)[-1] == ".run_in_executor"

    def _default_executor(self, call: ast.Call) -> Iterator[Finding]:
        name = self.qualified(call.func)
        none_executor = (
            name.endswith(".run_in_executor")
            and bool(call.args)
            and isinstance(call.args[0], ast.Constant)
            and call.args[0].value is None
        )
        if name in DEFAULT_EXECUTOR or none_executor:
            yield Finding(
                call.lineno,
                "LAB107",
                "this runs in asyncio's default executor: min(32, cores + 4) threads, 6 on 2 cores, not AnyIO's 40 "
                "tokens; under a burst the calls run in waves (`run_in_threadpool` uses AnyIO's pool)",
            )

    def _timeout_around_thread(self, call: ast.Call) -> Iterator[Finding]:
        if self.qualified(call.func) != "asyncio.wait_for" or not call.args:
            return
        inner = call.args[0]
        if isinstance(inner, ast.Call) and self._is_offload(inner):
            yield Finding(call.lineno, "LAB108", _THREAD_TIMEOUT)

    def _timeout_block_around_thread(self, block: ast.AsyncWith | ast.With) -> Iterator[Finding]:
        timed = any(
            isinstance(item.context_expr, ast.Call) and self.qualified(item.context_expr.func) in TIMEOUTS
            for item in block.items
        )
        if not timed:
            return
        for statement in block.body:
            for node in ast.walk(statement):
                if isinstance(node, ast.Call) and self._is_offload(node):
                    yield Finding(block.lineno, "LAB108", _THREAD_TIMEOUT)
                    return

    def _sync_health(self, handler: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[Finding]:
        if isinstance(handler, ast.FunctionDef) and "health" in handler.name.lower():
            yield Finding(
                handler.lineno,
                "LAB109",
                f"`def {handler.name}` runs in a worker thread: when a burst holds every thread token, the health "
                "check waits in line with it; make it `async def` (and free of sync dependencies)",
            )

    def _per_request(self, handler: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[Finding]:
        for call in _calls(handler):
            name = self.qualified(call.func)
            if name in PER_REQUEST:
                yield Finding(call.lineno, "LAB105", f"in route `{handler.name}`: {PER_REQUEST[name]}")

    def _lazy_globals(self, handlers: list[ast.FunctionDef | ast.AsyncFunctionDef]) -> Iterator[Finding]:
        """A `global MODEL` assigned from a call inside a handler, or a helper a handler calls."""
        for name in sorted(self._run_per_request(handlers) - LIFESPAN_NAMES):
            function = self.functions.get(name)
            if function is None or _is_context_manager(function):
                continue
            for line, target in _globals_assigned_from_calls(function):
                yield Finding(
                    line,
                    "LAB106",
                    f"`{target}` is loaded lazily by a request (in `{name}`): in `async def` the load "
                    "stops the event loop, in `def` requests race and load it several times; "
                    "load it once, in the lifespan",
                )

    def _run_per_request(self, handlers: list[ast.FunctionDef | ast.AsyncFunctionDef]) -> set[str]:
        """The functions that run per request: the handlers, what they call by name, and dependencies."""
        per_request = {h.name for h in handlers}
        for handler in handlers:
            per_request |= {c.func.id for c in _calls(handler) if isinstance(c.func, ast.Name)}
        for node in ast.walk(self.tree):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            first = node.args[0]
            if isinstance(first, ast.Name) and self.qualified(node.func) == "fastapi.Depends":
                per_request.add(first.id)  # a dependency runs per request too
        return per_request


def _globals_assigned_from_calls(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[tuple[int, str]]:
    """(line, name) for each `global` name the function assigns the result of a call to."""
    declared = {n for stmt in ast.walk(function) if isinstance(stmt, ast.Global) for n in stmt.names}
    for stmt in ast.walk(function):
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
            targets = {t.id for t in stmt.targets if isinstance(t, ast.Name)} & declared
            for target in sorted(targets):
                yield stmt.lineno, target


_THREAD_TIMEOUT = (
    "a timeout around a thread stops the waiting, not the thread: the work runs on after the timeout, "
    "holding a thread (and a token) nobody waits for; make the work stoppable (a flag it checks), or bound it"
)


def _import_names(tree: ast.Module) -> dict[str, str]:
    """Local name -> what it refers to: `import numpy as np` gives np -> numpy."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _calls(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.Call]:
    """Calls that run when `function` runs: not those in nested functions or lambdas, which run elsewhere."""
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if isinstance(node, ast.Call):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _is_route(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(
        isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr in ROUTE_DECORATORS
        for d in node.decorator_list
    )


def _is_context_manager(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in ("asynccontextmanager", "contextmanager", "on_event"):
            return True
    return False
