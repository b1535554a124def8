"""Safety: the lab listens on loopback unless told otherwise, warns when told otherwise, cleans up after
itself when interrupted, and never runs an unbounded loop.

Linux facts are read from /proc (who listens where, which processes are left), never guessed from timing.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from lab.client import httpx
from lab.errors import BurstError
from lab.launch.process import DEFAULT_HOST, ServerProcess, ThreadServer
from lab.load.burst import MAX_CONCURRENCY, MAX_REQUESTS, check_arguments, run_burst

linux_only = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads sockets and processes from /proc")
WARNING = "deliberately slow and unauthenticated"
T = TypeVar("T")
UNASSIGNED = "192.0.2.1"  # TEST-NET-1 (RFC 5737): never this machine's, so binding it fails and exposes nothing


# --- /proc readers -----------------------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, process group) of `pid`, or None if it is gone (or a zombie)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    if fields[0] == "Z":
        return None
    return int(fields[1]), int(fields[2])


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def children_of(pid: int) -> list[int]:
    return [p for p in _all_pids() if (s := _stat(p)) is not None and s[0] == pid]


def group_members(pgid: int) -> list[int]:
    return [p for p in _all_pids() if (s := _stat(p)) is not None and s[1] == pgid]


def listening(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket `pid` listens on."""
    try:
        inodes = {
            m.group(1)
            for fd in Path(f"/proc/{pid}/fd").iterdir()
            if (m := re.fullmatch(r"socket:\[(\d+)\]", os.readlink(fd)))
        }
    except OSError:
        return []
    found = []
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            parts = line.split()
            local, state, inode = parts[1], parts[3], parts[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                address, port = local.split(":")
                found.append((_address(address), int(port, 16)))
    return found


def _address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))  # /proc/net/tcp6: 4 little-endian words
    return socket.inet_ntop(socket.AF_INET6, words)


def wait_for(condition: Callable[[], T], timeout_s: float, what: str) -> T:
    """Poll `condition` until it returns something truthy, and return that; bounded by `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def lab(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lab", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        # Ctrl-C must reach it even when these tests run in the background, where SIGINT is inherited ignored.
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """End a process this test started (by its pid), and collect what it printed."""
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((DEFAULT_HOST, 0))
        return int(sock.getsockname()[1])


# --- loopback by default -----------------------------------------------------------------------------------------


def test_default_host_is_loopback() -> None:
    assert DEFAULT_HOST == "127.0.0.1"
    assert ServerProcess().host == "127.0.0.1"
    assert ThreadServer(object()).host == "127.0.0.1"


@linux_only
def test_server_process_listens_on_loopback_only(lab_url: str) -> None:
    port = int(lab_url.rsplit(":", 1)[1])
    pids = [p for p in _all_pids() if any(lp == port for _, lp in listening(p))]
    assert pids, f"nobody listens on port {port}"
    for pid in pids:
        assert {address for address, p in listening(pid) if p == port} == {"127.0.0.1"}


@linux_only
@pytest.mark.timeout(90)
def test_lab_serve_binds_loopback_by_default_and_says_nothing_alarming() -> None:
    port = free_port()
    proc = lab("serve", "--port", str(port))
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/health") or proc.poll() is not None, 60, "lab serve")
        assert proc.poll() is None, "lab serve exited"
        addresses = {
            address for pid in [proc.pid, *children_of(proc.pid)] for address, p in listening(pid) if p == port
        }
        assert addresses == {"127.0.0.1"}
    finally:
        _, stderr = stop(proc)
    assert WARNING not in stderr and "Traceback" not in stderr


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _in_flight(base_url: str) -> int | None:
    """Requests inside a lab server's app right now, by its own count (`/lab/stats` is not counted);
    None if it does not answer. A signal sent once a command's request is in reaches the command
    mid-burst, wherever the machine's load had it: a sleep before the signal can fall in its imports."""
    try:
        return int(httpx.get(f"{base_url}/lab/stats?records=false", timeout=2).json()["in_flight"])
    except (httpx.HTTPError, ValueError, KeyError):
        return None


@linux_only
@pytest.mark.timeout(90)
def test_lab_serve_prints_the_address_it_really_listens_on() -> None:
    proc = lab("serve", "--port", "0")
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # the banner, or a usage error
        if proc.poll() == 2 or "error:" in line:
            return  # refusing port 0 is a fine answer too
        match = re.search(r"http://\S+:(\d+)", line)
        assert match, line
        port = int(match.group(1))
        assert port != 0, line
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/health"), 60, f"the server on port {port}")
    finally:
        stop(proc)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("host", [UNASSIGNED, "lab.example.invalid"])
def test_any_other_host_warns_that_the_endpoints_are_slow_and_open(host: str) -> None:
    """Binding elsewhere takes an explicit --host, and the warning comes first. Nothing is exposed by this
    test: 192.0.2.1 is never this machine's address and .invalid never resolves, so the bind then fails."""
    proc = lab("serve", "--host", host, "--port", str(free_port()))
    try:
        _, stderr = proc.communicate(timeout=45)
    finally:
        stop(proc)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines[0].startswith("warning:") and WARNING in lines[0] and host in lines[0], stderr
    assert lines[-1].startswith("error: cannot listen"), stderr
    assert proc.returncode == 1 and "Traceback" not in stderr


# --- interrupting `lab compare` stops the server it started ------------------------------------------------------


def _server_child(command_pid: int) -> int | None:
    """The lab server that `lab compare` or `lab demo` started: its child running `lab.server.host`."""
    for pid in children_of(command_pid):
        try:
            if b"lab.server.host" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            continue
    return None


# The broken twin blocks for N x delay = 4 x 2.5 s: long enough to be interrupted mid-burst.
COMMANDS = {
    "compare": ["compare", "-s", "sleep", "-n", "4", "--delay-ms", "2500"],
    "demo": ["demo", "sleep", "-n", "4", "--delay-ms", "2500", "--no-live"],
}


@pytest.fixture(params=list(COMMANDS))
def command_run(request: pytest.FixtureRequest) -> Iterator[subprocess.Popen[str]]:
    proc = lab(*COMMANDS[request.param])
    try:
        yield proc
    finally:
        stop(proc)


@linux_only
@pytest.mark.timeout(120)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
@pytest.mark.parametrize("when", ["starting", "mid-burst"])
def test_interrupting_compare_or_demo_stops_its_server(
    command_run: subprocess.Popen[str], sig: signal.Signals, when: str
) -> None:
    proc = command_run
    server_pid = wait_for(lambda: _server_child(proc.pid), 60, "the command to start its server")
    try:
        if when == "mid-burst":
            # A request of the bursts inside the server's app, by its own count (the broken twin alone takes
            # 10 s). It also listens for its fake feature store, which has no /lab/stats.
            wait_for(
                lambda: any(_in_flight(f"http://127.0.0.1:{port}") for _, port in listening(server_pid)),
                60,
                "a request of the bursts to be in the server",
            )
        proc.send_signal(sig)  # to the command alone, as the terminal does: the server has its own session
        _, stderr = proc.communicate(timeout=60)
        assert "Traceback" not in stderr, stderr[-2000:]
        assert proc.returncode != 0
        # The server and everything in its process group (its process pool, uvicorn workers) are gone.
        wait_for(lambda: _stat(server_pid) is None and not group_members(server_pid), 20, "the server to end")
        if when == "mid-burst":
            errors = [line for line in stderr.splitlines() if line.startswith("error:")]
            assert len(errors) == 1 and "interrupted" in errors[0], stderr
    finally:
        _kill_leftover_group(server_pid)


def _kill_leftover_group(pgid: int) -> None:
    """If the test failed because the server outlived `lab compare`, do not leave it running."""
    if group_members(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupting_a_burst_ends_it_quietly(lab_url: str, sig: signal.Signals) -> None:
    _quiet(lab_url)
    proc = lab("burst", f"{lab_url}/sleep/async?delay_ms=5000", "-n", "5")
    try:
        _wait_for_request(lab_url, proc)  # warming up or bursting: the handler takes 5 s
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
    finally:
        stop(proc)
    assert "Traceback" not in stderr, stderr[-2000:]
    assert proc.returncode != 0


@pytest.mark.timeout(60)
def test_interrupting_compare_on_your_own_server_does_not_claim_to_stop_it(lab_url: str) -> None:
    _quiet(lab_url)
    proc = lab("compare", "--url", lab_url, "-n", "4", "--delay-ms", "2500")
    try:
        _wait_for_request(lab_url, proc)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        stop(proc)
    assert "interrupted" in stderr and "stopped" not in stderr, stderr
    assert _answers(f"{lab_url}/health"), "your own server is still yours"


def _quiet(lab_url: str) -> None:
    """The shared server has nothing in flight (an earlier test's client may have given up on a slow handler
    that still runs): a request counted after this is the command's."""
    wait_for(lambda: _in_flight(lab_url) == 0, 30, "the shared server to finish earlier requests")


def _wait_for_request(lab_url: str, proc: subprocess.Popen[str]) -> None:
    """Until the command's request is inside the server: past its imports, in the burst that Ctrl-C ends."""
    wait_for(lambda: (_in_flight(lab_url) or 0) > 0 or proc.poll() is not None, 60, "the command's request")
    assert proc.poll() is None, "the command ended before its request reached the server"


# --- every load loop is bounded ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requests", "concurrency", "timeout"),
    [
        (MAX_REQUESTS + 1, 1, None),
        (10**9, 1, None),
        (10, MAX_CONCURRENCY + 1, None),
        (MAX_REQUESTS, MAX_CONCURRENCY + 1, None),
        (10, 10, 0),
        (10, 10, 3601),
        (10, 10, float("inf")),
        (10, 10, float("nan")),
    ],
)
def test_burst_refuses_unbounded_loads(requests: int, concurrency: int, timeout: float | None) -> None:
    with pytest.raises(BurstError):
        check_arguments("http://127.0.0.1:8000/sleep/async", requests, concurrency, "GET", timeout)


def test_the_bounds_are_the_documented_ones() -> None:
    assert MAX_REQUESTS == 10_000 and MAX_CONCURRENCY == 1_000
    check_arguments("http://127.0.0.1:8000/sleep/async", MAX_REQUESTS, MAX_CONCURRENCY, "GET", 3600)


def test_compare_and_scenarios_are_bounded() -> None:
    from lab.errors import LabError
    from lab.load.compare import MAX_COMPARE_REQUESTS, check_compare_arguments
    from lab.scenarios import MAX_CPU_MS, MAX_DELAY_MS

    assert MAX_COMPARE_REQUESTS <= MAX_REQUESTS
    # Worst case for one compare: the broken twin serializes N x delay; bounded, if long.
    assert MAX_COMPARE_REQUESTS * MAX_DELAY_MS / 1000 <= 10_000
    for bad in ((MAX_COMPARE_REQUESTS + 1, 100), (10, MAX_DELAY_MS + 1)):
        with pytest.raises(LabError) as caught:
            check_compare_arguments("sleep", *bad)
        assert caught.value.usage
    with pytest.raises(LabError):
        check_compare_arguments("cpu", 10, MAX_CPU_MS + 1)


@pytest.mark.timeout(60)
def test_a_burst_never_waits_forever_for_a_slow_server(lab_url: str) -> None:
    """A per-request timeout ends the burst; the server's handler, still waiting, cannot hold the client."""
    started = time.monotonic()
    with pytest.raises(BurstError, match="did not answer a single request within 1 s"):
        run_burst(f"{lab_url}/sleep/async?delay_ms=5000", requests=3, timeout=1.0)
    assert time.monotonic() - started < 4.5  # the 5 s handler was not waited for


async def _trickle(scope: dict[str, object], receive: object, send: Callable[[dict[str, object]], object]) -> None:
    """A server that answers at once, then sends its body one byte every 0.4 s for 3.2 s (a slow-loris answer)."""
    if scope["type"] != "http":
        return
    import asyncio

    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})  # type: ignore[misc]
    for _ in range(8):
        await send({"type": "http.response.body", "body": b".", "more_body": True})  # type: ignore[misc]
        await asyncio.sleep(0.4)
    await send({"type": "http.response.body", "body": b""})  # type: ignore[misc]


@pytest.mark.timeout(90)
def test_a_request_never_outlives_its_timeout() -> None:
    """`--timeout 1` means one second per request, even against a server that trickles its answer."""
    with ThreadServer(_trickle) as server:
        started = time.monotonic()
        try:
            result = run_burst(server.url + "/", requests=2, timeout=1.0)
        except BurstError:
            pass  # "did not answer a single request within 1 s": a fine answer
        else:
            assert result.summary.ok == 0, "every request took 3.2 s: each should have timed out at 1 s"
        # Warm-up and burst, each request cut at 1 s: about 3 s at worst, where the trickle takes 3 x 3.2 s.
        assert time.monotonic() - started < 6
