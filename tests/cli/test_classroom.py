"""`lab check --junit/--gradescope` on the fixture project, and `lab class report` over many learners' files."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import xmlschema
from typer.testing import CliRunner, Result

from lab.cli import app
from lab.course.report import gradescope_results

FIXTURE_ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "exercises"
SCHEMA = Path(__file__).resolve().parents[1] / "course" / "junit-10.xsd"


def lab(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FIXTURE_ROOT, root)
    monkeypatch.setenv("LAB_ROOT", str(root))
    return root


def test_check_all_writes_both_reports_and_class_report_reads_them(project: Path, tmp_path: Path) -> None:
    junit, results = tmp_path / "report.xml", tmp_path / "results.json"
    result = lab("check", "--all", "--junit", str(junit), "--gradescope", str(results))
    assert result.exit_code == 1, result.output  # the fixture exercises start broken
    xmlschema.XMLSchema(SCHEMA).validate(str(junit))
    data = json.loads(results.read_text())
    assert [t["extra_data"]["exercise"] for t in data["tests"]] == ["exercise-1", "exercise-2", "exercise-3"]
    assert data["score"] == sum(t["score"] for t in data["tests"]) < 3
    assert not list(tmp_path.glob(".*.partial")), "written whole, through a temporary file"

    folder = tmp_path / "class"
    folder.mkdir()
    for learner in ("ada", "bob"):
        shutil.copy(results, folder / f"{learner}.json")
    summary = json.loads(lab("class", "report", str(folder), "--json").stdout)
    assert summary["learners"] == 2
    failed = [e for e in summary["exercises"] if e["failed"]]
    assert failed and all(e["reasons"] and e["reasons"][0]["count"] == 2 for e in failed)


def test_a_report_that_cannot_be_written_is_refused_before_any_check(project: Path, tmp_path: Path) -> None:
    began = time.monotonic()
    result = lab("check", "--all", "--junit", str(tmp_path / "missing" / "report.xml"))
    assert result.exit_code == 2 and "no directory" in result.stderr
    assert time.monotonic() - began < 5, "no server was started"


def write_class(folder: Path, learners: int) -> None:
    folder.mkdir(exist_ok=True)
    for n in range(learners):
        rows = []
        for e in range(1, 13):
            passed = (n + e) % 3 != 0
            checks = [{"name": "loop_lag", "passed": passed, "reason": f"blocked for {900 + n} ms"}]
            if e % 4 == 0:
                checks.append({"name": "tokens", "passed": passed or n % 2 == 0, "reason": "40 of 40 tokens out"})
            rows.append({"exercise": f"exercise-{e}", "title": f"Title {e}", "passed": passed, "checks": checks})
        (folder / f"learner-{n:03}.json").write_text(json.dumps(gradescope_results(rows)))


def test_class_report_reads_200_learners_in_under_2_s(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    write_class(folder, 200)
    began = time.perf_counter()
    result = lab("class", "report", str(folder), "--json")
    elapsed = time.perf_counter() - began
    assert result.exit_code == 0, result.output
    assert elapsed < 2.0, f"{elapsed:.2f} s for 200 files"
    summary = json.loads(result.stdout)
    assert summary["learners"] == 200 and len(summary["exercises"]) == 12
    three = summary["exercises"][2]  # (n + 3) % 3 == 0 fails: n = 0, 3, ..., 198
    assert (three["exercise"], three["passed"], three["failed"]) == ("exercise-3", 133, 67)
    assert three["reasons"] == [{"check": "loop_lag", "count": 67, "example": "blocked for 900 ms"}]
    four = summary["exercises"][3]  # both checks fail for odd n among the failing ones
    assert [r["check"] for r in four["reasons"]] == ["loop_lag", "tokens"]

    table = lab("class", "report", str(folder))
    assert table.exit_code == 0 and "200 learners" in table.stdout and "133/200" in table.stdout
    # A teacher reads what failed in words; the ids are the JSON's.
    assert "the event loop was blocked (67)" in table.stdout and "loop_lag" not in table.stdout


@pytest.mark.parametrize(
    ("check", "words"),
    [
        ("gauge:sdk_in_flight", "calls to the model SDK in flight at once"),
        ("counter:model_loads", "wrong count of model loads"),
        ("made:http_clients_made", "a new HTTP client per request"),
        ("work:sdk_calls", "fewer sdk calls than the solution"),
        ("fault:hang", "the server hung"),
        ("probe", "/health answered late mid-burst"),
        ("a_future_check", "a future check"),
    ],
)
def test_class_report_names_checks_in_words(check: str, words: str) -> None:
    from lab.view.classroom import check_words

    assert check_words(check) == words


def test_class_report_skips_what_is_not_a_report_and_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    write_class(folder, 2)
    (folder / "junk.json").write_text("{not json")
    (folder / "other.json").write_text('{"tests": "no"}')
    result = lab("class", "report", str(folder), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["learners"] == 2
    assert result.stderr.count("warning: skipped") == 2 and "junk.json" in result.stderr


@pytest.mark.parametrize(
    ("setup", "code", "words"),
    [("missing", 2, "is not a folder"), ("empty", 1, "has no .json reports"), ("junk", 1, "none of the 1")],
)
def test_class_report_mistakes_are_one_line(tmp_path: Path, setup: str, code: int, words: str) -> None:
    folder = tmp_path / "class"
    if setup != "missing":
        folder.mkdir()
    if setup == "junk":
        (folder / "a.json").write_text("[]")
    result = lab("class", "report", str(folder))
    assert result.exit_code == code
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and words in errors[0] and "Traceback" not in result.output
