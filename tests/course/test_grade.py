"""The pure judge, table-driven: an expectation and two measurements in, pass or fail with reasons out."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from lab.course.catalog import BurstSpec, Expect, TrafficSpec
from lab.course.grade import (
    COMPUTES_SHARE,
    Check,
    Measurement,
    canonical,
    grade,
    grade_traffic,
    readiness_cycles,
    too_busy_to_judge,
    work_computes,
)
from lab.load.kubelet import Attempt, KubeletReport, replay
from lab.load.probes import parse_probe

BODY = canonical({"prediction": 0.8, "model_version": "1.0"})
BURST = BurstSpec(path="/predict", requests=20, probe="/health")

# The sleepy endpoint, as measured (curriculum exercise 1): fixed and broken.
FIXED = Measurement(
    requests=20, ok=20, wall_s=0.22, peak_in_flight=20, loop_lag_max_s=0.003, probe_s=0.004, bodies={BODY: 20}
)
BROKEN = replace(FIXED, wall_s=4.03, peak_in_flight=1, loop_lag_max_s=0.393, probe_s=3.97)


def m(**changes: Any) -> Measurement:
    return replace(FIXED, **changes)


CASES: list[tuple[str, Expect, Measurement, bool, list[str]]] = [
    ("nothing-expected-fixed", Expect(), FIXED, True, ["all 20 requests succeeded"]),
    ("lag-fixed", Expect(max_loop_lag_ms=50), FIXED, True, ["stayed free"]),
    ("lag-broken", Expect(max_loop_lag_ms=50), BROKEN, False, ["event loop's longest single stall was 393 ms"]),
    (
        "overlap-fixed",
        Expect(min_overlap=0.8),
        FIXED,
        True,
        ["20 of the 20 requests were in their handlers at the same time"],
    ),
    (
        "overlap-probe-not-counted",  # the server's 21 in flight include the mid-burst /health probe
        Expect(min_overlap=0.8),
        m(peak_in_flight=21),
        True,
        ["20 of the 20 requests were in their handlers at the same time"],
    ),
    ("overlap-broken", Expect(min_overlap=0.8), BROKEN, False, ["one after another"]),
    ("overlap-partial", Expect(min_overlap=0.8), m(peak_in_flight=6), False, ["at most 6 of 20", "queued"]),
    ("ratio-fixed", Expect(max_wall_ratio=2), m(wall_s=0.3), True, ["as fast as the solution"]),
    ("ratio-broken", Expect(max_wall_ratio=2), BROKEN, False, ["18.3 times slower than the solution"]),
    # Exercise 1 through asyncio's default executor on 2 cores: 4 waves of 6, within its bound, not "as fast".
    ("ratio-waves", Expect(max_wall_ratio=8), m(wall_s=0.8), True, ["within 8x of the solution: 800 ms", "(3.6x)"]),
    ("probe-fixed", Expect(max_probe_ms=1000), FIXED, True, ["answered in 4 ms"]),
    ("probe-broken", Expect(max_probe_ms=1000), BROKEN, False, ["waited 3,970 ms"]),
    ("probe-lost", Expect(max_probe_ms=1000), m(probe_s=None), False, ["got no answer"]),
    ("loads-once", Expect(counters_equal={"model_loads": 1}), m(counters={"model_loads": 1}), True, ["model loads: 1"]),
    (
        "loads-race",
        Expect(counters_equal={"model_loads": 1}),
        m(counters={"model_loads": 10}),
        False,
        ["model loads: 10 (expected == 1)", "racing"],
    ),
    ("loads-never", Expect(counters_equal={"model_loads": 1}), FIXED, False, ["never loaded"]),
    ("calls-max", Expect(counters_max={"model_calls": 4}), m(counters={"model_calls": 40}), False, ["batch"]),
    ("calls-min", Expect(counters_min={"model_calls": 20}), m(counters={"model_calls": 3}), False, ["skipping"]),
    ("gauge-max-ok", Expect(gauge_peak_max={"store_in_flight": 5}), m(gauge_peaks={"store_in_flight": 5}), True, []),
    (
        "gauge-max-over",
        Expect(gauge_peak_max={"store_in_flight": 5}),
        m(gauge_peaks={"store_in_flight": 40}),
        False,
        ["peaked at 40", "per request limits nothing"],
    ),
    (
        "gauge-min-under",
        Expect(gauge_peak_min={"store_in_flight": 15}),
        m(gauge_peaks={"store_in_flight": 1}),
        False,
        ["one at a time"],
    ),
    (
        "gauge-min-waves",
        Expect(gauge_peak_min={"sdk_in_flight": 20}),
        m(gauge_peaks={"sdk_in_flight": 6}),
        False,
        ["calls to the model SDK in flight (`sdk_in_flight`): at most 6 at once (wanted at least 20)", "a thread"],
    ),
    ("gauge-absent-is-zero", Expect(gauge_peak_min={"store_in_flight": 1}), FIXED, False, ["at most 0"]),
    ("tokens-over", Expect(max_tokens_peak=10), m(tokens_peak=40, tokens_total=40), False, ["40 of the 40"]),
    ("intra-op-capped", Expect(max_intra_op_threads=1), m(intra_op_threads=1), True, ["at most 1 intra-op"]),
    ("intra-op-over", Expect(max_intra_op_threads=1), m(intra_op_threads=2), False, ["may start 2 intra-op"]),
    # A cap at start-up that never reached the calls: the two ways it happens, and why each did not hold.
    (
        "intra-op-cap-did-not-hold",
        Expect(max_intra_op_threads=1),
        m(intra_op_threads=2),
        False,
        ["OPENBLAS_NUM_THREADS set in the lifespan comes after NumPy was imported", "gives the setting back when"],
    ),
    ("intra-op-none", Expect(max_intra_op_threads=1), m(intra_op_threads=0), False, ["no BLAS/OpenMP"]),
    ("pids-one", Expect(min_pids=2), m(pids=1), False, ["only 1 server process"]),
    ("pids-two", Expect(min_pids=2), m(pids=2), True, ["2 server processes"]),
    (
        "some-failed",
        Expect(),
        m(ok=17, status_counts={"200": 17, "500": 3}),
        False,
        ["3 of 20 requests failed", "HTTP 500: 3"],
    ),
    (
        "renamed-route",
        Expect(same_response=False),
        m(ok=0, status_counts={"404": 20}),
        False,
        ["HTTP 404: 20", "renamed"],
    ),
    ("timeouts", Expect(), m(ok=18, errors={"ReadTimeout": 2}), False, ["ReadTimeout: 2"]),
    ("failures-allowed", Expect(all_ok=False, same_response=False), m(ok=0, bodies={}), True, []),
    ("wrong-answer", Expect(), m(bodies={canonical({"prediction": 0.0}): 20}), False, ["20 responses differ"]),
    ("no-body", Expect(), m(bodies={}), False, ["no response to compare"]),
    ("no-compare", Expect(same_response=False), m(bodies={"x": 1}), True, []),
    ("no-stats", Expect(max_loop_lag_ms=50), m(has_stats=False), False, ["could not report"]),
]


@pytest.mark.parametrize(
    ("expect", "learner", "passed", "words"), [pytest.param(e, lm, p, w, id=i) for i, e, lm, p, w in CASES]
)
def test_grade(expect: Expect, learner: Measurement, passed: bool, words: list[str]) -> None:
    judged = grade(expect, BURST, learner, FIXED)
    assert judged.passed is passed, judged.reasons
    text = " | ".join(judged.reasons)
    for word in words:
        assert word in text


def test_all_expectations_together_fail_the_broken_and_pass_the_fixed() -> None:
    expect = Expect(max_loop_lag_ms=50, min_overlap=0.8, max_wall_ratio=2, max_probe_ms=1000)
    assert grade(expect, BURST, FIXED, FIXED).passed
    broken = grade(expect, BURST, BROKEN, FIXED)
    assert not broken.passed
    assert {c.name for c in broken.checks if not c.passed} == {"loop_lag", "overlap", "wall_ratio", "probe"}
    assert len(broken.reasons) == 4  # only the failures are the reasons


def test_the_probe_is_only_judged_when_the_burst_sends_one() -> None:
    judged = grade(Expect(max_probe_ms=10), replace(BURST, probe=None), m(probe_s=None), FIXED)
    assert judged.passed


def test_overlap_counts_against_the_concurrency_not_the_requests() -> None:
    burst = BurstSpec(path="/x", requests=40, concurrency=5)
    assert grade(Expect(min_overlap=0.8, same_response=False), burst, m(peak_in_flight=4), FIXED).passed
    assert not grade(Expect(min_overlap=0.8, same_response=False), burst, m(peak_in_flight=3), FIXED).passed


def test_sustained_mode_speaks_of_time_per_request() -> None:
    burst = BurstSpec(path="/x", requests=4, concurrency=4, sustained_s=3)
    judged = grade(Expect(max_wall_ratio=1.5), burst, m(wall_s=0.6), m(wall_s=0.3))
    assert not judged.passed and "per request under sustained load" in judged.reasons[0]


def test_ignored_keys_make_responses_equal() -> None:
    expected = canonical({"prediction": 0.8, "pid": 1}, ("pid",))
    assert canonical({"pid": 2, "prediction": 0.8}, ("pid",)) == expected
    assert canonical([1, 2]) == "[1,2]"


# --- Work accounting: skipped work is not a fix --------------------------------------------------


def test_a_handler_far_quicker_than_the_solutions_skipped_its_work() -> None:
    solution = m(min_handler_s=0.200)
    skipped = grade(Expect(), BURST, m(min_handler_s=0.001), solution)
    assert not skipped.passed
    (work,) = [c for c in skipped.checks if c.name == "work_time"]
    assert "1 ms in its handler" in work.reason and "the solution's takes 200 ms" in work.reason
    assert grade(Expect(), BURST, m(min_handler_s=0.190), solution).passed
    # A solution whose handlers do no work (it runs after the response) bounds nothing.
    assert grade(Expect(), BURST, m(min_handler_s=0.0001), m(min_handler_s=0.002)).passed


def test_skipped_work_is_not_also_blamed_on_overlap() -> None:
    expect = Expect(min_overlap=0.5)
    judged = grade(expect, BURST, m(min_handler_s=0.001, peak_in_handler=1), m(min_handler_s=0.2))
    assert [c.name for c in judged.checks if not c.passed] == ["work_time"]


def test_a_coroutine_never_awaited_fails_at_its_line() -> None:
    from lab.protocol import UnawaitedCoroutine

    dropped = UnawaitedCoroutine("sleep", "/x/exercise_01.py", 36, "predict", "asyncio.sleep(0.2)", 20)
    judged = grade(Expect(), BURST, m(unawaited=(dropped,)), m())
    assert not judged.passed
    assert "exercise_01.py:36 (in predict): `asyncio.sleep(0.2)` made a coroutine that was never awaited" in " ".join(
        judged.reasons
    )


def test_work_counters_must_reach_the_solutions() -> None:
    expect = Expect(work_counters=("audit_records",))
    solution = m(counters={"audit_records": 20})
    assert grade(expect, BURST, m(counters={"audit_records": 20}), solution).passed
    short = grade(expect, BURST, m(counters={"audit_records": 12}), solution)
    assert (
        not short.passed and "audit records: 12 done by the end of the burst, the solution did 20" in short.reasons[0]
    )


def test_a_response_that_waits_for_background_work_is_too_slow() -> None:
    expect = Expect(max_p50_ms=100)
    assert grade(expect, BURST, m(p50_s=0.004), m()).passed
    late = grade(expect, BURST, m(p50_s=0.21), m())
    assert not late.passed and "the median response took 210 ms" in late.reasons[0]


def test_loop_lag_names_the_line_found_at_run_time_or_the_gil() -> None:
    from lab.protocol import BlockingSite

    expect = Expect(max_loop_lag_ms=150)
    line = BlockingSite("/x/ex.py", 36, "predict", "time.sleep(0.2)", "time.sleep(...)", 3.9, 0.97)
    convoy = BlockingSite("", 0, "<event loop>", "", "waiting for the GIL", 0.7, 1.0)
    named = grade(expect, BURST, m(loop_lag_max_s=4.0, blocking=(line,)), m()).reasons[0]
    assert (
        "ex.py:36 `time.sleep(...)` held the event loop 3,900 ms in all (97% of the stalled time), in predict()"
        in named
    )
    gil = grade(expect, BURST, m(loop_lag_max_s=0.7, blocking=(convoy,)), m()).reasons[0]
    assert "waiting for the GIL behind busy threads" in gil and "`async def` does not await" not in gil
    # The loop's own sliver of a stall whose line was in no file of the learner's is no GIL convoy.
    sliver = BlockingSite("", 0, "<event loop>", "", "waiting for the GIL", 0.003, 0.0007)
    held = grade(expect, BURST, m(loop_lag_max_s=4.8, blocking=(sliver,)), m()).reasons[0]
    assert "GIL" not in held and "`async def` does not await" in held


def test_a_probe_slowed_by_a_busy_machine_is_judged_beside_the_solutions_own() -> None:
    busy_solution = replace(FIXED, probe_s=0.3)  # the same run: this machine answers nothing fast just now
    slowed = grade(Expect(max_probe_ms=200), BURST, replace(FIXED, probe_s=0.36), busy_solution)
    assert slowed.passed, slowed.reasons
    assert any("slow, but the solution's took 300 ms" in c.reason for c in slowed.checks)
    waited = grade(Expect(max_probe_ms=200), BURST, replace(FIXED, probe_s=1.2), busy_solution)
    assert not waited.passed and any("waited 1,200 ms" in r for r in waited.reasons)
    quiet = grade(Expect(max_probe_ms=200), BURST, replace(FIXED, probe_s=0.36), FIXED)  # solution: 4 ms
    assert not quiet.passed


def test_past_the_default_executor_is_halfway_from_its_size_to_the_burst() -> None:
    expect = Expect(gauge_past_executor=("sdk_in_flight",))
    burst = replace(BURST, requests=40)
    on_two_cores = {"sdk_in_flight": 23}  # min(32, 2 + 4) = 6 threads; (6 + 40) / 2 = 23
    assert grade(expect, burst, replace(FIXED, gauge_peaks=on_two_cores), FIXED, cores=2).passed
    broken = grade(expect, burst, replace(FIXED, gauge_peaks={"sdk_in_flight": 6}), FIXED, cores=2)
    assert not broken.passed
    assert any("wanted at least 23, well past the 6 threads of asyncio's default executor" in r for r in broken.reasons)
    big = grade(expect, burst, replace(FIXED, gauge_peaks={"sdk_in_flight": 35}), FIXED, cores=64)
    assert not big.passed, "(32 + 40) / 2 = 36 on a machine whose executor has 32 threads"
    assert not [c for c in grade(expect, replace(BURST, requests=8), FIXED, FIXED, cores=8).checks if "gauge" in c.name]


def test_a_burst_failed_on_timing_alone_on_a_machine_that_kept_it_waiting_is_measured_again() -> None:
    expect = Expect(max_wall_ratio=2, counters_equal={"model_loads": 1})
    slow = replace(FIXED, wall_s=0.6, counters={"model_loads": 1})  # 2.7x the solution's 0.22 s
    judged = grade(expect, BURST, replace(slow, cpu_wait_share=0.35), FIXED)
    why = too_busy_to_judge(judged, replace(slow, cpu_wait_share=0.35))
    assert why is not None and "waiting for a CPU 35% of the burst" in why
    # The machine gave the code its CPUs: the verdict stands.
    assert too_busy_to_judge(judged, replace(slow, cpu_wait_share=0.05)) is None
    assert too_busy_to_judge(judged, replace(slow, cpu_wait_share=None)) is None  # no schedstat: nothing to say
    # A wrong result is never measured again, however busy the machine: no amount of CPU makes it right.
    raced = replace(slow, counters={"model_loads": 10}, cpu_wait_share=0.5)
    assert too_busy_to_judge(grade(expect, BURST, raced, FIXED), raced) is None
    passed = grade(expect, BURST, replace(FIXED, counters={"model_loads": 1}), FIXED)
    assert passed.passed and too_busy_to_judge(passed, replace(FIXED, cpu_wait_share=0.9)) is None


# Each solution's burst as measured on a shared 2-core machine (load 6-26), quiet and beside CPU burners:
# requests, CPU seconds, seconds queued for a CPU, the quickest handler; whether its work computes.
COMPUTES_CASES: list[tuple[str, int, float, float, float, bool]] = [
    ("20 sleeps of 200 ms (exercise 1), quiet", 20, 0.02, 0.029, 0.200, False),
    ("20 sleeps of 200 ms (exercise 1), beside two burners", 20, 0.03, 0.177, 0.200, False),
    ("a downstream per request (exercise 5), quiet", 20, 0.05, 0.044, 0.229, False),
    ("a downstream per request (exercise 5), beside two burners", 20, 0.06, 0.222, 0.246, False),
    ("100 sustained requests over 2 workers (exercise 3), beside two burners", 100, 0.09, 3.529, 0.514, False),
    ("a timeout (exercise 12), beside two burners", 12, 0.04, 0.106, 0.150, False),
    ("4 requests of pure Python (test_check's), quiet", 4, 0.42, 0.653, 0.458, True),
    # The figures that fooled CPU alone: 0.1 s of CPU in a handler of 1.35 s, 8 %.
    ("4 requests of pure Python (test_check's), beside two burners at load 20", 4, 0.41, 3.841, 1.349, True),
    ("a process pool's predictions (exercise 7), quiet", 8, 2.15, 4.540, 0.479, True),
    ("NumPy releasing the GIL (exercise 13), quiet: 7 % in CPU alone", 8, 1.89, 27.45, 3.175, True),
    ("two workers' BLAS threads (exercise 14), beside two burners: 5 % in CPU alone", 6, 1.56, 43.12, 4.947, True),
    ("a process pool (exercise 8) beside two burners at load 24: 8 % in CPU alone", 4, 4.54, 100.0, 14.655, True),
    # A loop starved of CPU (six burners): work that waits is timed alone, which is right, only slower.
    ("a bounded downstream (exercise 9), beside six burners", 40, 0.14, 1.118, 0.156, True),
]


@pytest.mark.parametrize(
    ("requests", "cpu_s", "waited_s", "handler_s", "computes"),
    [case[1:] for case in COMPUTES_CASES],
    ids=[case[0] for case in COMPUTES_CASES],
)
def test_work_computes_when_its_threads_are_on_or_queued_for_a_cpu_for_much_of_each_handler(
    requests: int, cpu_s: float, waited_s: float, handler_s: float, computes: bool
) -> None:
    measured = m(requests=requests, cpu_s=cpu_s, cpu_waited_s=waited_s, min_handler_s=handler_s)
    assert work_computes(measured) is computes


def test_cpu_alone_would_judge_computing_work_on_a_busy_machine_to_wait() -> None:
    # What the decision once compared, on the figures above: the load stretched the handler, not the CPU.
    loaded = m(requests=4, cpu_s=0.41, cpu_waited_s=3.841, min_handler_s=1.349)
    assert loaded.cpu_s is not None and loaded.cpu_s / 4 < COMPUTES_SHARE * 1.349
    assert work_computes(loaded)


def test_work_whose_figures_are_not_known_is_measured_alone_as_computing_work_must_be() -> None:
    assert work_computes(m(requests=20, cpu_s=None, cpu_waited_s=0.03, min_handler_s=0.2))
    assert work_computes(m(requests=20, cpu_s=0.02, cpu_waited_s=None, min_handler_s=0.2))  # no run-queue count
    assert work_computes(m(requests=20, cpu_s=0.02, cpu_waited_s=0.03, min_handler_s=None))
    assert work_computes(m(requests=0, ok=0, cpu_s=0.0, cpu_waited_s=0.0, min_handler_s=None))


def _made(expect: Expect, learner: dict[str, int], solution: dict[str, int]) -> Any:
    judged = grade(expect, BURST, m(counters=learner), m(counters=solution))
    return next(c for c in judged.checks if c.name.startswith("made:"))


def test_a_process_pool_per_request_fails_by_its_count_in_the_lessons_words() -> None:
    expect = Expect(made_once=("process_pools_made",))
    per_request = _made(expect, {"process_pools_made": 8, "processes_started": 8}, {})
    assert not per_request.passed
    assert per_request.reason == (
        "a new process pool for each request: 8 pools, 8 interpreters started; make one in the lifespan"
    )
    assert _made(expect, {}, {}).passed  # made in the lifespan: none while requests were served
    assert _made(expect, {"process_pools_made": 1}, {}).passed  # made once, lazily, by the first request
    assert not _made(expect, {"process_pools_made": 2}, {}).passed  # two: made again, not once
    assert _made(expect, {"process_pools_made": 3}, {"process_pools_made": 3}).passed  # as often as the solution


def test_an_http_client_per_request_fails_by_its_count() -> None:
    check = _made(Expect(made_once=("http_clients_made",)), {"http_clients_made": 20}, {})
    assert not check.passed
    assert check.reason == (
        "a new HTTP client for each request: 20 clients, each with its own pool and new connections; "
        "open one in the lifespan and share it"
    )


def test_a_threads_setting_that_changes_while_calls_run_is_a_race() -> None:
    expect = Expect(max_intra_op_threads=1)
    steady = m(intra_op_threads=1, gauge_peaks={"intra_op_threads_in_calls": 1})
    assert grade(expect, BURST, steady, FIXED).passed
    raced = m(
        intra_op_threads=1,  # what the last request's exit happened to leave: it passed on a busy machine
        gauge_peaks={"intra_op_threads_in_calls": 2},
        counters={"intra_op_changes": 5},
    )
    judged = grade(expect, BURST, raced, FIXED)
    failed = {c.name: c.reason for c in judged.checks if not c.passed}
    assert set(failed) == {"intra_op", "intra_op_race"}
    assert "may start 2 intra-op threads" in failed["intra_op"]  # a call ran with 2, whatever was left after
    assert failed["intra_op_race"].startswith(
        "the intra-op threads setting changed while model calls ran (5 times from one model call's reading to the next)"
    )
    # The exits came in order: every call ran capped, and the last exit left the default behind.
    in_order = m(intra_op_threads=2, gauge_peaks={"intra_op_threads_in_calls": 1})
    failed = {c.name: c.reason for c in grade(expect, BURST, in_order, FIXED).checks if not c.passed}
    assert "the calls ran with 1 thread each, and 2 were left after the burst" in failed["intra_op_race"]
    # Never capped at all: one steady setting, too high (the exercise as shipped) is not a race.
    uncapped = m(intra_op_threads=2, gauge_peaks={"intra_op_threads_in_calls": 2})
    assert [c.name for c in grade(expect, BURST, uncapped, FIXED).checks if not c.passed] == ["intra_op"]
    # A server that read no call (no model call reported) is judged as before, without the race check.
    assert [c.name for c in grade(expect, BURST, m(intra_op_threads=1), FIXED).checks if "race" in c.name] == []


def test_the_checks_keep_their_order() -> None:
    """Splitting `grade` changed no verdict and no order: the first reason is still the loudest."""
    expect = Expect(
        max_loop_lag_ms=50, min_overlap=0.8, max_wall_ratio=2, max_probe_ms=1000, max_p50_ms=100,
        counters_equal={"model_loads": 1}, max_tokens_peak=10, max_intra_op_threads=1, min_pids=1,
        made_once=("process_pools_made",),
    )  # fmt: skip
    names = [c.name for c in grade(expect, BURST, BROKEN, FIXED).checks]
    assert names == [
        "all_ok", "loop_lag", "overlap", "wall_ratio", "probe", "median", "counter:model_loads", "tokens",
        "intra_op", "made:process_pools_made", "pids", "same_response",
    ]  # fmt: skip


LIVENESS = parse_probe("liveness=/health,period=1s,timeout=1s,failures=3")
READINESS = parse_probe("readiness=/ready,period=1s,timeout=1s,failures=2")
TRAFFIC = TrafficSpec("/predict", (LIVENESS, READINESS), method="POST", rate=120, duration_s=3)
PROBED = Expect(max_restarts=0, max_liveness_failures=0, readiness_cycles=1)


def _kubelet(liveness: str, readiness: str = "") -> KubeletReport:
    """Probe attempts, one a second each, written as outcomes: `.` passed, `T` timed out, `5` answered 503."""
    outcomes = {".": ("ok", 200, 0.002), "T": ("timeout", None, 1.0), "5": ("status", 503, 0.002)}
    attempts = []
    for spec, marks in ((LIVENESS, liveness), (READINESS, readiness)):
        for second, mark in enumerate(marks):
            outcome, status, took = outcomes[mark]
            attempts.append(Attempt(spec.kind, spec.path, float(second), status, outcome, took))  # type: ignore[arg-type]
    attempts.sort(key=lambda a: a.sent_at_s)
    return replay((LIVENESS, READINESS), attempts, end_s=10.0)


# The solution of exercise 16, as measured: liveness always passed, readiness 503 under the load, 200 after.
PROBED_FIXED = m(tokens_peak=40, tokens_total=40, kubelet=_kubelet(".........", "...5555..."))


def _steady(expect: Expect, learner: Measurement) -> dict[str, Check]:
    return {c.name: c for c in grade_traffic(expect, TRAFFIC, learner, PROBED_FIXED).checks}


def test_a_pod_that_answers_its_probes_passes_on_counts() -> None:
    judged = grade_traffic(PROBED, TRAFFIC, PROBED_FIXED, PROBED_FIXED)
    assert judged.passed, judged.reasons
    checks = {c.name: c.reason for c in judged.checks}
    assert checks["restarts"] == "0 restarts: liveness passed 9 of 9 probes under the traffic"
    assert checks["readiness"].startswith("readiness answered 503 under the load and 200 after it: out of the")


def test_a_def_health_behind_the_token_queue_is_restarted_in_the_lessons_words() -> None:
    learner = m(tokens_peak=40, tokens_total=40, kubelet=_kubelet("...TTTT..", "...TTTT..."))
    checks = _steady(PROBED, learner)
    restart = checks["restarts"]
    assert not restart.passed
    assert restart.reason.startswith(
        "liveness failed 3 times in a row at 00:06: the kubelet restarts the container (restart 1); "
        "/health did not answer within its 1 s timeout while all 40 of AnyIO's thread tokens were borrowed"
    )
    assert "liveness failed 4 of 9 probes, the first at 00:03" in checks["liveness"].reason
    # Readiness left rotation, but by timing out: the kubelet cannot tell that from a dead pod.
    assert not checks["readiness"].passed and "readiness timed out" in checks["readiness"].reason


def test_a_blocked_loop_is_named_as_the_cause() -> None:
    learner = m(loop_lag_max_s=2.5, kubelet=_kubelet(".TTTTT...."))
    reason = _steady(Expect(max_restarts=0), learner)["restarts"].reason
    assert "the event loop was blocked for 2.50 s" in reason or "the event loop was blocked for 2,500 ms" in reason


def test_readiness_that_never_says_no_fails_and_one_that_never_comes_back_fails() -> None:
    always = _steady(PROBED, m(tokens_peak=40, tokens_total=40, kubelet=_kubelet(".........", "..........")))
    assert not always["readiness"].passed
    assert "passed all 10 readiness probes, even while all 40 thread tokens were borrowed" in always["readiness"].reason
    assert always["restarts"].passed and always["liveness"].passed
    stuck = _steady(PROBED, m(kubelet=_kubelet(".........", "...5555555")))
    assert not stuck["readiness"].passed and "came back 0 of 1 times" in stuck["readiness"].reason


def test_without_probes_the_kubelets_checks_fail_rather_than_pass_unjudged() -> None:
    checks = _steady(PROBED, m(kubelet=None))
    assert {name for name, c in checks.items() if not c.passed} == {"restarts", "liveness", "readiness"}
    assert readiness_cycles(_kubelet("..", ".55.55.")) == 2  # in at once, out after two 503s, back
