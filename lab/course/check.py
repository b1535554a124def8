"""Run one exercise: the learner's file and the solution's, each in its own server, under the same burst.

    result = check_exercise(catalog.resolve("3"))                      # the learner's exercises/ file
    result = check_exercise(exercise, learner_file=exercise.solution_path)  # any other file, same burst

Both servers start side by side (start-up is most of a check's time); the bursts run one after the
other, solution first, so the learner's timeouts can be sized from the solution's times and neither
burst competes with the other for the machine's cores. One more request goes to the solution alone (what
the work costs by itself, for the work-time check): at once when its work computes, beside the learner's
burst when it only waits (`lab.course.grade.work_computes`), where it costs neither time nor cores.
The numbers go to the pure judge in `lab.course.grade`; this module only measures, and turns what the
learner's code did wrong (did not load, answered 500, hung, killed its process, left threads running)
into one verdict naming file and line.

Each burst goes through the lab's one burst procedure, `lab.load.burst.fire_burst`, told to warm up on
`/lab/stats` rather than on the endpoint (as `lab burst` does): a warm-up request to the endpoint would load
a lazily-loaded model before the burst and hide exactly the race exercise 6 is about, so the endpoint sees
exactly the requests in the catalog. Around the firing, this module adds what only a check measures: a probe
sent mid-burst, and the threads, CPU time and run-queue wait of the server's process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import os
import time
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lab.client import BurstClient, Reply, burst_client, httpx, preload_burst_client
from lab.course.catalog import BurstSpec, Exercise, TrafficSpec
from lab.course.faults import FAULTHANDLER_ENV, diagnose, start_error
from lab.course.grade import (
    Grade,
    Measurement,
    canonical,
    grade,
    grade_traffic,
    too_busy_to_judge,
    work_computes,
)
from lab.course.lint import Finding, lint_file
from lab.course.results import CheckResult, Fault, Run
from lab.course.traffic import Probed, drive
from lab.errors import CheckError
from lab.launch.forked import server_process
from lab.launch.process import ServerProcess, group_usage
from lab.load.burst import Shot, fire_burst
from lab.load.fire import request, run
from lab.load.measure import Sample, Summary, latency_stats, summarize
from lab.load.stats import open_connections
from lab.protocol import ServerStats, ServerTimes

STARTUP_TIMEOUT_S = 20.0  # a learner's module that sleeps at import time must not hold the check forever
SOLUTION_TIMEOUT_S = 30.0  # per request, for the reference solution
MIN_TIMEOUT_S = 5.0  # per request, for the learner: at least this...
MAX_TIMEOUT_S = 20.0  # ...and at most this, whatever the solution took
SOLUTION_PROBE_DELAY_S = 0.05
MAX_SUSTAINED_REQUESTS = 5_000
MAX_DISTINCT_BODIES = 20
SETTLE_S = 3.0  # at most this long for background work (counted in gauges) to finish after the burst
MAX_REMEASURES = 2  # a learner's burst measured on a machine too busy to judge it is measured again, this often


def check_exercise(exercise: Exercise, learner_file: Path | None = None, *, lint: bool = True) -> CheckResult:
    """Measure the learner's file against the solution under the exercise's burst, and judge it."""
    began = time.monotonic()
    learner_file = (learner_file or exercise.path).resolve()
    if not learner_file.is_file():
        missing = Fault("missing", f"{learner_file}: no such file")
        return _result(exercise, learner_file, began, [], False, [missing.message], fault=missing)
    if not exercise.solution_path.is_file():
        raise CheckError(f"{exercise.id}: the solution {exercise.solution_path} is missing")

    learner_server = _server(learner_file, exercise.burst)
    solution_server = _server(exercise.solution_path, exercise.burst)
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="lab-check") as pool:
        linted = pool.submit(lint_file, learner_file) if lint else None
        # What the first burst would import on its way; now, while the servers start, not after, when
        # it would sit between a save and its verdict.
        pool.submit(_preload)
        check = _Check(exercise, learner_file, pool, learner_server, solution_server)
        try:
            learner_error = check.start()
            findings = linted.result() if linted else []
            if learner_error is not None:  # nothing to measure: say so at once
                load_fault = Fault("load", learner_error)
                return _result(
                    exercise,
                    learner_file,
                    began,
                    findings,
                    False,
                    [load_fault.message],
                    fault=load_fault,
                    pids=check.pids,
                )
            solution, learner, fault, judged = check.measure()
        finally:
            check.stop()  # nothing is left to measure: no graceful shutdown, the whole process group goes at once
    reasons = judged.reasons if fault is None else [fault.message, *[c.reason for c in judged.checks if not c.passed]]
    return _result(
        exercise,
        learner_file,
        began,
        findings,
        judged.passed and fault is None,
        reasons,
        checks=judged.checks,
        fault=fault,
        learner=learner,
        solution=solution,
        pids=check.pids,
        remeasured=check.remeasured,
    )


def _result(
    exercise: Exercise,
    learner_file: Path,
    began: float,
    findings: list[Finding],
    passed: bool,
    reasons: list[str],
    **kw: Any,
) -> CheckResult:
    return CheckResult(
        exercise, learner_file, passed, reasons, findings=findings, elapsed_s=time.monotonic() - began, **kw
    )


@dataclass
class _Check:
    """One check's two servers, and the three steps `check_exercise` takes with them: start both, measure
    the solution, judge (or measure again) the learner."""

    exercise: Exercise
    learner_file: Path
    pool: ThreadPoolExecutor
    learner_server: ServerProcess
    solution_server: ServerProcess
    pids: list[int] = field(default_factory=list)
    remeasured: list[str] = field(default_factory=list)

    def start(self) -> str | None:
        """Both servers, side by side (each start-up is mostly imports, and the two overlap well): why the
        learner's did not start, if it did not. A solution that does not start is the lab's fault."""
        learner, solution = self.learner_server, self.solution_server
        started = {s: self.pool.submit(s.start) for s in (learner, solution)}
        learner_error = start_error(learner, started[learner], self.learner_file)
        solution_error = start_error(solution, started[solution], self.exercise.solution_path)
        self.pids = [p for p in (learner.pid, solution.pid) if p is not None]
        if learner_error is None and solution_error is not None:
            raise CheckError(f"{self.exercise.id}: the solution did not start: {solution_error}")
        return learner_error

    def measure(self) -> tuple[Run, Run, Fault | None, Grade]:
        """Both runs (solution, learner), what went wrong in the learner's, and the verdict."""
        if self.exercise.traffic is not None:
            return self.under_traffic(self.exercise.traffic)
        solution, reference = self.measure_solution()
        learner, fault, judged = self.judge_learner(solution, reference)
        return reference.result(), learner, fault, judged

    def under_traffic(self, traffic: TrafficSpec) -> tuple[Run, Run, Fault | None, Grade]:
        """The steady path: the solution, then the learner, under the same traffic and probes. Judged on counts
        (restarts, failed probes, rotation, calls made), so a busy machine is never a reason to measure again."""
        exercise = self.exercise
        solution = _probed_run(self.solution_server, exercise, traffic)
        self.solution_server.stop(grace_s=0)  # nothing more to measure on it: the learner's run gets the cores
        if exercise.expect.all_ok and solution.measurement.ok < solution.measurement.requests:
            problems = {**solution.measurement.status_counts, **solution.measurement.errors}
            raise CheckError(f"{exercise.id}: the solution itself failed under the traffic ({problems}): a lab bug")
        learner = _probed_run(self.learner_server, exercise, traffic)
        fault = diagnose(self.learner_server, learner, self.learner_file, solution)
        judged = grade_traffic(exercise.expect, traffic, learner.measurement, solution.measurement)
        return solution, learner, fault, judged

    def measure_solution(self) -> tuple[Run, Future[Run]]:
        """The solution's burst, and (in `Future`) the same run with one request alone timed, after which
        the solution's server stops."""
        exercise, server = self.exercise, self.solution_server
        solution = _measure(server, exercise, SOLUTION_TIMEOUT_S, SOLUTION_PROBE_DELAY_S)
        burst_run = solution.measurement
        if exercise.expect.all_ok and burst_run.ok < burst_run.requests:
            problems = {**burst_run.status_counts, **burst_run.errors}
            raise CheckError(f"{exercise.id}: the solution itself failed under the burst ({problems}): a lab bug")
        # What the work costs alone, the floor of the work-time check. Work that computes needs the
        # machine to itself, now; work that waits is timed beside the learner's burst, for nothing.
        timed_alone = exercise.expect.min_work_ratio is not None
        beside = timed_alone and not work_computes(burst_run)
        if timed_alone and not beside:
            solution = _timed_alone(solution, server, exercise.burst)

        def solo_then_stop(measured: Run) -> Run:
            try:
                return _timed_alone(measured, server, exercise.burst) if beside else measured
            finally:  # nothing more to measure on it: no graceful shutdown to compete with the learner's burst
                server.stop(grace_s=0)

        return solution, self.pool.submit(solo_then_stop, solution)

    def judge_learner(self, solution: Run, reference: Future[Run]) -> tuple[Run, Fault | None, Grade]:
        """The learner's server under the burst: its run, what went wrong in it, and the verdict; measured
        again, on a fresh server, when the machine was too busy to judge it."""
        spec = self.exercise.burst
        timeout_s, probe_delay_s = _learner_timeout(solution, spec), _probe_delay(solution, spec)
        learner, fault, judged = self._judge(timeout_s, probe_delay_s, solution, reference)
        solution = reference.result()
        while fault is None and len(self.remeasured) < MAX_REMEASURES:
            why = too_busy_to_judge(judged, learner.measurement)
            if why is None:
                break
            # A fresh server, as the first: a second burst on the same one would find a lazy model
            # already loaded, and counters already counted.
            self.remeasured.append(why)
            error = self._restart_learner()
            if error is not None:
                fault = Fault("load", error)
                break
            learner, fault, judged = self._judge(timeout_s, probe_delay_s, solution, reference)
        return learner, fault, judged

    def _judge(
        self, timeout_s: float, probe_delay_s: float, solution: Run, reference: Future[Run]
    ) -> tuple[Run, Fault | None, Grade]:
        server = self.learner_server
        ran = _measure(server, self.exercise, timeout_s, probe_delay_s)
        return ran, diagnose(server, ran, self.learner_file, solution), _grade(self.exercise, ran, reference.result())

    def _restart_learner(self) -> str | None:
        self.learner_server.stop(grace_s=0)
        self.learner_server = _server(self.learner_file, self.exercise.burst)
        error = start_error(self.learner_server, self.pool.submit(self.learner_server.start), self.learner_file)
        self.pids += [self.learner_server.pid] if self.learner_server.pid is not None else []
        return error

    def stop(self) -> None:
        self.learner_server.stop(grace_s=0)
        self.solution_server.stop(grace_s=0)


def _preload() -> None:
    import psutil  # noqa: F401 - group_usage

    preload_burst_client()  # the bursts' own client (lab.client)
    httpx.AsyncClient(verify=False, trust_env=False)  # the read-outs' client imports its transport when made


def _grade(exercise: Exercise, learner: Run, solution: Run) -> Grade:
    # The servers run on this machine: its cores size asyncio's default executor there.
    return grade(exercise.expect, exercise.burst, learner.measurement, solution.measurement, cores=os.cpu_count() or 1)


def _timed_alone(measured: Run, server: ServerProcess, spec: BurstSpec) -> Run:
    """`measured`, with the time one request alone on `server` spent in its handler."""
    solo = dataclasses.replace(measured.measurement, solo_handler_s=run(_solo_handler(server.url, spec)))
    return dataclasses.replace(measured, measurement=solo)


def _server(file: Path, spec: BurstSpec) -> ServerProcess:
    # Forked from a warm host that has imported FastAPI and the lab already: a start then imports only
    # the file itself (lab.launch.warm); each fork is a fresh process, so checks share no state.
    return server_process(
        str(file),
        workers=spec.workers,
        with_store=spec.with_store,
        startup_timeout_s=STARTUP_TIMEOUT_S,
        env=FAULTHANDLER_ENV,
    )


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
    return run(_fire(server, exercise, timeout_s, probe_delay_s))


@dataclass
class _Firing:
    samples: list[Sample] = field(default_factory=list)
    bodies: Counter[str] = field(default_factory=Counter)
    probe_s: float | None = None
    cpu_s: float | None = None
    cpu_waited_s: float | None = None  # see Measurement
    cpu_wait_share: float | None = None  # see Measurement
    threads_before: int = 0
    threads_after: int = 0
    stats: ServerStats | None = None  # the server's own view of the burst's window


async def _solo_handler(url: str, spec: BurstSpec) -> float | None:
    """One request alone on its server: its time in the handler, from the server's own stamps."""
    timeout = httpx.Timeout(SOLUTION_TIMEOUT_S, connect=5.0, pool=None)
    async with burst_client(1, timeout, base_url=url) as client:
        try:
            response = await request(client, spec.method, spec.path, spec.json)
        except (httpx.HTTPError, TimeoutError):
            return None
    stamps = ServerTimes.from_headers(response.headers)
    if stamps is None or stamps.handler_start is None or stamps.handler_end is None:
        return None
    return stamps.handler_end - stamps.handler_start


async def _fire(server: ServerProcess, exercise: Exercise, timeout_s: float, probe_delay_s: float) -> Run:
    spec = exercise.burst
    # Sustained load (workers): a new connection per request, so the kernel spreads them over the
    # workers; kept-alive connections would stay on whichever worker accepted them first.
    keep_alive = spec.sustained_s == 0
    client_timeout = httpx.Timeout(timeout_s, connect=5.0, pool=None)  # never queue in the client's own pool
    firing = _Firing()
    # The bursts' own client (aiohttp under the HTTPX API, lean in the firing loop): httpx2's transport
    # cost ~3 ms of CPU per request here, ~0.1 s of every check's time.
    async with (
        burst_client(spec.at_once, client_timeout, keep_alive=keep_alive, base_url=server.url) as client,
        burst_client(1, client_timeout, base_url=server.url) as probe_client,  # its own connection
    ):
        await open_connections(probe_client, server.url, 1)  # before the clock starts, as the burst's own
        await _burst(client, probe_client, server, exercise, firing, probe_delay_s, timeout_s)
    stats = firing.stats
    samples = sorted(firing.samples, key=lambda s: s.index)
    summary = summarize(samples)
    return Run(
        Path(server.target),
        samples,
        summary,
        _measurement(spec, summary, stats, firing, Path(server.target)),
        stats,
        timeout_s,
        firing.threads_before,
        firing.threads_after,
    )


def _shot(server: ServerProcess, spec: BurstSpec, timeout_s: float, with_settle: bool) -> Shot:
    """The catalog's burst for `lab.load.burst.fire_burst`, warmed up on `/lab/stats`: the endpoint sees
    exactly the catalog's requests (a lazily loaded model must meet the burst cold: exercise 6)."""
    sustained = spec.sustained_s > 0
    deadline_s = timeout_s * math.ceil(spec.requests / spec.at_once) + spec.sustained_s + 1
    return Shot(
        spec.method,
        server.url + spec.path,
        spec.json,
        MAX_SUSTAINED_REQUESTS if sustained else spec.requests,
        spec.at_once,
        warm_up_on="stats",
        workers=spec.workers,
        sustain_s=spec.sustained_s,
        # Sustained load ramps up: connections opened at the very same instant can all land on one worker.
        ramp_s=min(0.05, spec.sustained_s / (4 * spec.at_once)) if sustained else 0.0,
        deadline_s=min(deadline_s, timeout_s + spec.sustained_s + 5),  # bounded even when every round hangs
        settle_s=SETTLE_S if with_settle else 0.0,  # work counted after its response (background tasks)
        loop_pids=tuple(_loop_pids(server, spec.workers)),
    )


async def _burst(
    client: BurstClient,
    probe_client: BurstClient,
    server: ServerProcess,
    exercise: Exercise,
    firing: _Firing,
    probe_delay_s: float,
    timeout_s: float,
) -> None:
    """The catalog's burst through the lab's one burst procedure, with a probe sent mid-burst beside it,
    and the server's threads and CPU time measured around it; all of it kept in `firing`."""
    spec = exercise.burst
    released = asyncio.Event()

    def keep(response: Reply) -> None:
        if 200 <= response.status_code < 300:
            _keep_body(firing.bodies, response, exercise.expect.ignore_keys)

    async def probe(path: str, deadline_s: float) -> None:
        await released.wait()
        await asyncio.sleep(probe_delay_s)
        began = time.perf_counter()
        with contextlib.suppress(httpx.HTTPError, TimeoutError):
            async with asyncio.timeout(deadline_s):
                (await probe_client.get(path)).raise_for_status()
            firing.probe_s = time.perf_counter() - began

    shot = _shot(server, spec, timeout_s, with_settle=bool(exercise.expect.work_counters))

    @contextlib.asynccontextmanager
    async def around() -> AsyncIterator[None]:
        firing.threads_before, cpu_before, waited_before = _usage(server)
        probing = asyncio.create_task(probe(spec.probe, shot.deadline_s)) if spec.probe is not None else None
        yield
        if probing is not None:
            await probing
        firing.threads_after, cpu_after, waited_after = _usage(server)
        firing.cpu_s = cpu_after - cpu_before if server.pid is not None else None
        if waited_before is not None and waited_after is not None:
            # A thread that ended during the burst takes its count away with it: never below nothing.
            firing.cpu_waited_s = max(0.0, waited_after - waited_before)

    fired = await fire_burst(client, shot, around=around, on_start=lambda _t0: released.set(), on_response=keep)
    firing.samples, firing.stats, firing.cpu_wait_share = fired.samples, fired.server, fired.cpu_wait_share


def _usage(server: ServerProcess) -> tuple[int, float, float | None]:
    """The server's process group's threads, CPU seconds and run-queue wait so far (`group_usage`)."""
    return group_usage(server.pid) if server.pid is not None else (0, 0.0, None)


def _loop_pids(server: ServerProcess, workers: int) -> list[int]:
    """The processes whose main thread runs an event loop: the server, or its uvicorn workers."""
    if server.pid is None:
        return []
    if workers == 1:
        return [server.pid]
    import psutil

    try:
        return [child.pid for child in psutil.Process(server.pid).children()]
    except psutil.Error:
        return []


def _keep_body(bodies: Counter[str], response: Reply, ignore_keys: tuple[str, ...]) -> None:
    try:
        text = canonical(response.json(), ignore_keys)
    except ValueError:
        text = response.text
    if text in bodies or len(bodies) < MAX_DISTINCT_BODIES:
        bodies[text] += 1


def _measurement(
    spec: BurstSpec, summary: Summary, stats: ServerStats | None, firing: _Firing, file: Path
) -> Measurement:
    if stats is None:
        return Measurement(**_client_side(spec, summary, firing), has_stats=False)
    return Measurement(**_client_side(spec, summary, firing), **_server_side(spec, stats, file))


def _client_side(spec: BurstSpec, summary: Summary, firing: _Firing) -> dict[str, Any]:
    """What the client and the server's process group measured: every check has it."""
    handled = [
        s.handler_end_s - s.handler_start_s
        for s in firing.samples
        if s.ok and s.handler_start_s is not None and s.handler_end_s is not None
    ]
    wall_s = summary.wall_s
    if spec.sustained_s > 0:  # a fixed duration: compare the time per answered request instead
        wall_s = summary.wall_s / summary.ok if summary.ok else math.inf
    return {
        "requests": summary.requests,
        "ok": sum(n for code, n in summary.status_counts.items() if code.startswith("2")),
        "wall_s": wall_s,
        "pids": summary.pids,
        "probe_s": firing.probe_s,
        "status_counts": summary.status_counts,
        "errors": summary.errors,
        "bodies": dict(firing.bodies),
        "p50_s": summary.latency.p50 if summary.latency else None,
        "min_handler_s": min(handled) if handled else None,
        "cpu_s": firing.cpu_s,
        "cpu_waited_s": firing.cpu_waited_s,
        "cpu_wait_share": firing.cpu_wait_share,
    }


def _server_side(spec: BurstSpec, stats: ServerStats, file: Path) -> dict[str, Any]:
    """What the server's own `/lab/stats` said about the burst's window."""
    folder = file.resolve().parent
    return {
        "peak_in_flight": stats.peak_in_flight,
        "peak_in_handler": stats.handler_peaks.get(urlsplit(spec.path).path, 0),
        "loop_lag_max_s": stats.loop_lag_judged_s,  # a busy machine that ran no thread of the server is not its code
        "tokens_peak": stats.thread_tokens_peak,
        "tokens_total": stats.thread_tokens_total,
        "counters": dict(stats.counters),
        "gauge_peaks": {name: gauge.peak for name, gauge in stats.gauges.items()},
        # In the learner's own files: a coroutine dropped inside a library is not theirs to fix.
        "unawaited": tuple(c for c in stats.unawaited if _in_folder(c.file, folder)),
        # The learner's own lines (their file, or a helper beside it), and the loop itself (the GIL convoy).
        "blocking": tuple(b for b in stats.blocking if not b.file or _in_folder(b.file, folder)),
        "intra_op_threads": stats.intra_op_threads,
    }


def _in_folder(reported: str, folder: Path) -> bool:
    try:
        return Path(reported).resolve().is_relative_to(folder)
    except OSError:
        return False


# `lab load`'s error kinds, in the words the fault finder reads (a request that timed out: a hang).
_STEADY_ERRORS = {"timeout": "Timeout", "refused": "ConnectError", "reset": "RemoteProtocolError", "other": "Error"}


def _probed_run(server: ServerProcess, exercise: Exercise, traffic: TrafficSpec) -> Run:
    """One server under the steady traffic and the probes, as a `Run` the fault finder and the judge read."""
    probed = drive(server.url, traffic, pid=server.pid)
    samples = _steady_samples(probed)
    summary = _steady_summary(probed, samples)
    bodies: Counter[str] = Counter()
    if probed.body is not None and 200 <= probed.body.status_code < 300:
        _keep_body(bodies, probed.body, exercise.expect.ignore_keys)
    client: dict[str, Any] = {
        "requests": summary.requests,
        "ok": summary.ok,
        "wall_s": summary.wall_s,
        "status_counts": summary.status_counts,
        "errors": summary.errors,
        "bodies": dict(bodies),
        "p50_s": summary.latency.p50 if summary.latency else None,
        "cpu_s": probed.cpu_s,
        "kubelet": probed.kubelet,
    }
    stats = probed.load.server
    file = Path(server.target)
    server_side: dict[str, Any] = {"has_stats": False}
    if stats is not None:
        server_side = _server_side(exercise.burst, stats, file)
    measurement = Measurement(**client, **server_side)
    return Run(
        file, samples, summary, measurement, stats, traffic.timeout_s, probed.threads_before, probed.threads_after
    )


def _steady_samples(probed: Probed) -> list[Sample]:
    """The load's kept requests (all of them, up to its sample's size) as samples: for the timelines."""
    samples = []
    for index, kept in enumerate(probed.load.sample):
        status = int(kept.outcome) if kept.outcome.isdigit() else None
        error = None if status is not None else _STEADY_ERRORS.get(kept.outcome, kept.outcome)
        samples.append(Sample(index, kept.due_s, kept.due_s + kept.latency_s, status, error))
    return samples


def _steady_summary(probed: Probed, samples: list[Sample]) -> Summary:
    """Counts from the load's own report (every request), latencies from its sample."""
    report = probed.load.report
    statuses = {kind.removeprefix("status_"): n for kind, n in report.errors.items() if kind.startswith("status_")}
    ok = report.answered - sum(statuses.values())
    errors = {_STEADY_ERRORS.get(kind, kind): n for kind, n in report.errors.items() if not kind.startswith("status_")}
    wall_s = probed.load.wall_s
    return Summary(
        requests=report.sent,
        wall_s=wall_s,
        ok=ok,
        latency=latency_stats([s.latency_s for s in samples if s.status is not None]),
        status_counts={"2xx": ok, **statuses} if ok else statuses,
        errors=errors,
        requests_per_s=ok / wall_s if wall_s > 0 else 0.0,
        pids=0,
    )
