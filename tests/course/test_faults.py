"""What the learner's process did, told in one bounded line: real servers, real crashes.

Import-time failures go through `ServerProcess` (what every check starts); crashes during a burst go
through `check_exercise` on the fixture catalog, with the learner's file swapped for a broken one.
"""

from __future__ import annotations

import signal
import sys
from concurrent.futures import Future
from pathlib import Path

import pytest

from lab.course.catalog import Catalog, Exercise, load_catalog
from lab.course.check import check_exercise
from lab.course.faults import FAULTHANDLER_ENV, start_error
from lab.errors import ServerError
from lab.launch.process import MESSAGE_LIMIT, ServerProcess

FIXTURE_ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "exercises"
# A message is one line: at most the lab's own words around MESSAGE_LIMIT characters of the learner's.
BOUNDED = 3 * MESSAGE_LIMIT


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(FIXTURE_ROOT)


@pytest.fixture
def sleepy(catalog: Catalog) -> Exercise:
    return catalog.resolve("1")


def start_message(file: Path, startup_timeout_s: float = 20) -> str:
    """The one line a check shows when `file` does not start."""
    server = ServerProcess(str(file), startup_timeout_s=startup_timeout_s, env=FAULTHANDLER_ENV)
    started: Future[ServerProcess] = Future()
    try:
        started.set_result(server.start())
    except ServerError as exc:
        started.set_exception(exc)
    finally:
        server.stop()
    message = start_error(server, started, file.resolve())
    assert message is not None, "it started"
    assert "\n" not in message and len(message) <= BOUNDED, message
    return message


def test_a_multi_line_exception_at_import_is_shown_whole(tmp_path: Path) -> None:
    app = tmp_path / "config_app.py"
    app.write_text("raise RuntimeError(\"the config is wrong:\\n  key 'x' is missing\\nsee above\")\n")
    message = start_message(app)
    assert message.endswith("config_app.py:1: RuntimeError: the config is wrong: / key 'x' is missing / see above")


def test_a_huge_exception_message_is_cut(tmp_path: Path) -> None:
    app = tmp_path / "huge.py"
    app.write_text('raise ValueError("x" * 1_000_000)\n')
    message = start_message(app)
    assert "huge.py:1: ValueError: xxx" in message and message.endswith("…")


def test_sys_exit_at_import_says_so(tmp_path: Path) -> None:
    app = tmp_path / "exits_early.py"
    app.write_text("import sys\n\nsys.exit(2)\n")
    assert start_message(app).endswith(
        "exits_early.py:3: sys.exit(2) at import: the module ended the process while it was loading"
    )


def test_a_start_up_that_hangs_names_its_line(tmp_path: Path) -> None:
    app = tmp_path / "slow_start.py"
    app.write_text("import time\n\ntime.sleep(600)\n")
    # 6 s: long enough for the lab's own imports on a busy machine, so the stack is the learner's.
    message = start_message(app, startup_timeout_s=6)
    assert message.startswith("slow_start.py:3 (in <module>): still starting after 6 s"), message


def broken_copy(exercise: Exercise, tmp_path: Path, old: str, new: str) -> Path:
    """The exercise's own solution with one line changed: everything else about it passes."""
    text = exercise.solution_path.read_text()
    assert old in text
    file = tmp_path / exercise.file
    file.write_text(text.replace(old, new))
    return file


@pytest.mark.skipif(sys.platform == "win32", reason="a null pointer read is a segfault on POSIX")
def test_a_segfault_names_the_learners_frame(sleepy: Exercise, tmp_path: Path) -> None:
    old = "await asyncio.sleep(delay_ms / 1000)"
    file = broken_copy(sleepy, tmp_path, old, "__import__('ctypes').string_at(0)")
    line = next(i for i, text in enumerate(file.read_text().splitlines(), 1) if "string_at" in text)
    result = check_exercise(sleepy, learner_file=file, lint=False)
    assert result.fault is not None and result.fault.kind == "crash", result.reasons
    message = result.fault.message
    assert f"its last words: {file.name}:{line} (in wait): Fatal Python error: Segmentation fault" in message
    assert "Extension modules" not in message and f"killed by signal {signal.SIGSEGV.value}" in message


def test_a_crash_prints_at_most_a_bounded_line(sleepy: Exercise, tmp_path: Path) -> None:
    old = "await asyncio.sleep(delay_ms / 1000)"
    file = broken_copy(sleepy, tmp_path, old, "print('x' * 1_000_000, flush=True); __import__('os')._exit(1)")
    result = check_exercise(sleepy, learner_file=file, lint=False)
    assert result.fault is not None and result.fault.kind == "crash", result.reasons
    assert "exit code 1" in result.fault.message and "xxx…" in result.fault.message
    assert len(result.fault.message) <= BOUNDED


def test_a_worker_that_dies_is_a_crash_not_failed_requests(catalog: Catalog, tmp_path: Path) -> None:
    """Two workers: uvicorn replaces a dead one silently, so the requests fail while the server lives on."""
    workers = catalog.resolve("3")
    file = broken_copy(workers, tmp_path, "time.sleep(0.02)", "__import__('os')._exit(7)")
    result = check_exercise(workers, learner_file=file, lint=False)
    assert result.fault is not None and result.fault.kind == "crash", result.reasons
    assert result.fault.message.startswith(f"{file.name}: a worker process died [")
    assert "(exit code 7) during the burst, and the requests it held failed" in result.fault.message
