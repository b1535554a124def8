"""What requests make (lab.server.made), counted on a real server, and the BLAS setting read at each call.

Made per request, a pool, a process or a client is counted once per request; made once in the
lifespan (or at import), not at all. Counts, not times: a busy machine cannot move them, so the
checks built on them (`made_once` in `exercises/info.toml`, the race of exercise 14) are tested on a
quiet machine and beside two CPU burners, and must give the same verdict for the same reason.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.stress import busy_machine
from lab.client import httpx
from lab.course.catalog import load_catalog
from lab.course.check import check_exercise
from lab.instruments import Instruments
from lab.launch.process import ServerProcess
from lab.numpy_model import threadpool_limits  # and NumPy with it: its BLAS is what the setting limits
from lab.protocol import HTTP_CLIENTS, INTRA_OP_CHANGES, INTRA_OP_IN_CALLS, PROCESS_POOLS, PROCESSES

ROOT = Path(__file__).resolve().parents[2]
WRONG = ROOT / "tests" / "alternatives" / "wrong"


@pytest.fixture(scope="module")
def made_url() -> Iterator[str]:
    with ServerProcess(str(Path(__file__).with_name("made_app.py"))) as server:
        yield server.url


def _counters(url: str) -> dict[str, int]:
    counters: dict[str, int] = httpx.get(url + "/lab/stats?records=false", timeout=10).json()["counters"]
    return counters


@pytest.mark.parametrize(
    ("path", "counter"),
    [("/pool", PROCESS_POOLS), ("/process", PROCESSES), ("/client", HTTP_CLIENTS), ("/async-client", HTTP_CLIENTS)],
)
def test_what_each_request_makes_is_counted_once_per_request(made_url: str, path: str, counter: str) -> None:
    before = _counters(made_url).get(counter, 0)
    for _ in range(3):
        assert httpx.get(made_url + path, timeout=20).raise_for_status()
    assert _counters(made_url).get(counter, 0) - before == 3


def test_what_the_lifespan_and_imports_make_is_not_counted(made_url: str) -> None:
    before = _counters(made_url)
    for _ in range(3):
        assert httpx.get(made_url + "/shared", timeout=10).json() == {"made": False}
    after = _counters(made_url)
    assert {name: after.get(name, 0) - before.get(name, 0) for name in (PROCESS_POOLS, PROCESSES, HTTP_CLIENTS)} == {
        PROCESS_POOLS: 0,
        PROCESSES: 0,
        HTTP_CLIENTS: 0,
    }


def test_the_threads_setting_is_read_at_each_call_and_a_change_is_counted() -> None:
    instruments = Instruments()
    with threadpool_limits(limits=1, user_api="blas"):
        instruments.note_intra_op()
        instruments.note_intra_op()
        assert INTRA_OP_CHANGES not in instruments.counters  # steady: nothing to count
        with threadpool_limits(limits=2, user_api="blas"):  # what another request's exit does mid-call
            instruments.note_intra_op()
        instruments.note_intra_op()
    assert instruments.counters[INTRA_OP_CHANGES] == 2
    assert instruments.gauge(INTRA_OP_IN_CALLS).peak == 2
    instruments.reset()
    assert instruments.gauge(INTRA_OP_IN_CALLS).peak == 0  # the highest setting is the window's


# --- The wrong fixes of issue 22, judged by the real check, quiet and busy ----------------------------

CATALOG = load_catalog(ROOT)
REASONS = {
    "exercise_07_cpu_bound_predict__process_pool_per_request.py": (
        "made:process_pools_made",
        "a new process pool for each request: 8 pools, 8 interpreters started; make one in the lifespan",
    ),
    "exercise_05_calling_the_feature_store__def_client_per_request.py": (
        "made:http_clients_made",
        "a new HTTP client for each request: 20 clients, each with its own pool and new connections; "
        "open one in the lifespan and share it",
    ),
    "exercise_14_threads_times_threads__limits_per_request.py": (
        "intra_op_race",
        "the intra-op threads setting changed while model calls ran (",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("busy", [False, True], ids=["quiet", "busy"])
@pytest.mark.parametrize("name", sorted(REASONS))
def test_a_wrong_fix_fails_for_its_named_reason_quiet_or_busy(name: str, busy: bool) -> None:
    exercise = next(e for e in CATALOG.exercises if e.file == name.split("__")[0] + ".py")
    check, words = REASONS[name]
    with busy_machine(600.0) if busy else contextlib.nullcontext():
        result = check_exercise(exercise, learner_file=WRONG / name, lint=False)
    failed = {c.name: c.reason for c in result.checks if not c.passed}
    assert check in failed, f"{name}: {result.reasons}"
    assert failed[check].startswith(words), failed[check]
