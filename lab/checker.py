"""Run one exercise: the learner's file and the solution's, each in its own server, under the same burst.

    result = check_exercise(catalog.resolve("3"))                      # the learner's exercises/ file
    result = check_exercise(exercise, learner_file=exercise.solution_path)  # any other file, same burst

Both servers start side by side (start-up is most of a check's time); the bursts run one after the
other, solution first, so the learner's timeouts can be sized from the solution's times and neither
burst competes with the other for the machine's cores. The numbers go to the pure judge in
`lab.grading`; this module only measures, and turns what the learner's code did wrong (did not load,
answered 500, hung, killed its process, left threads running) into one verdict naming file and line.

The burst here is not `lab.burst.burst`: that one warms up by calling the endpoint, which would load
a lazily-loaded model before the burst and hide exactly the race exercise 6 is about. This one warms
up the connections on `/lab/stats` instead, so the endpoint sees exactly the requests in the catalog.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import signal
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.burst import BURST_DEADLINE, fire
from lab.catalog import BurstSpec, Exercise
from lab.client import httpx
from lab.grading import Check, Measurement, canonical, grade
from lab.lint import Finding, lint_file
from lab.measure import Sample, Summary, summarize
from lab.server import ServerError, ServerProcess

STARTUP_TIMEOUT_S = 20.0  # a learner's module that sleeps at import time must not hold the check forever
SOLUTION_TIMEOUT_S = 30.0  # per request, for the reference solution
MIN_TIMEOUT_S = 5.0  # per request, for the learner: at least this...
MAX_TIMEOUT_S = 20.0  # ...and at most this, whatever the solution took
SOLUTION_PROBE_DELAY_S = 0.05
LEAK_SETTLE_S = 0.3  # after the burst, before asking which threads still run the learner's code
STATS_TIMEOUT_S = 3.0
WORKER_TRIES = 4  # read-out requests per worker: new connections land on a worker the kernel picks
READ_ROUNDS = 3  # ...and rounds of them, until every worker has answered
MAX_SUSTAINED_REQUESTS = 5_000
MAX_DISTINCT_BODIES = 20
FAULTHANDLER_ENV = {"PYTHONFAULTHANDLER": "1"}  # SIGABRT then dumps every thread's stack: where it hung


class CheckError(Exception):
    """The lab itself could not run the check (e.g. the solution failed): one line, not the learner's fault."""


@dataclass(frozen=True)
class Fault:
    """Something the learner's code did that stopped it from being measured properly."""

    kind: str  # "load", "error", "hang", "crash", "leak", "missing"
    message: str  # one line, with `file:line` where known


@dataclass(frozen=True)
class Run:
    """One server under the burst: the client's samples, the server's readings, the judge's input."""

    file: Path
    samples: list[Sample]
    summary: Summary
    measurement: Measurement
    stats: dict[str, Any] | None
    timeout_s: float
    threads_before: int = 0  # threads in the server's processes before the burst...
    threads_after: int = 0  # ...and after it (leak detection)


@dataclass(frozen=True)
class CheckResult:
    exercise: Exercise
    learner_file: Path
    passed: bool
    reasons: list[str]
    checks: list[Check] = field(default_factory=list)
    fault: Fault | None = None
    learner: Run | None = None
    solution: Run | None = None
    findings: list[Finding] = field(default_factory=list)
    elapsed_s: float = 0.0
    pids: list[int] = field(default_factory=list)  # every server process group started (all stopped)

    @property
    def verdict(self) -> str:
        if self.passed:
            return "passed"
        return FAULT_VERDICTS.get(self.fault.kind, "failed") if self.fault else "failed"

    def to_json(self) -> dict[str, Any]:
        return {
            "exercise": self.exercise.id,
            "title": self.exercise.title,
            "file": str(self.learner_file),
            "passed": self.passed,
            "verdict": self.verdict,
            "reasons": self.reasons,
            "fault": None if self.fault is None else {"kind": self.fault.kind, "message": self.fault.message},
            "checks": [{"name": c.name, "passed": c.passed, "reason": c.reason} for c in self.checks],
            "findings": [{"line": f.line, "code": f.code, "message": f.message} for f in self.findings],
            "learner": _run_json(self.learner),
            "solution": _run_json(self.solution),
            "elapsed_s": round(self.elapsed_s, 3),
        }


FAULT_VERDICTS = {
    "missing": "file missing",
    "load": "does not load",
    "error": "raises errors",
    "hang": "hangs",
    "crash": "crashed",
    "leak": "leaks threads",
}


def _run_json(run: Run | None) -> dict[str, Any] | None:
    if run is None:
        return None
    m = run.measurement
    return {
        "file": str(run.file),
        "requests": m.requests,
        "ok": m.ok,
        "wall_s": round(m.wall_s, 6),
        "peak_in_flight": m.peak_in_flight,
        "loop_lag_max_s": round(m.loop_lag_max_s, 6),
        "thread_tokens_peak": m.tokens_peak,
        "counters": m.counters,
        "gauge_peaks": m.gauge_peaks,
        "pids": m.pids,
        "probe_s": None if m.probe_s is None else round(m.probe_s, 6),
        "status_counts": m.status_counts,
        "errors": m.errors,
    }


def check_exercise(exercise: Exercise, learner_file: Path | None = None, *, lint: bool = True) -> CheckResult:
    """Measure the learner's file against the solution under the exercise's burst, and judge it."""
    began = time.monotonic()
    learner_file = (learner_file or exercise.path).resolve()
    findings: list[Finding] = []

    def finish(passed: bool, reasons: list[str], **kw: Any) -> CheckResult:
        return CheckResult(
            exercise, learner_file, passed, reasons, findings=findings, elapsed_s=time.monotonic() - began, **kw
        )

    if not learner_file.is_file():
        missing = Fault("missing", f"{learner_file}: no such file")
        return finish(False, [missing.message], fault=missing)
    if not exercise.solution_path.is_file():
        raise CheckError(f"{exercise.id}: the solution {exercise.solution_path} is missing")

    spec = exercise.burst
    learner_server = _server(learner_file, spec)
    solution_server = _server(exercise.solution_path, spec)
    pids: list[int] = []
    fault: Fault | None = None
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="lab-check") as pool:
        linted = pool.submit(lint_file, learner_file) if lint else None
        try:
            # Side by side: each start-up is mostly imports, and the two overlap well.
            started = {s: pool.submit(s.start) for s in (learner_server, solution_server)}
            learner_error = _start_error(learner_server, started[learner_server], learner_file)
            solution_error = _start_error(solution_server, started[solution_server], exercise.solution_path)
            pids = [p for p in (learner_server.pid, solution_server.pid) if p is not None]
            findings = linted.result() if linted else []
            if learner_error is not None:  # nothing to measure: say so at once
                load_fault = Fault("load", learner_error)
                return finish(False, [load_fault.message], fault=load_fault, pids=pids)
            if solution_error is not None:
                raise CheckError(f"{exercise.id}: the solution did not start: {solution_error}")
            solution = _measure(solution_server, exercise, SOLUTION_TIMEOUT_S, SOLUTION_PROBE_DELAY_S)
            reference = solution.measurement
            if exercise.expect.all_ok and reference.ok < reference.requests:
                problems = {**reference.status_counts, **reference.errors}
                raise CheckError(f"{exercise.id}: the solution itself failed under the burst ({problems}): a lab bug")
            solution_stopped = pool.submit(solution_server.stop)
            learner = _measure(learner_server, exercise, _learner_timeout(solution, spec), _probe_delay(solution, spec))
            fault = _diagnose(learner_server, learner, learner_file, solution)
            solution_stopped.result()
        finally:
            # Nothing is left to measure: no graceful shutdown, the whole process group goes at once.
            learner_server.stop(grace_s=0)
            solution_server.stop(grace_s=0)
    judged = grade(exercise.expect, spec, learner.measurement, solution.measurement)
    reasons = judged.reasons if fault is None else [fault.message, *[c.reason for c in judged.checks if not c.passed]]
    passed = judged.passed and fault is None
    return finish(passed, reasons, checks=judged.checks, fault=fault, learner=learner, solution=solution, pids=pids)


def _server(file: Path, spec: BurstSpec) -> ServerProcess:
    return ServerProcess(
        str(file),
        workers=spec.workers,
        with_store=spec.with_store,
        startup_timeout_s=STARTUP_TIMEOUT_S,
        env=FAULTHANDLER_ENV,
    )


def _start_error(server: ServerProcess, started: Future[ServerProcess], file: Path) -> str | None:
    """Why the server did not start, pointing into `file` when its output says where."""
    try:
        started.result()
    except ServerError as exc:
        message = str(exc)
        if file.name in message:
            return message  # already `file:line: Kind: message` (lab.host's own report)
        site = _error_site(server.log_text(), file)
        return f"{site} (at start-up: {message})" if site else message
    return None


def _learner_timeout(solution: Run, spec: BurstSpec) -> float:
    """Long enough for a learner whose requests run one after another, short enough to call a hang a hang."""
    slowest = solution.summary.latency.max if solution.summary.latency else solution.summary.wall_s
    serialized = 1.5 * spec.requests * slowest if spec.sustained_s == 0 else 5 * slowest
    return min(MAX_TIMEOUT_S, max(MIN_TIMEOUT_S, 5 * solution.summary.wall_s, serialized))


def _probe_delay(solution: Run, spec: BurstSpec) -> float:
    """About a quarter of the way into the fixed burst: every request has arrived, none has finished."""
    if spec.sustained_s > 0:
        return spec.sustained_s / 4
    return min(1.0, max(0.02, solution.summary.wall_s / 4))


def _measure(server: ServerProcess, exercise: Exercise, timeout_s: float, probe_delay_s: float) -> Run:
    import uvloop  # a cheaper client loop: less of the client's own cost shows in the timings

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_fire(server, exercise, timeout_s, probe_delay_s))


@dataclass
class _Firing:
    samples: list[Sample] = field(default_factory=list)
    bodies: Counter[str] = field(default_factory=Counter)
    probe_s: float | None = None


async def _fire(server: ServerProcess, exercise: Exercise, timeout_s: float, probe_delay_s: float) -> Run:
    spec = exercise.burst
    at_once = spec.at_once
    # Sustained load (workers): a new connection per request, so the kernel spreads them over the
    # workers; kept-alive connections would stay on whichever worker accepted them first.
    keep_alive = 0 if spec.sustained_s > 0 else at_once
    limits = httpx.Limits(max_connections=at_once, max_keepalive_connections=keep_alive)
    client_timeout = httpx.Timeout(timeout_s, connect=5.0, pool=None)  # never queue in the client's own pool
    firing = _Firing()
    # verify=False: plain http to 127.0.0.1 only, and loading the CA bundle costs ~35 ms per client.
    async with (
        httpx.AsyncClient(base_url=server.url, limits=limits, timeout=client_timeout, verify=False) as client,
        httpx.AsyncClient(base_url=server.url, timeout=client_timeout, verify=False) as probe_client,  # own conn
    ):
        # Open every connection before the clock starts, on the lab's read-out (the endpoint sees nothing).
        with contextlib.suppress(httpx.HTTPError):
            await asyncio.gather(*(client.get("/lab/stats") for _ in range(at_once)), probe_client.get("/lab/stats"))
        window_start = time.perf_counter()  # CLOCK_MONOTONIC: the servers' `since` is on the same clock
        await _every_worker(server.url, spec.workers, "POST", "/lab/stats/reset")
        threads_before = _group_threads(server.pid) if server.pid is not None else 0
        deadline_s = timeout_s * math.ceil(spec.requests / at_once) + spec.sustained_s + 1
        deadline_s = min(deadline_s, timeout_s + spec.sustained_s + 5)  # bounded even when every round hangs
        await _burst(client, probe_client, spec, exercise.expect.ignore_keys, firing, probe_delay_s, deadline_s)
        stats = _merge_workers(await _read_workers(server.url, spec.workers, window_start), window_start)
        threads_after = _group_threads(server.pid) if server.pid is not None else 0
    samples = sorted(firing.samples, key=lambda s: s.index)
    summary = summarize(samples)
    return Run(
        Path(server.target),
        samples,
        summary,
        _measurement(spec, summary, stats, firing),
        stats,
        timeout_s,
        threads_before,
        threads_after,
    )


async def _burst(
    client: httpx.AsyncClient,
    probe_client: httpx.AsyncClient,
    spec: BurstSpec,
    ignore_keys: tuple[str, ...],
    firing: _Firing,
    probe_delay_s: float,
    deadline_s: float,
) -> None:
    """The catalog's burst through the lab's own firing loop, with a probe sent mid-burst beside it."""
    sustained = spec.sustained_s > 0
    released = asyncio.Event()

    def keep(response: httpx.Response) -> None:
        if 200 <= response.status_code < 300:
            _keep_body(firing.bodies, response, ignore_keys)

    async def probe(path: str) -> None:
        await released.wait()
        await asyncio.sleep(probe_delay_s)
        began = time.perf_counter()
        with contextlib.suppress(httpx.HTTPError, TimeoutError):
            async with asyncio.timeout(deadline_s):
                (await probe_client.get(path)).raise_for_status()
            firing.probe_s = time.perf_counter() - began

    probing = asyncio.create_task(probe(spec.probe)) if spec.probe is not None else None
    firing.samples = await fire(
        client,
        spec.method,
        spec.path,
        spec.json,
        MAX_SUSTAINED_REQUESTS if sustained else spec.requests,
        spec.at_once,
        # Sustained load ramps up: connections opened at the very same instant can all land on one worker.
        sustain_s=spec.sustained_s,
        ramp_s=min(0.05, spec.sustained_s / (4 * spec.at_once)) if sustained else 0.0,
        deadline_s=deadline_s,
        on_start=lambda _t0: released.set(),
        on_response=keep,
    )
    if probing is not None:
        await probing


def _keep_body(bodies: Counter[str], response: httpx.Response, ignore_keys: tuple[str, ...]) -> None:
    try:
        text = canonical(response.json(), ignore_keys)
    except ValueError:
        text = response.text
    if text in bodies or len(bodies) < MAX_DISTINCT_BODIES:
        bodies[text] += 1


async def _every_worker(url: str, workers: int, method: str, path: str) -> list[dict[str, Any]]:
    """Send a read-out request to every worker, as far as one can: each worker process has its own
    instruments, and the kernel hands each new connection to one of them. With one worker, one request."""
    tries = 1 if workers == 1 else WORKER_TRIES * workers
    limits = httpx.Limits(max_keepalive_connections=0)  # a new connection each: spread over the workers
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=STATS_TIMEOUT_S, verify=False) as client:

        async def one() -> dict[str, Any] | None:
            try:
                data: dict[str, Any] = (await client.request(method, path)).raise_for_status().json()
            except (httpx.HTTPError, ValueError):
                return None  # a loop still blocked by the learner's code cannot answer: the judge is told
            return data

        answers = await asyncio.gather(*(one() for _ in range(tries)))
    return [a for a in answers if a is not None]


async def _read_workers(url: str, workers: int, window_start: float) -> list[dict[str, Any]]:
    """Every worker's `/lab/stats`, in a few rounds: until each worker has answered once since the reset."""
    snapshots: list[dict[str, Any]] = []
    for _ in range(1 if workers == 1 else READ_ROUNDS):
        snapshots += await _every_worker(url, workers, "GET", "/lab/stats")
        fresh = {s.get("since") for s in snapshots if float(s.get("since", 0.0)) >= window_start}
        if not snapshots or len(fresh) >= workers:
            break
        await asyncio.sleep(0.02)
    return snapshots


def _merge_workers(snapshots: list[dict[str, Any]], window_start: float) -> dict[str, Any] | None:
    """One view of the server from its workers' snapshots (one each, told apart by `since`).

    Snapshots from before the window (a worker the reset did not reach) still count their start-up, so
    they are used only when no fresh one came back. Peaks and lag: the worst worker; counters: summed.
    """
    workers = {s.get("since"): s for s in snapshots}
    fresh = [s for s in workers.values() if float(s.get("since", 0.0)) >= window_start]
    chosen = fresh or list(workers.values())
    if not chosen:
        return None
    if len(chosen) == 1:
        return chosen[0]
    counters: Counter[str] = Counter()
    gauges: dict[str, dict[str, int]] = {}
    for snapshot in chosen:
        counters.update(snapshot.get("counters", {}))
        for name, gauge in snapshot.get("gauges", {}).items():
            peak = max(int(gauge.get("peak", 0)), gauges.get(name, {}).get("peak", 0))
            gauges[name] = {"current": 0, "peak": peak}
    merged = dict(chosen[0])
    for key in ("peak_in_flight", "loop_lag_max_s", "thread_tokens_total", "thread_tokens_peak"):
        merged[key] = max(s.get(key, 0) for s in chosen)
    merged.update(counters=dict(counters), gauges=gauges, workers_reporting=len(chosen))
    return merged


def _measurement(spec: BurstSpec, summary: Summary, stats: dict[str, Any] | None, firing: _Firing) -> Measurement:
    wall_s = summary.wall_s
    if spec.sustained_s > 0:  # a fixed duration: compare the time per answered request instead
        wall_s = summary.wall_s / summary.ok if summary.ok else math.inf
    common: dict[str, Any] = {
        "requests": summary.requests,
        "ok": sum(n for code, n in summary.status_counts.items() if code.startswith("2")),
        "wall_s": wall_s,
        "pids": summary.pids,
        "probe_s": firing.probe_s,
        "status_counts": summary.status_counts,
        "errors": summary.errors,
        "bodies": dict(firing.bodies),
    }
    if stats is None:
        return Measurement(**common, has_stats=False)
    return Measurement(
        **common,
        peak_in_flight=int(stats.get("peak_in_flight", 0)),
        loop_lag_max_s=float(stats.get("loop_lag_max_s", 0.0)),
        tokens_peak=int(stats.get("thread_tokens_peak", 0)),
        tokens_total=int(stats.get("thread_tokens_total", 0)),
        counters={k: int(v) for k, v in stats.get("counters", {}).items()},
        gauge_peaks={k: int(v.get("peak", 0)) for k, v in stats.get("gauges", {}).items()},
    )


def _diagnose(server: ServerProcess, run: Run, file: Path, solution: Run) -> Fault | None:
    """What went wrong with the learner's process, if anything, in order of how much it explains."""
    summary = run.summary
    unanswered = sum(summary.errors.get(kind, 0) for kind in (BURST_DEADLINE, "Timeout", "ReadTimeout"))
    if not server.alive:
        tail = server.log_tail()
        said = f" (its last words: {tail})" if tail else ""
        return Fault(
            "crash",
            f"{file.name}: the server process exited during the burst{said}: "
            "something in the code ended it (os._exit, sys.exit in a thread, a fatal error)",
        )
    if unanswered:
        where = _hang_site(server, file)
        return Fault(
            "hang",
            f"{where}: {unanswered} of {summary.requests} requests got no answer within {run.timeout_s:.0f} s: "
            "the endpoint never returns, or takes far longer than the solution (an endless loop, a lock never "
            "released, a wait for nothing)",
        )
    errors = sum(n for code, n in summary.status_counts.items() if code.startswith("5"))
    if errors:
        where = _error_site(server.log_text(), file) or f"{file.name}: HTTP 500"
        return Fault("error", f"{where} ({errors} of {summary.requests} requests answered 5xx)")
    return _leak(server, run, file, solution)


def _hang_site(server: ServerProcess, file: Path) -> str:
    """Where the stuck process is: the learner's frame nearest the top of any thread's stack."""
    return _first_frame(_dump_stacks(server), file) or file.name


def _dump_stacks(server: ServerProcess) -> str:
    """Every thread's stack, from faulthandler (PYTHONFAULTHANDLER) on SIGABRT. This ends the process:
    only for a server that is done with."""
    if server.pid is None:
        return ""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(server.pid, signal.SIGABRT)
    deadline = time.monotonic() + 3
    while server.alive and time.monotonic() < deadline:
        time.sleep(0.02)
    return server.log_text()


def _leak(server: ServerProcess, run: Run, file: Path, solution: Run) -> Fault | None:
    """Threads still running the learner's code after every response was sent.

    Idle pool threads (AnyIO's, asyncio's executor) wait inside the standard library; a thread whose
    stack is in the learner's file is doing work nobody waits for. Only looked at when the burst left
    more new threads than the solution's did, after a short settle, so that work just finishing can.
    """
    grew = run.threads_after - run.threads_before
    if server.pid is None or grew <= 0 or grew <= solution.threads_after - solution.threads_before:
        return None
    time.sleep(LEAK_SETTLE_S)
    for stack in _thread_stacks(_dump_stacks(server)):
        where = _first_frame(stack, file)
        if where is not None:
            return Fault(
                "leak",
                f"{where}: still running in a thread after every response was sent: work your code started "
                "that nobody waits for (a thread started per request, or a timeout that abandoned its work)",
            )
    return None


def _thread_stacks(dump: str) -> list[str]:
    """The stacks of a faulthandler dump's other threads; the current thread is the signal handler's."""
    stacks = re.split(r"^(?=Thread 0x|Current thread 0x)", dump, flags=re.MULTILINE)
    return [stack for stack in stacks if stack.startswith("Thread 0x")]


def _group_threads(pgid: int) -> int:
    """Threads of every process in the server's process group (workers included), from /proc."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            total += len(os.listdir(entry / "task"))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return total


_TRACEBACK_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')
_FAULTHANDLER_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<func>\S+)')
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Group|Warning)\b.*")


def _first_frame(dump: str, file: Path) -> str | None:
    """`exercise.py:14 (in predict)`: the learner's frame nearest the top of a faulthandler dump."""
    for line in dump.splitlines():
        match = _FAULTHANDLER_FRAME.match(line)
        if match and _same_file(match["file"], file):
            return f"{file.name}:{match['line']} (in {match['func']})"
    return None


def _error_site(log: str, file: Path) -> str | None:
    """`exercise.py:14 (in predict): ZeroDivisionError: division by zero` from the server's last traceback."""
    lines = log.splitlines()
    starts = [i for i, line in enumerate(lines) if "Traceback (most recent call last)" in line]
    if not starts:
        return None
    block = lines[starts[-1] :]
    site = None
    for line in block:
        match = _TRACEBACK_FRAME.match(line)
        if match and _same_file(match["file"], file):
            site = f"{file.name}:{match['line']} (in {match['func']})"  # keep the deepest
    exception = next((line.strip() for line in reversed(block) if _EXCEPTION_LINE.match(line)), None)
    if site is None and exception is None:
        return None
    return ": ".join(part for part in (site or file.name, exception) if part)


def _same_file(reported: str, file: Path) -> bool:
    try:
        return Path(reported).resolve() == file
    except OSError:
        return False
