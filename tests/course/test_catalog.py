"""The catalog: `info.toml` in, `Exercise` objects out; every mistake in it is one line naming the entry and key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from lab.course.catalog import load_catalog, parse_catalog
from lab.errors import CatalogError, UnknownExercise

FIXTURE_ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "exercises"
PROJECT_ROOT = Path(__file__).resolve().parents[2]

VALID: dict[str, Any] = {
    "exercise": [
        {
            "id": "exercise-1",
            "title": "One",
            "file": "exercise_01_one.py",
            "lesson": "l",
            "hints": ["a", "b"],
            "burst": {"path": "/x", "requests": 4},
            "expect": {"max_loop_lag_ms": 50, "counters_equal": {"model_loads": 1}},
        },
        {
            "id": "exercise-2",
            "title": "Two",
            "file": "exercise_02_two.py",
            "burst": {"path": "/y", "method": "post", "requests": 10, "concurrency": 5, "json": {"a": 1}},
        },
    ]
}


def test_the_fixture_catalog_loads() -> None:
    catalog = load_catalog(FIXTURE_ROOT)
    assert catalog.ids == ["exercise-1", "exercise-2", "exercise-3"]
    first = catalog.exercises[0]
    assert first.path == FIXTURE_ROOT.resolve() / "exercises" / "exercise_01_sleep.py"
    assert first.solution_path == FIXTURE_ROOT.resolve() / "solutions" / "exercise_01_sleep.py"
    assert first.burst.probe == "/health" and first.expect.max_probe_ms == 400
    assert first.expect.same_response and first.expect.all_ok  # the defaults
    assert catalog.exercises[2].burst.workers == 2 and catalog.exercises[2].burst.sustained_s == 0.5


def test_the_project_catalog_loads_when_present() -> None:
    if not (PROJECT_ROOT / "exercises" / "info.toml").is_file():
        pytest.skip("no exercises/info.toml yet")
    catalog = load_catalog(PROJECT_ROOT)
    for exercise in catalog.exercises:
        assert exercise.path.is_file(), exercise.path
        assert exercise.solution_path.is_file(), exercise.solution_path


def test_defaults_and_normalisation() -> None:
    catalog = parse_catalog(VALID, Path("/p"))
    second = catalog.exercises[1]
    assert second.burst.method == "POST" and second.burst.at_once == 5
    assert second.hints == () and second.lesson == ""
    assert second.expect.max_loop_lag_ms is None and second.expect.counters_equal == {}
    assert catalog.exercises[0].burst.at_once == 4


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("2", "exercise-2"),
        ("02", "exercise-2"),
        ("exercise-2", "exercise-2"),
        ("exercise-02", "exercise-2"),
        ("exercise_02_two.py", "exercise-2"),
        ("exercise_02_two", "exercise-2"),
        ("exercises/exercise_02_two.py", "exercise-2"),
        (" 1 ", "exercise-1"),
    ],
)
def test_resolve_accepts_every_way_of_naming_an_exercise(ref: str, expected: str) -> None:
    assert parse_catalog(VALID, Path("/p")).resolve(ref).id == expected


@pytest.mark.parametrize("ref", ["3", "exercise-3", "ex1", "", "exercise_03_x.py", "-1"])
def test_an_unknown_id_lists_the_valid_ones(ref: str) -> None:
    with pytest.raises(UnknownExercise) as caught:
        parse_catalog(VALID, Path("/p")).resolve(ref)
    message = str(caught.value)
    assert "\n" not in message and "exercise-1, exercise-2" in message


def _with(path: str, value: Any) -> dict[str, Any]:
    """VALID with one key of the first entry set (or deleted, for `value is DELETE`)."""
    data = copy.deepcopy(VALID)
    *parents, key = path.split(".")
    table = data["exercise"][0]
    for parent in parents:
        table = table[parent]
    if value is DELETE:
        del table[key]
    else:
        table[key] = value
    return data


DELETE = object()

BAD = [
    ("missing-title", _with("title", DELETE), ["exercise-1", "'title'"]),
    ("missing-burst", _with("burst", DELETE), ["exercise-1", "'burst'"]),
    ("missing-path", _with("burst.path", DELETE), ["burst", "'path'"]),
    ("unknown-key", _with("expect.max_lag_ms", 5), ["expect", "unknown key 'max_lag_ms'"]),
    ("unknown-burst-key", _with("burst.request", 5), ["burst", "unknown key 'request'"]),
    ("bad-id", _with("id", "ex-1"), ["id must look like exercise-1"]),
    ("file-with-folder", _with("file", "../x.py"), ["bare .py file name"]),
    ("requests-string", _with("burst.requests", "20"), ["burst.requests", "expected int"]),
    ("requests-bool", _with("burst.requests", True), ["burst.requests", "expected int"]),
    ("requests-zero", _with("burst.requests", 0), ["burst.requests", "between 1 and"]),
    ("concurrency-above", _with("burst.concurrency", 5), ["concurrency", "at most requests (4)"]),
    ("bad-method", _with("burst.method", "FETCH"), ["method", "GET"]),
    ("path-no-slash", _with("burst.path", "x"), ["path", "must start with '/'"]),
    ("negative-ratio", _with("expect.max_wall_ratio", -1), ["max_wall_ratio", "more than 0"]),
    ("counter-float", _with("expect.counters_max", {"x": 1.5}), ["counters_max", "whole numbers"]),
    ("hints-not-strings", _with("hints", [1]), ["hints must be a list of strings"]),
    ("sustained-too-long", _with("burst.sustained_s", 100), ["sustained_s", "between 0 and 30"]),
    ("burst-and-traffic", _with("traffic", {"path": "/x", "probes": ["liveness=/h"]}), ["not both"]),
    ("restarts-negative", _with("expect.max_restarts", -1), ["max_restarts", "between 0 and 1000"]),
    ("cycles-float", _with("expect.readiness_cycles", 1.5), ["readiness_cycles", "expected int"]),
]


def _traffic(**traffic: Any) -> dict[str, Any]:
    """VALID with the first entry's burst replaced by steady traffic with probes."""
    data = _with("burst", DELETE)
    data["exercise"][0]["traffic"] = {"path": "/predict", "probes": ["liveness=/health,period=1s"], **traffic}
    return data


BAD += [
    ("traffic-no-probes", _traffic(probes=[]), ["traffic.probes", "a list of probe specs"]),
    ("traffic-bad-probe", _traffic(probes=["liveness=health"]), ["traffic.probes", "must start with /"]),
    ("traffic-unknown-probe-key", _traffic(probes=["liveness=/h,perod=1s"]), ["traffic.probes", "unknown key"]),
    ("traffic-two-liveness", _traffic(probes=["liveness=/a", "liveness=/b"]), ["traffic.probes", "two liveness"]),
    ("traffic-rate-zero", _traffic(rate=0), ["traffic.rate", "between 1 and 500"]),
    ("traffic-too-long", _traffic(duration_s=60), ["traffic.duration_s", "between 0.5 and 30"]),
    ("traffic-unknown-key", _traffic(rps=5), ["traffic", "unknown key 'rps'"]),
    ("traffic-path-no-slash", _traffic(path="predict"), ["traffic.path", "must start with '/'"]),
]


def test_steady_traffic_with_probes_stands_in_for_the_burst() -> None:
    data = _traffic(method="post", rate=160, duration_s=3, json={"a": 1}, probes=["readiness=/ready,failures=2"])
    data["exercise"][0]["expect"] = {"max_restarts": 0, "readiness_cycles": 1, "max_liveness_failures": 0}
    exercise = parse_catalog(data, Path("/p")).exercises[0]
    traffic = exercise.traffic
    assert traffic is not None and traffic.method == "POST" and traffic.requests == 480
    assert (traffic.before_s, traffic.after_s, traffic.timeout_s) == (1.0, 2.0, 10.0)  # the defaults
    (probe,) = traffic.probes
    assert (probe.kind, probe.path, probe.failures, probe.period_s) == ("readiness", "/ready", 2, 10.0)
    # What every exercise has, for the server's start and the views: the traffic's request.
    assert (exercise.burst.path, exercise.burst.method, exercise.burst.json) == ("/predict", "POST", {"a": 1})
    expect = exercise.expect
    assert (expect.max_restarts, expect.readiness_cycles, expect.max_liveness_failures) == (0, 1, 0)
    assert parse_catalog(VALID, Path("/p")).exercises[0].traffic is None


@pytest.mark.parametrize(("data", "words"), [pytest.param(d, w, id=i) for i, d, w in BAD])
def test_a_bad_entry_is_one_line_naming_it(data: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(data, Path("/p"), "info.toml")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("info.toml")
    for word in words:
        assert word in message


def test_duplicate_ids_and_files_are_refused() -> None:
    data = copy.deepcopy(VALID)
    data["exercise"][1]["id"] = "exercise-1"
    with pytest.raises(CatalogError, match="id 'exercise-1' appears twice"):
        parse_catalog(data, Path("/p"))
    data = copy.deepcopy(VALID)
    data["exercise"][1]["file"] = data["exercise"][0]["file"]
    with pytest.raises(CatalogError, match="appears twice"):
        parse_catalog(data, Path("/p"))


def test_an_empty_or_malformed_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "exercises").mkdir()
    with pytest.raises(CatalogError, match="not found"):
        load_catalog(tmp_path)
    (tmp_path / "exercises" / "info.toml").write_text("[[exercise]\nid = 1\n")
    with pytest.raises(CatalogError, match="not valid TOML"):
        load_catalog(tmp_path)
    (tmp_path / "exercises" / "info.toml").write_text("")
    with pytest.raises(CatalogError, match=r"one or more \[\[exercise\]\]"):
        load_catalog(tmp_path)
