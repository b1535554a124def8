"""The scenarios: what each one is, where its twins live, and what it teaches. Pure data.

Every scenario has three variants at `/<scenario>/<variant>`, side by side in one module of
`lab/server/scenarios/`:

- `sync`: a plain `def` handler. FastAPI runs it in a worker thread (AnyIO's pool, 40 tokens).
- `async`: an `async def` handler that does its waiting the right way.
- `broken`: the classic mistake, `async def` plus a blocking call on the event loop.

The server's routes and the load side (`lab compare`, `lab demo`) both read this module, so a
scenario's paths, bounds and teaching text are written once, and the load side never imports FastAPI.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field

__all__ = [
    "MAX_CPU_MS",
    "MAX_DELAY_MS",
    "ONNX_EXTRA",
    "SCENARIOS",
    "THREADS_GAUGE",
    "VARIANTS",
    "Extra",
    "Playbook",
    "Scenario",
    "gil_enabled",
]

# The pool twins count the threads running their blocking call at once in this `/lab/stats` gauge:
# every request is in its handler at once, and the threads beside them show the waves' cause.
THREADS_GAUGE = "threads_running"
MAX_DELAY_MS = 10_000  # no request can hold a server for long
MAX_CPU_MS = 5_000
VARIANTS = ("sync", "async", "broken")


@dataclass(frozen=True)
class Playbook:
    """How `lab demo` shows a scenario best: its burst, which twins, and each twin in a few words."""

    requests: int
    delay_ms: int
    variants: tuple[str, ...]
    captions: dict[str, str]


@dataclass(frozen=True)
class Extra:
    """An optional dependency a scenario needs (`[project.optional-dependencies]` in pyproject.toml)."""

    name: str  # the extra's name
    module: str  # what it makes importable
    title: str  # what a person calls it

    def installed(self) -> bool:
        """Whether the module can be imported, found without importing it (it may take a while)."""
        return importlib.util.find_spec(self.module) is not None

    def missing(self, what: str) -> str:
        """One line: what needs it, and the command that installs it."""
        return (
            f"{what} needs {self.title}, an optional extra: install it with `uv sync --extra {self.name}` "
            f"(or `pip install 'concurrency-lab[{self.name}]'`)"
        )


ONNX_EXTRA = Extra("onnx", "onnxruntime", "ONNX Runtime")


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str  # with a `{variant}` placeholder
    summary: str
    why: str  # the lesson, with `{n}` (requests) and `{d}` (delay in ms) placeholders
    demo: Playbook
    json_body: dict[str, float] | None = field(default=None)
    extra: Extra | None = None  # an optional dependency its server side needs

    @property
    def max_delay_ms(self) -> int:
        return MAX_CPU_MS if self.name in ("cpu", "numpy", "onnx") else MAX_DELAY_MS

    def url(self, base: str, variant: str, delay_ms: int) -> str:
        return f"{base}{self.path.format(variant=variant)}?delay_ms={delay_ms}"

    def explain(self, requests: int, delay_ms: int) -> str:
        return self.why.format(n=requests, d=delay_ms)

    def gil_note(self, enabled: bool | None = None) -> str | None:
        """What changes for this scenario on a free-threaded Python (None: nothing, or the GIL is on)."""
        if self.name not in GIL_NOTES or (gil_enabled() if enabled is None else enabled):
            return None
        return f"This Python ({sys.version.split()[0]}) runs without the GIL: " + GIL_NOTES[self.name]


def gil_enabled() -> bool:
    """False only on a free-threaded CPython (3.13t/3.14t) running with the GIL off."""
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


# Where the lesson depends on the GIL, what a free-threaded interpreter changes (and what it does not).
GIL_NOTES = {
    "cpu": "pure-Python threads can compute in parallel here, so `def` may scale like a process pool; the "
    "broken twin still blocks the event loop.",
    "numpy": "threads scaled already, the GIL was released in the kernels; the broken twin still blocks the "
    "event loop.",
    "onnx": "threads scaled already, ONNX Runtime releases the GIL while it runs; the broken twin still blocks the "
    "event loop.",
}


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "sleep",
            "GET",
            "/sleep/{variant}",
            "waiting on I/O (a sleep stands in for any blocking call)",
            "The broken handler is `async def` but calls `time.sleep`. An `async def` handler runs on the "
            "event-loop thread, and `time.sleep` never gives that thread back, so the server cannot even read the "
            "next request until this one is done: {n} requests take {n} x {d} ms. `def` works because FastAPI runs "
            "it in a worker thread; `async def` + `await asyncio.sleep` works because awaiting hands the loop to the "
            "other requests.",
            Playbook(
                10,
                100,
                ("broken", "async"),
                {"broken": "async def + time.sleep", "sync": "def + time.sleep", "async": "await asyncio.sleep"},
            ),
        ),
        Scenario(
            "cpu",
            "GET",
            "/cpu/{variant}",
            "CPU-bound inference in pure Python (holds the GIL)",
            "CPU-bound pure-Python work in `async def` blocks the event loop: one request at a time. Moving it to "
            "`def` takes the work off the loop thread but not off the GIL: the threads take turns holding it, so the "
            "burst is no faster, and the loop thread waits its turn behind every busy thread (the GIL convoy: its "
            "lag and /health latency grow with the number of busy threads; read the `def` twin's lag). For "
            "pure-Python work only separate processes (a process pool made in the lifespan, or more workers) "
            "compute in parallel, up to the number of cores. NumPy, BLAS and ONNX Runtime kernels release the GIL: "
            "there, threads do scale (`lab compare -s numpy`).",
            Playbook(  # `def` stays responsive but is no faster; only processes are
                10,
                100,
                ("broken", "sync", "async"),
                {"broken": "async def + CPU loop", "sync": "def: threads, one GIL", "async": "process pool"},
            ),
        ),
        Scenario(
            "predict",
            "POST",
            "/predict/{variant}",
            "a /predict endpoint with simulated model latency",
            "The broken /predict is `async def` with a blocking call (a synchronous SDK, simulated by "
            "`time.sleep`). It holds the event loop for the whole call, so requests are served one at a time: "
            "{n} x {d} ms. Either make the handler `def` (a worker thread blocks instead of the loop) or await an "
            "async client.",
            Playbook(
                10,
                100,
                ("broken", "async"),
                {
                    "broken": "async def + blocking SDK",
                    "sync": "def + blocking SDK",
                    "async": "async def + awaited call",
                },
            ),
            {"feature_1": 1.5, "feature_2": 0.3},
        ),
        Scenario(
            "pool",
            "GET",
            "/pool/{variant}",
            "thread-pool limits: which pool, and how many threads",
            "`asyncio.to_thread` looks right but uses asyncio's default executor, min(32, cores + 4) threads, not "
            "AnyIO's pool of 40 tokens that `def` handlers use: all {n} requests are in their handler at once, each "
            "awaiting a thread, while only that many threads run, so the burst answers in small waves. Above 40 "
            "requests even `def` handlers wait for a token, and each `def` route takes a token twice (once to run, "
            "once to validate its response), so {n} requests answer in groups rather than in clean waves of 40. "
            "`anyio.to_thread.run_sync` with a limiter sized for your load, made once, removes the waves.",
            Playbook(  # above AnyIO's 40 tokens even `def` runs in waves: two of them at 60
                60,
                200,
                ("broken", "sync", "async"),
                {"broken": "asyncio.to_thread", "sync": "def: 40 tokens", "async": "anyio.to_thread + wide limiter"},
            ),
        ),
        Scenario(
            "downstream",
            "GET",
            "/downstream/{variant}",
            "calling a slow downstream feature store",
            "The broken handler calls the feature store with a synchronous HTTP client inside `async def`: the "
            "event loop waits for each call, so the store sees one request at a time. One `AsyncClient`, made in "
            "the lifespan and awaited, lets every call wait at once.",
            Playbook(
                10,
                200,
                ("broken", "async"),
                {"broken": "async def + httpx.Client", "sync": "def + httpx.Client", "async": "shared AsyncClient"},
            ),
        ),
        Scenario(
            "numpy",
            "GET",
            "/numpy/{variant}",
            "CPU-bound inference in NumPy (BLAS kernels release the GIL)",
            "The model runs in NumPy: its matmuls and ufuncs run in C and release the GIL, so FastAPI's worker "
            "threads compute on every free core at once: with cores to spare, `def` beats one request at a time, "
            "with no process pool and no model copy per process. Releasing the GIL does not free the event loop: in "
            "`async def` the same call holds the loop thread until it ends, so {n} requests take {n} x {d} ms. "
            "`def` or `await run_in_threadpool(...)` fix it. This server caps BLAS to one intra-op thread per "
            "request thread at start-up (threadpoolctl): left at its default (one per core), BLAS threads times "
            "request threads times workers oversubscribe the cores.",
            Playbook(  # threads scale here: the broken twin against `def`, and the awaited twin
                10,
                100,
                ("broken", "sync", "async"),
                {"broken": "async def + NumPy", "sync": "def: threads, GIL released", "async": "run_in_threadpool"},
            ),
        ),
        Scenario(
            "onnx",
            "GET",
            "/onnx/{variant}",
            "CPU-bound inference in ONNX Runtime (its kernels release the GIL)",
            "The same model as `numpy`, exported to an ONNX graph and run by ONNX Runtime, as many models are "
            "served: `InferenceSession.run` computes in C++ and releases the GIL, so FastAPI's worker threads run "
            "inferences side by side and `def` beats one request at a time, with no process pool and no model copy "
            "per process. Releasing the GIL does not free the event loop: in `async def` the same `run` holds the "
            "loop thread until it returns, so {n} requests take {n} x {d} ms. `def` or `await run_in_threadpool(...)` "
            "fix it. ONNX Runtime runs its own intra-op pool inside each call (one thread per physical core by "
            "default): this server sets `intra_op_num_threads=1` once, when it loads the session, so request "
            "threads times intra-op threads do not oversubscribe the cores.",
            Playbook(  # as numpy: the broken twin against `def`, and the awaited twin
                10,
                100,
                ("broken", "sync", "async"),
                {
                    "broken": "async def + session.run",
                    "sync": "def: threads, GIL released",
                    "async": "run_in_threadpool",
                },
            ),
            extra=ONNX_EXTRA,
        ),
    )
}
