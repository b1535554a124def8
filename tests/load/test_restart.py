"""Restarts with real processes and real signals: SIGTERM, the grace period, SIGKILL, the same port again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lab.client import httpx
from lab.errors import LabError
from lab.launch.process import ServerProcess
from lab.load.prober import Prober
from lab.load.probes import ProbeSpec
from lab.load.restart import Restarter

WAIT_S = 60.0

# Ignores SIGTERM once serving: uvicorn installs its own handlers as it starts, and the lifespan runs after.
DEAF_TO_SIGTERM = """\
import signal
from contextlib import asynccontextmanager

from fastapi import FastAPI


@asynccontextmanager
async def lifespan(app):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health():
    return {"status": "healthy"}
"""

# A plain app: uvicorn's own SIGTERM handling (lighter to start than the lab server, twice per test).
PLAIN = """\
from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
async def health():
    return {"status": "healthy"}
"""

# A liveness endpoint that always fails: the kubelet restarts it, again and again.
ALWAYS_FAILING = """\
from fastapi import FastAPI, Response

app = FastAPI()


@app.get("/health")
async def health():
    return Response(status_code=500)
"""


def app_file(tmp_path: Path, source: str) -> str:
    path = tmp_path / "app.py"
    path.write_text(source)
    return str(path)


def answers(url: str) -> int:
    with httpx.Client(timeout=10, trust_env=False) as client:
        return client.get(f"{url}/health").status_code


def test_a_server_deaf_to_sigterm_is_killed_after_the_grace_period_and_comes_back(tmp_path: Path) -> None:
    server = ServerProcess(app_file(tmp_path, DEAF_TO_SIGTERM)).start()
    restarter = Restarter(server, grace_s=1)
    try:
        old_pid, url = server.pid, server.url
        downtime = restarter.restart()
        assert downtime is not None
        assert downtime.killed and "SIGKILL" in downtime.ended
        assert server.returncode == -9
        assert restarter.server is not server and restarter.server.pid != old_pid
        assert restarter.server.url == url  # the same port
        assert answers(url) == 200
        assert downtime.down_at < downtime.up_at and downtime.pid == restarter.server.pid
    finally:
        restarter.close()
    assert not restarter.server.alive


def test_a_server_that_honours_sigterm_ends_within_the_grace_period(tmp_path: Path) -> None:
    server = ServerProcess(app_file(tmp_path, PLAIN)).start()
    restarter = Restarter(server, grace_s=20, max_restarts=1)
    try:
        downtime = restarter.restart()
        assert downtime is not None
        # uvicorn shuts down and ends by its own SIGTERM, re-raised: either way not SIGKILLed.
        assert not downtime.killed and downtime.ended in ("exit code 0", "killed by signal 15 (SIGTERM)")
        assert answers(restarter.server.url) == 200
        # Bounded: past max_restarts nothing is stopped or started, and the skip is counted.
        running = restarter.server
        assert restarter.restart() is None
        assert restarter.skipped == 1 and restarter.server is running and running.alive
    finally:
        restarter.close()
    assert not restarter.server.alive


def test_the_prober_and_the_restarter_together(tmp_path: Path) -> None:
    server = ServerProcess(app_file(tmp_path, ALWAYS_FAILING)).start()
    restarter = Restarter(server, grace_s=5)
    spec = ProbeSpec("liveness", "/health", period_s=0.2, timeout_s=1, failures=2)
    prober = Prober(server.url, (spec,), on_restart=restarter.on_restart).start()
    try:
        deadline = time.monotonic() + WAIT_S
        while not restarter.downtimes and time.monotonic() < deadline:
            time.sleep(0.05)
        # The second restart waits out CrashLoopBackOff's 10 s: by then the probes ran against the new server.
        while prober.kubelet.restarts < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        report = prober.stop()  # first: it does not wait for the restart under way (back-off 10 s)...
        restarter.close()  # ...which this cuts short, and then stops the server that runs now
    assert len(restarter.downtimes) >= 1
    assert report.restarts >= 2
    restarts = [d for d in report.decisions if d.action == "restart"]
    assert [d.backoff_s for d in restarts[:2]] == [0, 10]
    first = restarter.downtimes[0]
    assert not first.killed  # uvicorn honours SIGTERM well within 5 s
    # Probes after the first restart reached the new server (a 500 again), and none was sent while it was
    # down: the kubelet does not probe a container that is not running, so nothing was refused.
    after = [a for a in report.attempts if a.sent_at_s > restarts[0].at_s]
    assert any(a.status == 500 for a in after)
    assert report.counts["liveness"]["refused"] == 0
    assert not restarter.server.alive


@pytest.mark.parametrize(
    ("grace_s", "message"), [(30, "--restart needs a server the lab started"), (-1, "grace period cannot be negative")]
)
def test_only_a_running_server_the_lab_started(grace_s: float, message: str) -> None:
    server = ServerProcess("lab.server.app:app")  # never started
    with pytest.raises(LabError, match=message) as caught:
        Restarter(server, grace_s=grace_s)
    assert caught.value.usage
