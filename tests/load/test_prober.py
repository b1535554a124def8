"""The prober against a real uvicorn: idle, blocked, gone. Judged by counts, never by tight times."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from lab.client import httpx
from lab.errors import LabError
from lab.launch.process import ServerProcess
from lab.load.kubelet import Decision
from lab.load.prober import Prober
from lab.load.probes import ProbeSpec

WAIT_S = 30.0  # the most any test waits for what it needs: a loaded machine gets there, a broken prober does not


def wait_for(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def own_server() -> Iterator[ServerProcess]:
    """A server of its own: a test that blocks its loop must not block the session's."""
    with ServerProcess("lab.server.app:app") as server:
        yield server


def test_an_idle_server_passes_every_probe(lab_url: str) -> None:
    specs = (
        ProbeSpec("liveness", "/health", period_s=0.2, timeout_s=1, failures=1),
        ProbeSpec("readiness", "/lab/stats", period_s=0.3, timeout_s=1),
    )
    prober = Prober(lab_url, specs).start()
    try:
        wait_for(lambda: sum(a.kind == "readiness" for a in prober.attempts()) >= 5)
    finally:
        report = prober.stop()
    assert report.counts["liveness"]["ok"] >= 5
    assert report.counts["readiness"]["ok"] >= 5
    assert all(a.outcome == "ok" and a.status == 200 for a in report.attempts)
    assert report.restarts == 0 and report.out_of_rotation_s == 0


def test_a_blocked_loop_times_liveness_out_and_the_kubelet_restarts(own_server: ServerProcess) -> None:
    decisions: list[Decision] = []
    spec = ProbeSpec("liveness", "/health", period_s=1, timeout_s=1, failures=2)
    prober = Prober(own_server.url, (spec,), on_restart=decisions.append).start()
    # Three requests that each hold the server's event loop for 3 s (time.sleep in `async def`): ~9 s blocked.
    blockers = [threading.Thread(target=_block, args=(own_server.url, 3000)) for _ in range(3)]
    try:
        wait_for(lambda: len(prober.attempts()) >= 1)  # the prober runs before the loop is blocked
        for thread in blockers:
            thread.start()
        wait_for(lambda: bool(decisions))
    finally:
        for thread in blockers:
            thread.join(60)
        report = prober.stop()
    assert report.counts["liveness"]["timeout"] >= 2
    assert report.restarts >= 1
    assert decisions and decisions[0].action == "restart" and decisions[0].restart == 1
    assert "liveness failed 2 times in a row" in decisions[0].text


def _block(url: str, delay_ms: int) -> None:
    with httpx.Client(timeout=60, trust_env=False) as client:
        client.get(f"{url}/sleep/broken", params={"delay_ms": delay_ms})


def test_nothing_listening_is_refused_and_restarts() -> None:
    spec = ProbeSpec("liveness", "/health", period_s=0.1, timeout_s=1, failures=3)
    prober = Prober(f"http://127.0.0.1:{free_port()}", (spec,)).start()
    try:
        wait_for(lambda: prober.kubelet.restarts >= 1)
    finally:
        report = prober.stop()
    assert report.counts["liveness"]["refused"] >= 3
    assert report.counts["liveness"]["ok"] == 0
    assert report.restarts >= 1


def test_the_probes_wait_out_their_initial_delay(lab_url: str) -> None:
    specs = (
        ProbeSpec("liveness", "/health", period_s=0.1, timeout_s=1),
        ProbeSpec("readiness", "/health", period_s=0.1, timeout_s=1, initial_delay_s=120),
    )
    prober = Prober(lab_url, specs).start()
    try:
        wait_for(lambda: len(prober.attempts()) >= 5)
    finally:
        report = prober.stop()
    assert report.counts["liveness"]["ok"] >= 5
    assert report.counts["readiness"]["ok"] == 0  # two minutes away: stop() ended its wait


def test_startup_gates_the_other_probes(lab_url: str) -> None:
    specs = (
        ProbeSpec("startup", "/missing", period_s=0.1, timeout_s=1, failures=1000),  # a 404: never passes
        ProbeSpec("liveness", "/health", period_s=0.1, timeout_s=1),
    )
    prober = Prober(lab_url, specs).start()
    try:
        wait_for(lambda: len(prober.attempts()) >= 5)
    finally:
        report = prober.stop()
    assert report.counts["startup"]["status"] >= 5
    assert report.counts["liveness"]["ok"] == 0  # not run while startup has not passed


@pytest.mark.parametrize("url", ["http://example.com:80", "http://10.0.0.1:8000", "http://127.0.0.1"])
def test_loopback_only(url: str) -> None:
    with pytest.raises(LabError, match="loopback only") as caught:
        Prober(url, (ProbeSpec("liveness", "/health"),))
    assert caught.value.usage


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # free once closed: nothing listens there


def test_stop_does_not_wait_for_a_restart_under_way() -> None:
    release = threading.Event()
    called = threading.Event()

    def slow_restart(decision: Decision) -> None:  # a grace period and a back-off that would take minutes
        called.set()
        release.wait(WAIT_S)

    spec = ProbeSpec("liveness", "/health", period_s=0.1, timeout_s=1, failures=1)
    prober = Prober(f"http://127.0.0.1:{free_port()}", (spec,), on_restart=slow_restart).start()
    reports = []
    try:
        wait_for(called.is_set)
        stopper = threading.Thread(target=lambda: reports.append(prober.stop()))
        stopper.start()
        stopper.join(WAIT_S)
        assert reports, "stop() waited for the restart"
        assert not release.is_set()  # the callback was still running when stop() returned
    finally:
        release.set()
    assert reports[0].restarts == 1
    assert reports[0].counts["liveness"]["refused"] == 1  # no probe while the container was down


def test_a_prober_never_started_reports_nothing() -> None:
    report = Prober("http://127.0.0.1:9", (ProbeSpec("liveness", "/health"),)).stop()
    assert report.attempts == () and report.restarts == 0


def test_a_manifest_port_stands_for_the_server_under_test() -> None:
    prober = Prober("http://127.0.0.1:4321", (ProbeSpec("liveness", "/health", 8080),))
    assert prober.url_for(prober.specs[0]) == "http://127.0.0.1:4321/health"
