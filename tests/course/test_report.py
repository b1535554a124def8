"""The report builders against their documented formats: JUnit (junit-10.xsd) and Gradescope's results.json,
and the class summary read back from many of them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from lab.course.report import class_summary, gradescope_results, junit_xml, read_results

SCHEMA = xmlschema.XMLSchema(Path(__file__).with_name("junit-10.xsd"))

# https://gradescope-autograders.readthedocs.io/en/latest/specs/#output-format : every key it documents, with its type.
GRADESCOPE_TOP = {
    "score": float,
    "execution_time": (int, float),
    "output": str,
    "output_format": str,
    "test_output_format": str,
    "test_name_format": str,
    "visibility": str,
    "stdout_visibility": str,
    "extra_data": dict,
    "tests": list,
    "leaderboard": list,
}
GRADESCOPE_TEST = {
    "score": float,
    "max_score": float,
    "status": str,
    "name": str,
    "name_format": str,
    "number": str,
    "output": str,
    "output_format": str,
    "tags": list,
    "visibility": str,
    "extra_data": dict,
}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def run(wall: float, lag: float) -> dict[str, Any]:
    return {"wall_s": wall, "peak_in_flight": 10, "loop_lag_max_s": lag, "thread_tokens_peak": 0, "probe_s": 0.002}


def passing(exercise: str = "exercise-1") -> dict[str, Any]:
    return {
        "exercise": exercise,
        "title": "The sleepy endpoint",
        "passed": True,
        "verdict": "passed",
        "reasons": ["the event loop stayed free"],
        "fault": None,
        "checks": [{"name": "loop_lag", "passed": True, "reason": "the event loop stayed free (longest stall 3 ms)"}],
        "findings": [],
        "learner": run(0.105, 0.003),
        "solution": run(0.104, 0.002),
        "elapsed_s": 1.9,
    }


def failing(exercise: str = "exercise-1", lag_ms: int = 1003) -> dict[str, Any]:
    reason = f"the event loop was blocked for {lag_ms} ms"
    return {
        **passing(exercise),
        "passed": False,
        "verdict": "failed",
        "reasons": [reason],
        "checks": [
            {"name": "loop_lag", "passed": False, "reason": reason},
            {"name": "wall_ratio", "passed": False, "reason": "9.6 times slower than the solution"},
            {"name": "all_ok", "passed": True, "reason": "all 10 requests succeeded"},
        ],
        "learner": run(1.005, lag_ms / 1000),
    }


def hanging(exercise: str = "exercise-2") -> dict[str, Any]:
    message = "exercises/exercise_02.py:12: the endpoint hung"
    return {
        **passing(exercise),
        "title": "Which thread pool",
        "passed": False,
        "verdict": "hangs",
        "reasons": [message],
        "fault": {"kind": "hang", "message": message},
        "checks": [],
        "learner": None,
    }


def lab_error(exercise: str = "exercise-3") -> dict[str, Any]:
    return {
        "exercise": exercise,
        "title": "The 41st request",
        "passed": False,
        "verdict": "lab error",
        "reasons": ["x"],
    }


ROWS = [failing(), hanging(), lab_error(), passing("exercise-4")]


def test_junit_is_valid_against_the_schema_and_the_schema_can_fail() -> None:
    xml = junit_xml(ROWS, timestamp="2026-12-01T09:00:00", hostname="runner")
    SCHEMA.validate(xml)  # raises on any departure from junit-10.xsd
    broken = xml.replace('<testcase name="exercise-4: The sleepy endpoint"', "<testcase")
    assert broken != xml and not SCHEMA.is_valid(broken), "the negative control: a testcase without its name"
    assert not SCHEMA.is_valid(xml.replace("<properties>", "<properties><unknown/>", 1))


def test_junit_has_one_case_per_exercise_with_checks_as_properties_and_numbers_in_the_failure() -> None:
    root = ET.fromstring(junit_xml(ROWS))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "2", "1")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["exercise-1", "exercise-2", "exercise-3", "exercise-4"]
    assert all(len(s.findall("testcase")) == 1 for s in suites)
    first = suites[0]
    properties = {p.get("name"): p.get("value") for p in first.iter("property")}
    assert properties["check.loop_lag"] == "failed: the event loop was blocked for 1003 ms"
    assert properties["check.all_ok"].startswith("passed: ")
    failure = first.find("testcase/failure")
    assert failure is not None and failure.get("message") == "the event loop was blocked for 1003 ms"
    assert failure.get("type") == "loop_lag, wall_ratio"
    assert "learner: wall 1,005 ms" in (failure.text or "") and "solution: wall 104 ms" in (failure.text or "")
    assert suites[1].find("testcase/failure").get("type") == "fault:hang"  # type: ignore[union-attr]
    assert suites[2].find("testcase/error") is not None, "the lab's own fault is an error, not the learner's failure"
    assert suites[3].find("testcase/failure") is None and suites[3].get("failures") == "0"


def test_gradescope_results_follow_the_documented_keys_and_types() -> None:
    data = json.loads(json.dumps(gradescope_results(ROWS)))  # as written to disk
    assert set(data) <= set(GRADESCOPE_TOP)
    for key, value in data.items():
        assert isinstance(value, GRADESCOPE_TOP[key]), key
    assert data["stdout_visibility"] in VISIBILITY
    assert data["score"] == 1.0 == sum(t["score"] for t in data["tests"])
    assert len(data["tests"]) == len(ROWS)
    for test in data["tests"]:
        assert set(test) <= set(GRADESCOPE_TEST)
        for key, value in test.items():
            assert isinstance(value, GRADESCOPE_TEST[key]), key
        assert test["status"] in ("passed", "failed") and test["visibility"] in VISIBILITY
        assert all(isinstance(tag, str) for tag in test["tags"])
        assert test["score"] == (test["max_score"] if test["status"] == "passed" else 0.0)
    assert data["tests"][0]["tags"] == ["loop_lag", "wall_ratio"]
    assert "1,005 ms" in data["tests"][0]["output"]


def test_the_class_summary_counts_passes_and_ranks_the_common_reasons() -> None:
    learners = []
    for n in range(10):  # exercise-1: 2 pass, 7 block the loop (and are slow), 1 is only slow; exercise-2: 4 hang
        first = passing() if n < 2 else failing(lag_ms=900 + n) if n < 9 else {**failing(), "checks": []}
        if n == 9:
            first["checks"] = [{"name": "wall_ratio", "passed": False, "reason": "3 times slower"}]
        second = hanging() if n < 4 else passing("exercise-2")
        learners.append(read_results(json.loads(json.dumps(gradescope_results([first, second])))))
    summary = class_summary(learners)
    assert summary.learners == 10
    one, two = summary.exercises
    assert (one.exercise, one.attempted, one.passed) == ("exercise-1", 10, 2)
    assert [(r.check, r.count) for r in one.reasons] == [("wall_ratio", 8), ("loop_lag", 7)]
    assert one.reasons[1].example.startswith("the event loop was blocked for 9")
    assert (two.exercise, two.passed, [(r.check, r.count) for r in two.reasons]) == (
        "exercise-2",
        6,
        [("fault:hang", 4)],
    )
    assert summary.to_json()["exercises"][0]["failed"] == 8


def test_exercises_sort_by_number_not_by_text() -> None:
    rows = [passing("exercise-10"), passing("exercise-2")]
    summary = class_summary([read_results(gradescope_results(rows))])
    assert [e.exercise for e in summary.exercises] == ["exercise-2", "exercise-10"]


@pytest.mark.parametrize("data", [[], {"tests": "x"}, {"tests": [1]}, {"score": 1}])
def test_anything_but_a_results_file_is_refused(data: Any) -> None:
    with pytest.raises(ValueError):
        read_results(data)
