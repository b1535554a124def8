"""An off-loop watchdog that names the line blocking the event loop, found at runtime.

The heartbeat (`lab.instruments.heartbeat`) can only say *that* the loop was blocked, and for how
long. This thread says *where*: while the heartbeat is late, it reads the event-loop thread's
stack every few milliseconds (`sys._current_frames()`) and charges the time to the innermost
frame of user code, keeping the library call that frame is in (pyleak's method). While the loop
is healthy it only compares two clock readings: no stack is ever read.

What it can and cannot see, because it needs the GIL to read a stack:

- A pure-Python loop on the loop thread still hands the GIL over every `sys.getswitchinterval()`
  (5 ms), so the watchdog samples it as it runs, line by line.
- A C call that releases the GIL (`time.sleep`, socket I/O, most hashing and NumPy) is sampled as
  it runs: the loop thread's innermost Python frame is the line that made the call.
- A C call that holds the GIL for its whole duration (a huge `sorted`, `sum(range(10**9))`)
  keeps this thread from running at all. It is seen only when it returns: the first sample after
  it, still on the calling line, is charged all the time since the previous one.
- A loop thread waiting for the GIL behind busy worker threads (the "GIL convoy"), or stuck in
  the event loop's own code, has no user frame on its stack: that time goes to one
  `<event loop>` site rather than being dropped.
- A loop thread the OS left waiting for a CPU (a busy machine: other programs on every core) ran
  no code at all meanwhile: where Linux counts that wait (`lab.run_queue`), it is charged to no
  site, so a busy machine does not dilute the share of the line that did block the loop.

It reports `lab.protocol.BlockingSite`s: `/lab/stats` carries them as `blocking`.
"""

from __future__ import annotations

import ast
import functools
import inspect
import linecache
import os
import sys
import sysconfig
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Self

from lab.instruments import HEARTBEAT_INTERVAL_S
from lab.protocol import BlockingSite
from lab.run_queue import RunQueueClock, run_queue_clock

POLL_S = 0.005  # how often a healthy loop's heartbeat is checked (two clock reads, no stack)
SAMPLE_S = 0.003  # how often a stalled loop's stack is read
MAX_SITES = 50

PURE_PYTHON = "pure-Python code"
EVENT_LOOP_FUNCTION = "<event loop>"
EVENT_LOOP_CALL = "waiting for the GIL (busy threads) or in the event loop itself"

# The lab's stand-ins for vendor SDKs and libraries, by module name: a learner's line that calls
# them is the blocking site, not a line inside them. Update these names if the modules move.
LAB_LIBRARY_MODULES = frozenset(
    {
        "lab.workloads",
        "lab.model",
        "lab.numpy_model",
        "lab.onnx_model",
        "lab.client",
        "lab.instruments",
        "lab.run_queue",
        __name__,
    }
)
# The lab's middleware wraps every request of every app it serves, outside the route: like Starlette's
# own middleware, it is not the learner's code. Without this, a loop thread that loses the GIL while a
# request passes through it (the GIL convoy) would be charged to `lab/limits.py`. The same for the hook that
# catches a coroutine never awaited: the time Python takes to warn about it goes to the user's line that dropped it.
LAB_MACHINERY_MODULES = frozenset(
    {
        "lab.server.timing",
        "lab.server.limits",
        "lab.server.observability",
        "lab.server.metrics",
        "lab.server.handlers",
        "lab.server.unawaited",
    }
)


# (file, line, function, code, call): where a sample landed. Sites are keyed by all but `code`,
# which follows from file and line.
Site = tuple[str, int, str, str, str]
EVENT_LOOP_SITE: Site = ("", 0, EVENT_LOOP_FUNCTION, "", EVENT_LOOP_CALL)
# (file, line, function) of the user's outermost `async def` on the stack, when it is not the site's own.
Caller = tuple[str, int, str]
NO_CALLER: Caller = ("", 0, "")


def _library_prefixes() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    found = {os.path.realpath(paths[key]) for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    return tuple(sorted(path.rstrip(os.sep) + os.sep for path in found))


_LIBRARY_PREFIXES = _library_prefixes()
_THIS_FILE = os.path.realpath(__file__)


@functools.lru_cache(maxsize=4096)
def is_library_file(filename: str) -> bool:
    """The standard library, installed packages, frozen and generated code, or this file."""
    if filename.startswith("<") or not filename:  # <frozen importlib._bootstrap>, <string>, ...
        return True
    path = os.path.realpath(filename)
    parts = path.split(os.sep)
    if "site-packages" in parts or "dist-packages" in parts:
        return True
    return path == _THIS_FILE or path.startswith(_LIBRARY_PREFIXES)


def is_library(frame: FrameType) -> bool:
    """Library code: the stdlib, installed packages, frozen modules, the lab's stand-in SDKs and middleware."""
    module = frame.f_globals.get("__name__")
    return module in LAB_LIBRARY_MODULES or module in LAB_MACHINERY_MODULES or is_library_file(frame.f_code.co_filename)


def qualified_name(frame: FrameType) -> str:
    """`module.qualname` of the function a frame runs, e.g. `requests.api.get`."""
    module = frame.f_globals.get("__name__") or "?"
    return f"{module}.{frame.f_code.co_qualname}"


# Where asyncio's own loop hands control to a callback or a task: frames outer to these run the loop,
# they are not running on it.
_LOOP_ENTRIES = frozenset(
    {
        ("asyncio.events", "Handle._run"),
        ("asyncio.base_events", "BaseEventLoop._run_once"),
        ("asyncio.base_events", "BaseEventLoop.run_forever"),
        ("asyncio.base_events", "BaseEventLoop.run_until_complete"),
        ("asyncio.runners", "Runner.run"),
        ("asyncio.runners", "run"),
    }
)
_COROUTINE_FLAGS = inspect.CO_COROUTINE | inspect.CO_ITERABLE_COROUTINE | inspect.CO_ASYNC_GENERATOR


def launcher_codes(frame: FrameType | None) -> frozenset[CodeType]:
    """The code of the frames that started an event loop, read from a stack running on that loop.

    They are the frames outer to the outermost coroutine: the server's `main`, `uvicorn.Server.run`,
    `asyncio.run`... Under uvloop the loop itself is C, so this is the only way to tell the script
    that started the loop (user code, often) from code running on the loop. Empty when no coroutine
    is on the stack.
    """
    frames: list[FrameType] = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    coroutines = [i for i, f in enumerate(frames) if f.f_code.co_flags & _COROUTINE_FLAGS]
    if not coroutines:
        return frozenset()
    return frozenset(f.f_code for f in frames[max(coroutines) + 1 :])


def _is_loop_entry(frame: FrameType, launcher: frozenset[CodeType]) -> bool:
    code = frame.f_code
    return code in launcher or (frame.f_globals.get("__name__"), code.co_qualname) in _LOOP_ENTRIES


def site_of(frame: FrameType | None, launcher: frozenset[CodeType] = frozenset()) -> Site:
    """Where a stack is blocked: the innermost frame of user code, and the library call it is in.

    `frame` is the innermost frame of the stack (as in `sys._current_frames()`); the walk outward
    stops where the event loop runs its callbacks (asyncio's own functions, and `launcher`: see
    `launcher_codes`), so no user frame there means the loop's own code: `EVENT_LOOP_SITE`.
    """
    outermost_library: FrameType | None = None
    while frame is not None and not _is_loop_entry(frame, launcher) and is_library(frame):
        outermost_library = frame
        frame = frame.f_back
    if frame is None or _is_loop_entry(frame, launcher):
        return EVENT_LOOP_SITE
    code = frame.f_code
    line = frame.f_lineno or 0
    # The call the frame is making, spelled as its line spells it (`time.sleep(...)` inside
    # `asyncio.wait_for(time.sleep(1), ...)`, `requests.get(...)` rather than `requests.api.get`).
    # Otherwise, with a library frame inside the user's, that library function; with none, the line's own
    # outermost call (a C call holding the GIL is sampled only after it returned, past its instruction).
    call = running_call(frame) or (
        call_on_line(code.co_filename, line) if outermost_library is None else qualified_name(outermost_library)
    )
    return (code.co_filename, line, code.co_name, linecache.getline(code.co_filename, line).strip(), call)


def async_caller(frame: FrameType | None, launcher: frozenset[CodeType] = frozenset()) -> Caller:
    """The outermost `async def` of user code on a stack running on the loop: the function to change.

    A blocking line in a helper's `def` (another module, a synchronous function) is what the loop waited
    on, but the fix is where the loop called it from: the user's coroutine. `NO_CALLER` when there is no
    such coroutine, or when it is the frame `site_of` names (the blocking line is in it).
    """
    while frame is not None and not _is_loop_entry(frame, launcher) and is_library(frame):
        frame = frame.f_back
    leaf = frame
    found: FrameType | None = None
    while frame is not None and not _is_loop_entry(frame, launcher):
        if frame.f_code.co_flags & _COROUTINE_FLAGS and not is_library(frame):
            found = frame
        frame = frame.f_back
    if found is None or found is leaf:
        return NO_CALLER
    return (found.f_code.co_filename, found.f_lineno or 0, found.f_code.co_name)


def running_call(frame: FrameType) -> str | None:
    """The call expression at the instruction a frame is running (its innermost call there), if any."""
    positions = list(frame.f_code.co_positions())
    index = frame.f_lasti // 2  # f_lasti counts bytes; co_positions has one entry per 2-byte code unit
    if not 0 <= index < len(positions):
        return None
    start, end, column, end_column = positions[index]
    if start is None or end is None or column is None or end_column is None:
        return None
    here = (start, column, end, end_column)
    # A call containing the instruction, innermost first: the call being made, or the one whose argument runs.
    containing = [
        c for c in _calls_in(frame.f_code.co_filename) if (c[0], c[2]) <= here[:2] and (c[1], c[3]) >= here[2:]
    ]
    if not containing:
        return None
    return max(containing, key=lambda c: (c[0], c[2], -c[1], -c[3]))[4]


@functools.lru_cache(maxsize=64)
def _calls_in(filename: str) -> tuple[tuple[int, int, int, int, str], ...]:
    """Every call expression in a file: (line, end line, column, end column, how it is spelled)."""
    source = "".join(linecache.getlines(filename))
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ()
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = ast.get_source_segment(source, node.func) or ast.unparse(node.func)
            spelled = " ".join(func.split()) + ("(...)" if node.args or node.keywords else "()")
            calls.append(
                (node.lineno, node.end_lineno or node.lineno, node.col_offset, node.end_col_offset or 0, spelled)
            )
    return tuple(calls)


@functools.lru_cache(maxsize=1024)
def call_on_line(filename: str, line: int) -> str:
    """The outermost call expression on a line, spelled as in the source (`time.sleep(...)`), or
    `pure-Python code` when the line calls nothing."""
    calls = _calls_in(filename)
    starting = [c for c in calls if c[0] == line]
    if starting:  # outermost: starts first, ends last
        return min(starting, key=lambda c: (c[2], -c[1], -c[3]))[4]
    spanning = [c for c in calls if c[0] < line <= c[1]]  # an argument line of a call spread over lines
    if spanning:
        return max(spanning, key=lambda c: (c[0], c[2]))[4]
    return PURE_PYTHON


@dataclass
class _Bucket:
    stalled_s: float
    code: str
    caller: Caller = NO_CALLER


class Watchdog:
    """A daemon thread that samples the event-loop thread's stack while the heartbeat is late.

    `Watchdog(threading.get_ident(), lambda: instruments.last_beat).start()`, called on the loop
    thread; `stop()` when the loop ends. Thread-safe: `sites()`, `reset()` and the counters may be
    read from any thread.
    """

    def __init__(
        self,
        loop_thread_id: int,
        last_beat: Callable[[], float],
        *,
        interval_s: float = HEARTBEAT_INTERVAL_S,
        stale_after_s: float | None = None,
        poll_s: float = POLL_S,
        sample_s: float = SAMPLE_S,
        max_sites: int = MAX_SITES,
        queued: Callable[[], float] | None = None,
    ) -> None:
        """`queued`: the loop thread's run-queue clock (`lab.run_queue`); by default the one `start()` opens."""
        self.loop_thread_id = loop_thread_id
        self.interval_s = interval_s
        # A heartbeat older than this is late: the loop is stalled (default: twice the interval).
        self.stale_after_s = 2 * interval_s if stale_after_s is None else stale_after_s
        self.poll_s = poll_s
        self.sample_s = sample_s
        self.max_sites = max_sites
        self._last_beat = last_beat
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = time.perf_counter()
        # (file, line, function, call, the user's outermost `async def` on the stack) -> bucket
        self._sites: dict[tuple[str, int, str, str, Caller], _Bucket] = {}
        self._total_s = 0.0
        self._samples = 0
        self._user_samples = 0  # ever, never reset: the heartbeat compares two readings around one stall
        # The stall being sampled: the heartbeat it started after, the last sample's time and site.
        self._stall_beat: float | None = None
        self._prev_sample = 0.0
        self._last_site: Site | None = None
        self._last_caller: Caller = NO_CALLER
        self._launcher: frozenset[CodeType] = frozenset()
        self._queued = queued
        self._own_clock: RunQueueClock | None = None
        self._prev_queued = 0.0  # the loop thread's run-queue clock at the previous sample
        self._machine_s = 0.0  # stalled time in which the OS ran no code of the loop thread: no site's

    def start(self) -> Self:
        self._started = time.perf_counter()  # the heartbeat has not run yet: count from here
        frame = sys._current_frames().get(self.loop_thread_id)
        self._launcher = launcher_codes(frame)  # the loop is running now: its launcher is on the stack
        del frame
        if self._queued is None:
            # Opened here, on the loop thread: the file is that thread's, whichever thread reads it.
            self._own_clock = self._queued = run_queue_clock()
        self._thread = threading.Thread(target=self._run, name="lab-watchdog", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 1.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
        if self._own_clock is not None and (self._thread is None or not self._thread.is_alive()):
            self._own_clock.close()
            self._own_clock = None

    def _run(self) -> None:
        while not self._stop.wait(self.sample_s if self._stall_beat is not None else self.poll_s):
            self.check()

    def check(self, now: float | None = None) -> None:
        """One look at the heartbeat, and one stack sample if it is late (the thread calls this)."""
        now = time.perf_counter() if now is None else now
        beat = max(self._last_beat(), self._started)
        if self._stall_beat is not None and beat != self._stall_beat:
            # The heartbeat ran again: the stall is over. Its tail, up to that beat, goes to the last
            # site sampled, so a stall's total is the heartbeat's own lag for it.
            if self._last_site is not None and beat > self._prev_sample:
                self.record(
                    self._last_site, self._code_share(beat - self._prev_sample), sampled=False, caller=self._last_caller
                )
            self._stall_beat = None
            self._last_site = None
        if now - beat <= self.stale_after_s:
            if self._queued is not None:  # healthy: no stack is read, only where the next stall starts from
                self._prev_queued = self._queued()
            return
        frame = sys._current_frames().get(self.loop_thread_id)
        if frame is None:  # the loop thread has ended
            self._stop.set()
            return
        try:
            site = site_of(frame, self._launcher)
            caller = async_caller(frame, self._launcher)
        finally:
            del frame  # frames keep their locals alive
        if self._stall_beat is None:
            # The first sample of a stall: the loop has been blocked since the heartbeat's sleep was due.
            # For a C call holding the GIL, this sample is taken only after it returned, so it is
            # charged the whole call.
            seconds = now - beat - self.interval_s
            self._stall_beat = beat
        else:
            seconds = now - self._prev_sample
        self._prev_sample = now
        self._last_site = site
        self._last_caller = caller
        self.record(site, self._code_share(max(0.0, seconds)), sampled=True, caller=caller)

    def _code_share(self, seconds: float) -> float:
        """Of `seconds` of stall since the previous sample, the part the loop thread had a CPU for.

        The rest, time it spent runnable but queued for a CPU, goes to no site (`machine_s`)."""
        if self._queued is None:
            return seconds
        now = self._queued()
        waited = min(seconds, max(0.0, now - self._prev_queued))
        self._prev_queued = now
        with self._lock:
            self._machine_s += waited
        return seconds - waited

    def record(self, site: Site, seconds: float, *, sampled: bool = True, caller: Caller = NO_CALLER) -> None:
        """Charge `seconds` of stall to `site` (each sample does; `sampled=False` for a stall's tail), reached
        from the user's `async def` `caller` (see `async_caller`)."""
        file, line, function, code, call = site
        key = (file, line, function, call, caller)
        with self._lock:
            if sampled:
                self._samples += 1
                self._user_samples += bool(file)  # a line of code on the loop, not the loop itself
            self._total_s += seconds
            bucket = self._sites.get(key)
            if bucket is None:
                if len(self._sites) >= self.max_sites:
                    # Bounded: the least-stalled site makes room (its time stays in the total, so shares stay honest).
                    del self._sites[min(self._sites, key=lambda k: self._sites[k].stalled_s)]
                self._sites[key] = _Bucket(seconds, code, caller)
            else:
                bucket.stalled_s += seconds

    def sites(self, limit: int = 10) -> list[BlockingSite]:
        """The sites of this window, most stalled first."""
        with self._lock:
            total = self._total_s
            items = sorted(self._sites.items(), key=lambda item: item[1].stalled_s, reverse=True)[:limit]
            shares = [b.stalled_s / total if total > 0 else 0.0 for _, b in items]
            return [
                BlockingSite(file, line, function, b.code, call, b.stalled_s, share, *b.caller)
                for ((file, line, function, call, _), b), share in zip(items, shares, strict=True)
            ]

    @property
    def samples(self) -> int:
        """Stack samples taken in this window: zero while the loop stays healthy."""
        with self._lock:
            return self._samples

    @property
    def user_samples(self) -> int:
        """Samples ever taken at a line of code (not the loop waiting): a stall without one was not code."""
        with self._lock:
            return self._user_samples

    @property
    def machine_s(self) -> float:
        """Stalled time in this window that the OS kept the loop thread waiting for a CPU: no site's."""
        with self._lock:
            return self._machine_s

    @property
    def stalled_s(self) -> float:
        """Stalled time attributed in this window."""
        with self._lock:
            return self._total_s

    def reset(self) -> None:
        """Start a new window."""
        with self._lock:
            self._sites.clear()
            self._total_s = 0.0
            self._machine_s = 0.0
            self._samples = 0
