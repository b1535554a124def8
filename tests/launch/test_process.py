"""Server lifecycle: learner code in its own process, clear one-line errors, nothing left running."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import ServerError
from lab.launch.process import ServerProcess


def live_members(pgid: int) -> list[int]:
    """Processes of a process group that are still running (zombies awaiting their reaper do not count)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, group = fields[0], int(fields[3])
        if group == pgid and state != "Z":
            members.append(int(stat.parent.name))
    return members


def test_stop_leaves_nothing_running() -> None:
    with ServerProcess("lab.server.app:app") as server:
        pid = server.pid
        assert pid is not None
        assert len(live_members(pid)) >= 2  # the server and its process-pool workers
    assert live_members(pid) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def broken(:\n", r"app\.py:1: SyntaxError"),
        ("import no_such_module_here\n", r"app\.py:1: ModuleNotFoundError: No module named 'no_such_module_here'"),
        ("x = 1\n", r"no `app` defined"),
        ("app = 42\n", r"`app` is not usable: expected a FastAPI app, got int"),
    ],
)
def test_code_that_cannot_load_gets_one_line(tmp_path: Path, source: str, expected: str) -> None:
    target = tmp_path / "app.py"
    target.write_text(source)
    with pytest.raises(ServerError, match=expected) as info:
        ServerProcess(str(target), startup_timeout_s=20).start()
    assert "\n" not in str(info.value)


def test_a_server_that_prints_megabytes_is_read_start_and_end_only(tmp_path: Path) -> None:
    from lab.launch.process import LOG_HEAD_BYTES, LOG_TAIL_BYTES

    target = tmp_path / "app.py"
    target.write_text(
        "import sys\nfor _ in range(40_000):\n    print('x' * 500)\nraise RuntimeError('model missing')\n"
    )
    server = ServerProcess(str(target), startup_timeout_s=30)
    with pytest.raises(ServerError, match=r"app\.py:4: RuntimeError: model missing"):
        server.start()
    text = server.log_text()
    assert len(text.encode()) < LOG_HEAD_BYTES + LOG_TAIL_BYTES + 200, "20 MB printed, a bounded part read"
    assert "bytes of output left out" in text and text.rstrip().endswith("RuntimeError: model missing")


def test_a_file_target_is_instrumented(tmp_path: Path) -> None:
    from lab.client import httpx

    target = tmp_path / "mine.py"
    target.write_text(
        "from fastapi import FastAPI\napp = FastAPI()\n\n@app.get('/')\nasync def root():\n    return 1\n"
    )
    with ServerProcess(str(target)) as server:
        assert httpx.get(server.url + "/").json() == 1
        assert httpx.get(server.url + "/lab/stats").json()["peak_in_flight"] == 1


def test_a_server_whose_parent_dies_stops_itself(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    script = tmp_path / "orphan.py"
    script.write_text(
        "import os\nfrom lab.launch.process import ServerProcess\n"
        "server = ServerProcess().start()\nprint(server.pid, flush=True)\nos._exit(0)\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True)
    pgid = int(out.stdout.strip())
    deadline = time.monotonic() + 15
    while live_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert live_members(pgid) == []


def test_every_server_gets_the_parents_cpu_calibration(tmp_path: Path) -> None:
    """Two servers asked for "100 ms of CPU" must do the same work, or comparing them means nothing."""
    from lab.client import httpx
    from lab.model import iterations_for

    target = tmp_path / "calibrated.py"
    target.write_text(
        "from fastapi import FastAPI\nfrom lab.model import iterations_for\napp = FastAPI()\n\n"
        "@app.get('/')\nasync def root() -> int:\n    return iterations_for(100)\n"
    )
    with ServerProcess(str(target)) as first, ServerProcess(str(target)) as second:
        answers = {httpx.get(first.url + "/").json(), httpx.get(second.url + "/").json()}
    assert answers == {iterations_for(100)}
