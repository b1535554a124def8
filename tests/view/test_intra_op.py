"""Intra-op threads and the GIL in the reports: processes x threads against the cores, a free-threaded Python named."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from rich.console import Console

from lab.load.burst import BurstResult
from lab.load.compare import Comparison
from lab.load.measure import Sample, summarize
from lab.load.verdict import judge
from lab.protocol import ServerStats, ThreadPool
from lab.scenarios import SCENARIOS
from lab.view.burst import burst_report, comparison_report, intra_op_text

OPENBLAS_2 = ThreadPool("openblas", "blas", 2)
SERVER = ServerStats(
    since=0.0,
    in_flight=0,
    peak_in_flight=3,
    loop_lag_max_s=0.01,
    loop_lag_last_s=0.0,
    heartbeats=30,
    thread_tokens_total=40,
    thread_tokens_peak=3,
    workers=2,
    threadpools=(OPENBLAS_2, OPENBLAS_2),
)


def render(renderable: object, width: int = 100) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    console.print(renderable)
    return " ".join(line.strip() for line in console.file.getvalue().splitlines())  # type: ignore[attr-defined]


def result(server: ServerStats | None) -> BurstResult:
    samples = [Sample(i, 0.0, 0.1, 200) for i in range(3)]
    summary = summarize(samples)
    verdict = judge(3, 3, summary.wall_s, 0.1, summary.ok, server)
    return BurstResult("http://127.0.0.1:1/numpy/sync", "GET", 3, 3, samples, summary, verdict, server, 0.1)


def test_processes_times_threads_against_the_cores() -> None:
    assert intra_op_text(SERVER, cores=2) == "openblas (blas): 2 threads x 2 processes = 4 on 2 cores"
    one = replace(SERVER, threadpools=(ThreadPool("openblas", "blas", 1),))
    assert intra_op_text(one, cores=2) == "openblas (blas): 1 thread on 2 cores"


def test_the_burst_report_shows_the_pools_only_when_there_are_some() -> None:
    text = " ".join(render(burst_report(result(SERVER))).split())
    assert "Server: intra-op threads openblas (blas): 2 threads x 2 processes = 4" in text
    assert "intra-op" not in render(burst_report(result(replace(SERVER, threadpools=()))))


@pytest.mark.parametrize(("scenario", "noted"), [("cpu", True), ("numpy", True), ("sleep", False)])
def test_a_free_threaded_python_is_named_where_the_gil_matters(
    scenario: str, noted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    comparison = Comparison(SCENARIOS[scenario], 3, 100, {"sync": result(SERVER)})
    assert "Free-threaded" not in render(comparison_report(comparison))  # this Python has its GIL
    monkeypatch.setattr("sys._is_gil_enabled", lambda: False, raising=False)
    text = render(comparison_report(comparison))
    assert ("Free-threaded: This Python" in text and "runs without the GIL" in text) is noted
    assert "Intra-op threads: openblas (blas): 2 threads x 2 processes" in text
