"""The /numpy twins on a real server: the kernels release the GIL, the event loop still waits for them.

Judged by what the server measured (overlap, loop lag, its thread pools), not by wall times: on a
busy 2-core machine the speed-up of threads moves with whatever else runs.
"""

from __future__ import annotations

import pytest

from lab.client import httpx
from lab.load.burst import run_burst
from lab.scenarios import SCENARIOS

NUMPY = SCENARIOS["numpy"]


@pytest.mark.parametrize("variant", ["sync", "async", "broken"])
def test_every_twin_does_the_same_work(lab_url: str, variant: str) -> None:
    answers = {v: httpx.get(NUMPY.url(lab_url, v, 30), timeout=10).json() for v in ("sync", variant)}
    assert answers[variant]["variant"] == variant
    assert answers[variant]["prediction"] == answers["sync"]["prediction"]
    assert answers[variant]["model_version"] == "2.0.0"


def test_the_server_runs_one_blas_thread_per_call(lab_url: str) -> None:
    stats = httpx.get(lab_url + "/lab/stats", timeout=10).json()
    blas = [pool for pool in stats["threadpools"] if pool["api"] == "blas"]
    assert blas and {pool["threads"] for pool in blas} == {1}


@pytest.mark.slow
def test_threads_overlap_in_def_and_the_loop_waits_in_async_def(lab_url: str) -> None:
    fixed = run_burst(NUMPY.url(lab_url, "sync", 100), requests=6)
    broken = run_burst(NUMPY.url(lab_url, "broken", 100), requests=6)
    assert fixed.server is not None and broken.server is not None
    assert broken.server.peak_in_flight == 1  # one at a time: the loop computes
    assert fixed.server.peak_in_flight >= 4  # in threads, side by side
    assert broken.server.loop_lag_max_s >= 0.09  # at least one whole ~100 ms prediction on the loop
    assert fixed.server.loop_lag_max_s < broken.server.loop_lag_max_s / 2
