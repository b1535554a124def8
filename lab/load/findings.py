"""From one route's burst to a finding: what kind of mistake, where, the fix in one line, the lesson. Pure.

    finding = find(RouteReading(...), Context(dependencies={"get_user"}, middleware={"log_requests"}), 100)

A route *held the event loop* when the server's longest loop stall that the machine did not cause
(`loop_lag_judged_s`), or the time its watchdog charged to lines of code over the whole burst, passed the
bound: a 50 ms `time.sleep` ten times over is 0.5 s of a frozen loop, even if each stall alone is short.
Only when lines of code carry most of the stalls the watchdog charged does the longest stall count (`held_s`).
The line is the watchdog's (`/lab/stats`' `blocking`); the kind comes from the call it was in, and where it
sits (the endpoint itself, a dependency, a middleware, a helper) from the function that held it.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from lab.load.verdict import Verdict
from lab.protocol import BlockingSite, ServerStats, UnawaitedCoroutine

__all__ = ["KINDS", "Context", "Finding", "RouteReading", "find", "held_s"]

PURE_PYTHON = "pure-Python code"  # the watchdog's name for a line that calls nothing (lab.server.watchdog)
OWN_SHARE = 0.5  # of the stalls the watchdog charged, lines of code carry at least this: the code held the loop


@dataclass(frozen=True)
class Kind:
    name: str
    fix: str
    exercise: str


KINDS = {
    "wait": Kind(
        "blocking wait in async def",
        "make the function `def` (FastAPI runs it in a thread), or `await` an async version of the wait",
        "exercise-1",
    ),
    "client": Kind(
        "sync client in async def",
        "use one shared `httpx.AsyncClient` (opened in the lifespan) and `await` its calls",
        "exercise-5",
    ),
    "cpu": Kind(
        "CPU work in async def",
        "run it in a process pool made in the lifespan (`await loop.run_in_executor(pool, ...)`), or make it `def`",
        "exercise-7",
    ),
    "native": Kind(
        "GIL-releasing C call in async def",
        "make the route `def` (or `await run_in_threadpool(...)`): the call releases the GIL, so threads scale",
        "exercise-13",
    ),
    "dependency": Kind(
        "blocking call in a dependency",
        "make the dependency `def` (FastAPI runs it in a thread), or `await` inside it",
        "exercise-4",
    ),
    "middleware": Kind(
        "blocking call in a middleware",
        "every request passes through it: `await` there, or hand the call to `run_in_threadpool`",
        "exercise-4",
    ),
    "tokens": Kind(
        "def route starved of thread tokens",
        "raise AnyIO's `total_tokens` in the lifespan, and keep cheap routes `async def`",
        "exercise-3",
    ),
    "unawaited": Kind(
        "coroutine never awaited",
        "put `await` before the call: without it nothing waits and nothing runs",
        "exercise-1",
    ),
}

CLIENT_CALLS = ("requests.", "urllib", "httpx", "http.client", "socket.", "aiohttp", "pymongo", "psycopg", "redis.")
WAIT_WORDS = (
    *("sleep", "wait", "acquire", "join", "result", "recv", "read", "input", "open", "select", "lock", "load"),
    *("subprocess", "system", "connect", "query", "execute", "fetch", "remote", "lookup", "write", "call"),
)
NATIVE_CALLS = ("hashlib.", "zlib.", "numpy", "np.", "onnx", "torch", "bcrypt", "scipy", "cv2.")


@dataclass(frozen=True)
class Context:
    """What the app's source says about the functions the watchdog names: which are dependencies
    (`Depends(name)`) and which are middleware (`@app.middleware`, a `dispatch` method)."""

    dependencies: Set[str] = frozenset()
    middleware: Set[str] = frozenset()
    # (file, line) -> the named function around it, for code objects with no name of their own
    # (`<genexpr>`, `<lambda>`, `<listcomp>`): the endpoint's `sum(x for x in ...)` is the endpoint's line.
    enclosing: Mapping[tuple[str, int], str] = field(default_factory=dict)


@dataclass(frozen=True)
class RouteReading:
    """One route's burst, as the scan measured it."""

    method: str
    path: str
    endpoint: str
    verdict: Verdict
    server: ServerStats | None
    requests: int
    ok: int
    errors: dict[str, int] = field(default_factory=dict)  # by kind (Timeout, ReadError...)
    status_counts: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0  # the burst's own wall time: the floor of what scanning this route can cost


@dataclass(frozen=True)
class Finding:
    blocks: bool  # held the event loop past the bound
    held_s: float
    kind: str | None  # a key of KINDS; None: nothing to fix
    where: str  # "in the endpoint", "in dependency get_user()", ...
    line: BlockingSite | None  # the line that held the loop longest
    unawaited: UnawaitedCoroutine | None = None

    @property
    def lesson(self) -> Kind | None:
        return KINDS.get(self.kind) if self.kind else None

    def to_json(self) -> dict[str, Any]:
        lesson = self.lesson
        return {
            "blocks": self.blocks,
            "held_ms": round(self.held_s * 1000, 1),
            "kind": None if lesson is None else lesson.name,
            "where": self.where,
            "fix": None if lesson is None else lesson.fix,
            "exercise": None if lesson is None else lesson.exercise,
            "line": None if self.line is None else self.line.to_json(),
        }


def user_sites(server: ServerStats | None) -> list[BlockingSite]:
    """The lines of code the watchdog found on the loop (not the loop waiting for the GIL), worst first."""
    return [] if server is None else [s for s in server.blocking if s.file]


def held_s(server: ServerStats | None) -> float:
    """How long lines of code held the loop: the longest stall the machine did not cause, or the lines' total.

    The longest stall counts only when lines of code carry most of the stalls the watchdog charged (a pure-Python
    call holding the GIL is sampled seldom, so the lag says more than its samples); otherwise the stalls were the
    loop waiting for the GIL or for a CPU, as a busy machine makes it wait, and only the lines' own time counts:
    a process pool's `submit` charged 2 ms beside 0.2 s of such waiting must not count the loop's 110 ms stall.
    0 when the watchdog found no line of code on the loop."""
    sites = user_sites(server)
    if server is None or not sites:
        return 0.0
    own_s = sum(s.stalled_s for s in sites)
    if sum(s.share for s in sites) < OWN_SHARE:
        return own_s
    return max(server.loop_lag_judged_s, own_s)


def find(reading: RouteReading, context: Context, max_lag_s: float) -> Finding:
    """The finding for one route: what held its loop, where, and which lesson fixes it."""
    server = reading.server
    held = held_s(server)
    sites = user_sites(server)
    top = sites[0] if sites else None
    blocks = held > max_lag_s
    if blocks and top is not None:
        place, where = _place(top, reading.endpoint, context)
        kind = place or _kind_of_call(top.call)
        return Finding(True, held, kind, where, top)
    if server is not None and server.unawaited:
        first = server.unawaited[0]
        return Finding(blocks, held, "unawaited", f"in {first.function}()", None, first)
    # A late loop with no line of code on it (the loop waiting for the GIL behind busy threads, or for a CPU)
    # is no finding: the route's code is off the loop, as every fix puts it, and on a busy machine the fixed
    # twins' threads (NumPy's, ONNX Runtime's) showed 100-230 ms of it. `loop_lag_ms` in the JSON keeps it.
    if server is not None and server.peak_token_waiters > 0:
        return Finding(False, held, "tokens", "in the thread pool", None)
    return Finding(False, held, None, "", top)


def _place(site: BlockingSite, endpoint: str, context: Context) -> tuple[str | None, str]:
    """(a kind when the place decides it, the words for where): the endpoint, a dependency, a middleware, a helper."""
    function = site.function
    if function.startswith("<"):
        function = context.enclosing.get((site.file, site.line), function)
    if function == endpoint:
        return None, "in the endpoint"
    if function in context.dependencies:
        return "dependency", f"in dependency {function}()"
    if function in context.middleware or function == "dispatch":
        return "middleware", f"in middleware {function}()"
    module = site.file.rsplit("/", 1)[-1].removesuffix(".py")
    return None, f"in {module}.{function}()"


def _kind_of_call(call: str) -> str:
    """A network client, a C call that releases the GIL, a wait; anything else holds the GIL computing
    (`pure-Python code`, or a cheap call inside a loop, as `time.perf_counter()` in a busy-wait)."""
    lowered = call.lower()
    if any(name in lowered for name in CLIENT_CALLS) or ".client." in lowered:
        return "client"
    if any(lowered.startswith(name) or f".{name}" in lowered for name in NATIVE_CALLS):
        return "native"
    if call != PURE_PYTHON and any(word in lowered for word in WAIT_WORDS):
        return "wait"
    return "cpu"
