"""The checker against real servers, on the synthetic fixture exercises in tests/fixtures/exercises.

Every learner fault (does not load, raises, hangs, exits, leaks threads) must end in one verdict naming
the file (and line where known) within bounded time, and leave no process running.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

import lab.course.check as checker
import lab.load.stats as stats_client
from lab.course.catalog import Catalog, Exercise, load_catalog
from lab.course.check import check_exercise
from lab.course.results import CheckResult

FIXTURE_ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "exercises"
FAULTS = FIXTURE_ROOT / "faults"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(FIXTURE_ROOT)


@pytest.fixture
def sleepy(catalog: Catalog) -> Exercise:
    return catalog.resolve("1")


def _alive_in_group(pgid: int) -> list[int]:
    """Processes of a process group that are still running (zombies waiting for init do not count)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "(comm)": state, ppid, pgrp, ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(entry.name))
    return alive


def assert_nothing_left(result: CheckResult) -> None:
    assert result.pids, "the checker reports the servers it started"
    deadline = time.monotonic() + 5  # SIGKILLed workers disappear a moment after their parent
    while any(_alive_in_group(pid) for pid in result.pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in result.pids:
        assert _alive_in_group(pid) == [], f"process group {pid} still running"


def test_the_broken_exercise_fails_in_terms_of_the_lesson(sleepy: Exercise) -> None:
    result = check_exercise(sleepy)
    assert not result.passed and result.verdict == "failed" and result.fault is None
    text = " | ".join(result.reasons)
    assert "event loop's longest single stall was" in text and "one after another" in text and "/health" in text
    assert result.learner is not None and result.solution is not None
    assert result.learner.measurement.peak_in_flight == 1
    assert result.learner.measurement.loop_lag_max_s > 2 * result.solution.measurement.loop_lag_max_s
    assert [(f.line, f.code) for f in result.findings] == [(18, "ASYNC251")]
    assert_nothing_left(result)


def test_a_fix_passes_and_a_solution_passes_itself(sleepy: Exercise) -> None:
    started = time.monotonic()
    result = check_exercise(sleepy, FAULTS / "fixed_sleep.py")
    elapsed = time.monotonic() - started
    assert result.passed, result.reasons
    assert result.verdict == "passed" and result.findings == []
    assert result.to_json()["passed"] is True
    assert elapsed < 15  # about 1.5 s on an idle 2-core machine; generous for a loaded one
    # The server counts the burst's own path: the mid-burst /health probe never makes it N + 1.
    for run in (result.learner, result.solution):
        assert run is not None and 0 < run.measurement.peak_in_handler <= sleepy.burst.requests
    assert_nothing_left(result)


def test_counters_catch_the_lazy_model_race(catalog: Catalog) -> None:
    model = catalog.resolve("2")
    result = check_exercise(model)
    assert not result.passed
    assert any("model loads" in r and "racing" in r for r in result.reasons), result.reasons
    assert [f.code for f in result.findings] == ["LAB106"]
    assert result.learner is not None and result.learner.measurement.counters["model_loads"] > 1
    fixed = check_exercise(model, model.solution_path)
    assert fixed.passed, fixed.reasons


def test_a_burst_too_busy_to_judge_is_measured_again_on_a_fresh_server(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if the machine were always too busy: the checker measures again, at most twice, each time on
    # a new server. The same server would have its lazy model loaded already: no race left to see.
    monkeypatch.setattr(checker, "too_busy_to_judge", lambda judged, learner: "measured again: busy")
    result = check_exercise(catalog.resolve("2"))
    assert result.remeasured == ["measured again: busy"] * checker.MAX_REMEASURES
    assert len(result.pids) == 2 + checker.MAX_REMEASURES
    assert not result.passed and any("racing" in r for r in result.reasons), result.reasons
    assert result.learner is not None
    share = result.learner.measurement.cpu_wait_share
    assert share is None or 0 <= share <= 1  # None only where Linux's schedstat is missing
    if os.path.exists("/proc/thread-self/schedstat"):
        assert share is not None
    assert_nothing_left(result)


COMPUTING_CATALOG = """
[[exercise]]
id = "exercise-1"
title = "Fixture: work that computes"
file = "exercise_01_compute.py"
lesson = "CPU work shares the cores."
hints = []

[exercise.burst]
path = "/compute"
requests = 4

[exercise.expect]
max_wall_ratio = 3.0
"""

COMPUTING = """\
import time
from fastapi import FastAPI

app = FastAPI()


@app.get("/compute")
def compute() -> int:
    began = time.thread_time()
    while time.thread_time() - began < 0.1:  # 100 ms of this thread's CPU, however busy the machine
        pass
    return 1
"""


def _timeline(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the checker does, in order: each burst's and each solo request's start and end."""
    events: list[str] = []
    real_burst, real_solo = checker._burst, checker._solo_handler

    async def burst(*args: Any, **kwargs: Any) -> None:
        events.append("burst")
        await real_burst(*args, **kwargs)
        events.append("burst done")

    async def solo(url: str, spec: Any) -> float | None:
        events.append("solo")
        answer = await real_solo(url, spec)
        events.append("solo done")
        return answer

    monkeypatch.setattr(checker, "_burst", burst)
    monkeypatch.setattr(checker, "_solo_handler", solo)
    return events


def test_work_that_waits_is_timed_alone_beside_the_learners_burst(
    sleepy: Exercise, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 100 ms of sleep per request: the solution's request alone costs the machine nothing, so it runs
    # while the learner's burst does (on the solution's own server), not after the solution's burst.
    events = _timeline(monkeypatch)
    result = check_exercise(sleepy, sleepy.solution_path)
    assert result.passed, result.reasons
    assert events.index("burst done") < events.index("solo") < events.index("burst done", 2), events
    assert result.solution is not None and result.solution.measurement.solo_handler_s is not None
    assert result.solution.measurement.solo_handler_s >= 0.09  # the 100 ms sleep, by the server's own stamps
    assert_nothing_left(result)


def test_work_that_computes_is_timed_alone_before_the_learners_burst(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder in ("exercises", "solutions"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "exercise_01_compute.py").write_text(COMPUTING)
    (tmp_path / "exercises" / "info.toml").write_text(COMPUTING_CATALOG)
    events = _timeline(monkeypatch)
    result = check_exercise(load_catalog(tmp_path).resolve("1"))
    assert result.passed, result.reasons
    assert events == ["burst", "burst done", "solo", "solo done", "burst", "burst done"]
    assert result.solution is not None and result.solution.measurement.cpu_s is not None
    assert result.solution.measurement.cpu_s >= 0.3  # 4 x 100 ms of CPU, read from the server's processes
    if os.path.exists("/proc/thread-self/schedstat"):  # Linux: the time queued for a CPU, read alike
        assert result.solution.measurement.cpu_waited_s is not None
    assert_nothing_left(result)


def test_sustained_load_reaches_both_workers(catalog: Catalog) -> None:
    result = check_exercise(catalog.resolve("3"))
    assert result.passed, result.reasons
    assert result.learner is not None and result.learner.measurement.pids == 2
    assert result.learner.measurement.requests > 4  # kept going for the whole duration
    assert_nothing_left(result)


def test_a_syntax_error_names_file_and_line(sleepy: Exercise, tmp_path: Path) -> None:
    file = tmp_path / "attempt.py"
    file.write_text("from fastapi import FastAPI\n\napp = FastAPI()\n\n\ndef broken(:\n    pass\n")
    result = check_exercise(sleepy, file)
    assert not result.passed and result.fault is not None and result.fault.kind == "load"
    assert result.verdict == "does not load"
    assert f"{file}:6: SyntaxError" in result.reasons[0] and "\n" not in result.reasons[0]
    assert_nothing_left(result)


def test_an_import_error_names_file_and_line(sleepy: Exercise) -> None:
    result = check_exercise(sleepy, FAULTS / "import_error.py")
    assert result.fault is not None and result.fault.kind == "load"
    assert "import_error.py:3: ModuleNotFoundError" in result.fault.message
    assert_nothing_left(result)


def test_a_lifespan_that_raises_names_file_and_line(sleepy: Exercise) -> None:
    result = check_exercise(sleepy, FAULTS / "lifespan_fails.py")
    assert result.fault is not None and result.fault.kind == "load"
    assert result.fault.message.startswith("lifespan_fails.py:11 (in lifespan): RuntimeError: model file missing")
    assert_nothing_left(result)


def test_a_missing_file_is_a_fault_not_a_crash(sleepy: Exercise, tmp_path: Path) -> None:
    result = check_exercise(sleepy, tmp_path / "nope.py")
    assert result.fault is not None and result.fault.kind == "missing" and "no such file" in result.reasons[0]


def test_an_endpoint_that_raises_names_the_line_and_exception(sleepy: Exercise) -> None:
    result = check_exercise(sleepy, FAULTS / "raises.py")
    assert result.verdict == "raises errors"
    assert result.fault is not None
    assert "raises.py:15 (in wait): ZeroDivisionError" in result.fault.message
    assert "8 of 8 requests answered 5xx" in result.fault.message
    assert_nothing_left(result)


def test_an_endpoint_that_hangs_is_cut_off_and_located(sleepy: Exercise, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checker, "MIN_TIMEOUT_S", 2.0)
    started = time.monotonic()
    result = check_exercise(sleepy, FAULTS / "hangs.py")
    assert time.monotonic() - started < 30
    assert result.verdict == "hangs"
    assert result.fault is not None and "hangs.py:18 (in wait)" in result.fault.message
    assert "no answer within 2 s" in result.fault.message
    assert_nothing_left(result)


def test_a_stuck_event_loop_is_cut_off_and_located(sleepy: Exercise, monkeypatch: pytest.MonkeyPatch) -> None:
    # The loop itself never comes back: not even /lab/stats answers, and the stack says where it spins.
    monkeypatch.setattr(checker, "MIN_TIMEOUT_S", 2.0)
    monkeypatch.setattr(stats_client, "STATS_TIMEOUT_S", 1.0)
    started = time.monotonic()
    result = check_exercise(sleepy, FAULTS / "spins.py")
    assert time.monotonic() - started < 30
    assert result.verdict == "hangs"
    assert result.fault is not None and re.match(r"spins\.py:1[56] \(in wait\)", result.fault.message)
    assert any("could not report" in reason for reason in result.reasons)
    assert_nothing_left(result)


def test_a_process_that_exits_mid_burst(sleepy: Exercise) -> None:
    result = check_exercise(sleepy, FAULTS / "exits.py")
    assert result.verdict == "crashed"
    assert result.fault is not None and "exited during the burst" in result.fault.message
    assert_nothing_left(result)


def test_leaked_threads_are_reported_and_killed(sleepy: Exercise) -> None:
    result = check_exercise(sleepy, FAULTS / "leaks.py")
    assert result.verdict == "leaks threads", result.reasons
    assert result.fault is not None and "leaks.py:13 (in warm_cache)" in result.fault.message
    assert "still running in a thread after every response" in result.fault.message
    assert_nothing_left(result)


def test_idle_pool_threads_are_not_a_leak(sleepy: Exercise, tmp_path: Path) -> None:
    # A `def` route leaves AnyIO's worker threads idle after the burst: no learner code runs in them.
    file = tmp_path / "def_route.py"
    text = (FAULTS / "fixed_sleep.py").read_text()
    text = text.replace("async def wait", "def wait").replace("await asyncio.sleep", "__import__('time').sleep")
    file.write_text(text)
    result = check_exercise(sleepy, file)
    assert result.passed, result.reasons
    assert_nothing_left(result)


def test_json_shape(sleepy: Exercise, tmp_path: Path) -> None:
    file = tmp_path / "attempt.py"
    file.write_text("app = 1\n")
    data = check_exercise(sleepy, file).to_json()
    assert set(data) >= {"exercise", "passed", "verdict", "reasons", "checks", "findings", "fault", "learner"}
    assert data["exercise"] == "exercise-1" and data["passed"] is False
    assert "not usable" in data["reasons"][0] or "FastAPI" in data["reasons"][0]


def test_no_process_of_ours_is_left(sleepy: Exercise) -> None:
    # Belt and braces after the fault tests: no lab.server.host child of this test process survives.
    mine = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            # Only exercise servers count: the session's shared lab server (conftest) is meant to live on.
            if fields[1] == mine and fields[0] != "Z" and b"lab.server.app:app" not in cmdline:
                assert b"lab.server.host" not in cmdline


PROBED_CATALOG = """
[[exercise]]
id = "exercise-1"
title = "Fixture: a health check that blocks the loop"
file = "exercise_01_probed.py"
lesson = "Liveness needs a free event loop."
hints = []

[exercise.traffic]
path = "/work"
rate = 20
duration_s = 1
before_s = 0.5
after_s = 0.5
probes = ["liveness=/health,period=250ms,timeout=300ms,failures=2"]

[exercise.expect]
max_restarts = 0
work_counters = ["work_done"]
"""

PROBED = """\
import time
from fastapi import FastAPI
from lab.instruments import INSTRUMENTS

app = FastAPI()


@app.get("/health")
async def health() -> str:
    {health}
    return "ok"


@app.get("/work")
async def work() -> int:
    INSTRUMENTS.count("work_done")
    return 1
"""


def test_steady_traffic_and_probes_judge_the_kubelets_counts(tmp_path: Path) -> None:
    # The learner's /health holds the event loop for 1 s: every probe (300 ms timeout) times out, and two in
    # a row restart the pod in the kubelet's model. The solution's answers at once: no restart.
    for folder, health in (("exercises", "time.sleep(1.0)  # blocks the loop"), ("solutions", "pass")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "exercise_01_probed.py").write_text(PROBED.format(health=health))
    (tmp_path / "exercises" / "info.toml").write_text(PROBED_CATALOG)
    exercise = load_catalog(tmp_path).resolve("1")
    result = check_exercise(exercise)
    assert not result.passed and result.fault is None, result.reasons
    (restart,) = [c for c in result.checks if c.name == "restarts"]
    assert "liveness failed 2 times in a row at 00:0" in restart.reason
    assert "the kubelet restarts the container (restart 1)" in restart.reason
    assert "the event loop was blocked for" in restart.reason
    assert result.learner is not None and result.solution is not None
    learner, solution = result.learner.measurement, result.solution.measurement
    assert learner.kubelet is not None and learner.kubelet.restarts >= 1
    assert solution.kubelet is not None and solution.kubelet.restarts == 0
    assert learner.requests == solution.requests == 20 and learner.counters["work_done"] >= 20
    reported = result.to_json()
    assert reported["learner"]["requests"] == 20 and reported["learner"]["kubelet"]["restarts"] >= 1
    assert reported["solution"]["kubelet"]["restarts"] == 0
    assert reported["learner"]["kubelet"]["decisions"][0]["action"] == "restart"
    assert_nothing_left(result)
    fixed = check_exercise(exercise, exercise.solution_path)
    assert fixed.passed, fixed.reasons
    assert_nothing_left(fixed)
