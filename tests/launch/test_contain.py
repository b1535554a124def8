"""Nothing outlives the lab: real `lab` processes, real signals, real uvicorn, and a scan of /proc.

Every process a test starts carries `LAB_TEST_MARK=<token>` in its environment, inherited by every
process under it (servers, uvicorn workers, process-pool workers, the resource tracker, daemons that
left the process group). "Nothing left" means: no live process carries the token.

Each test that starts exercise servers runs twice: with warm servers (forks of a warm host, the
default) and with cold ones (`LAB_WARM_HOSTS=0`, fresh interpreters), and each run checks that its
servers are of the kind it asked for. A warm fork's /proc environment is its host's, which the lab
started with the token: the token is independent of the lab's own server marks (lab.contain).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.client import httpx
from lab.launch import warm
from lab.launch.forked import WarmServerProcess
from lab.launch.process import STOP_GRACE_S, ServerProcess

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; containment is Linux's")

MARK_ENV = "LAB_TEST_MARK"
FIXTURE_ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "exercises"
SPINS = FIXTURE_ROOT / "faults" / "spins.py"


def _stat(pid: int) -> tuple[str, int, int] | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1]), int(fields[3])  # state, ppid, session


def marked(token: str, spare: frozenset[int] = frozenset()) -> dict[int, str]:
    """Live processes (zombies are dead) carrying our token, but for `spare`: pid -> command line."""
    found = {}
    marker = f"{MARK_ENV}={token}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid() or int(entry.name) in spare:
            continue
        try:
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        stat = _stat(int(entry.name))
        if stat is not None and stat[0] != "Z":
            found[int(entry.name)] = cmdline
    return found


def cpu_s(pid: int) -> float:
    """CPU seconds (user and system) that process `pid` has used, by the kernel's count; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # fields 14 and 15: utime, stime


def left_after(token: str, timeout_s: float, spare: frozenset[int] = frozenset()) -> dict[int, str]:
    """What still carries the token once `timeout_s` has passed (returns early when nothing does)."""
    deadline = time.monotonic() + timeout_s
    while (alive := marked(token, spare)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def wait_for(condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def servers(token: str, warm: bool) -> list[int]:
    """The servers of one kind a lab started: cold ones run `lab.server.host`; warm ones are forks of the
    warm host (so its command line too), one level below it (the host's own parent is the lab)."""
    found = marked(token)
    if not warm:
        return [pid for pid, cmd in found.items() if "lab.server.host" in cmd]
    forks = {pid for pid, cmd in found.items() if "lab.launch.warm" in cmd}
    hosts = {pid for pid in forks if _parent(pid) not in forks}
    return [pid for pid in forks - hosts if _parent(pid) in hosts]


def _parent(pid: int) -> int | None:
    stat = _stat(pid)
    return None if stat is None else stat[1]


@pytest.fixture
def token() -> Iterator[str]:
    value = uuid.uuid4().hex
    yield value
    for pid in marked(value):  # a failing test must not leave its processes to the next one
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(params=[True, False], ids=["warm", "cold"])
def warm_servers(request: pytest.FixtureRequest) -> bool:
    """Run the test with warm servers (forks of a warm host: the default) and with cold ones."""
    if request.param and not warm.warm_supported():
        pytest.skip("warm hosts need Linux pidfds")
    return bool(request.param)


ServerKind = tuple[type[ServerProcess], frozenset[int]]


@pytest.fixture
def server_kind(token: str, warm_servers: bool, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerKind]:
    """`ServerProcess`, or `WarmServerProcess` forked from a host of its own that carries the token (as a
    lab's host does: it inherits the lab's environment), and the pids that may outlive the servers."""
    if not warm_servers:
        yield ServerProcess, frozenset()
        return
    monkeypatch.setenv(MARK_ENV, token)
    _close_warm_host()
    host = warm.shared_host()
    yield WarmServerProcess, frozenset({host.pid})
    _close_warm_host()


def _close_warm_host() -> None:
    if warm._host is not None:
        warm._close_shared(warm._host)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FIXTURE_ROOT, root)
    return root


def lab(
    args: list[str], token: str, root: Path | None = None, *, warm_servers: bool = True, **kw: object
) -> subprocess.Popen[str]:
    env = {**os.environ, MARK_ENV: token, "COLUMNS": "100", warm.WARM_ENV: "1" if warm_servers else "0"}
    if root is not None:
        env["LAB_ROOT"] = str(root)
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "lab", *args], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw
    )


# 1. The lab killed with SIGKILL at any moment of a check: its servers go with it.


@pytest.mark.parametrize(
    "moment",
    [
        "before any server starts",  # 0.2 s: the lab is still importing
        "while the servers import",  # as soon as a server process exists: the race the parent pid closes
        "while they serve",  # 1.5 s after that
        "while the learner's loop spins",  # spins.py as the exercise, during its burst
    ],
)
def test_a_lab_check_killed_with_sigkill_leaves_no_server(
    project: Path, token: str, moment: str, warm_servers: bool
) -> None:
    if "spins" in moment:
        shutil.copy(SPINS, project / "exercises" / "exercise_01_sleep.py")
    proc = lab(["check", "exercise-1"], token, project, warm_servers=warm_servers)
    try:
        if moment.startswith("before"):
            time.sleep(0.2)
        else:
            wait_for(lambda: servers(token, warm_servers), 30, "the check's servers to start")
            if "serve" in moment:
                time.sleep(1.5)
            elif "spins" in moment:
                time.sleep(4.0)  # both servers started, the solution's burst done, the learner's spinning
    finally:
        proc.kill()
        proc.communicate()
    assert left_after(token, 10) == {}


# 2. A server whose event loop spins: uvicorn's SIGTERM handler never runs, so stop() escalates.


def test_stop_kills_a_server_whose_loop_spins(token: str, server_kind: ServerKind) -> None:
    kind, host = server_kind
    server = kind(str(SPINS), env={MARK_ENV: token}).start()

    def call() -> None:
        with contextlib.suppress(httpx.HTTPError):  # it never answers: that is the point
            httpx.get(server.url + "/wait", timeout=3)

    assert server.pid is not None
    idle = cpu_s(server.pid)
    caller = threading.Thread(target=call)
    caller.start()
    # The request is in and the loop spins: 1.5 s of CPU since, where an idle server spends 0.3 s in 10 s
    # (measured). After a fixed sleep a busy machine could have left it unsent, and SIGTERM would then work.
    wait_for(lambda: cpu_s(server.pid) - idle >= 1.5, 60, "the server's loop to spin")  # type: ignore[arg-type]
    began = time.monotonic()
    server.stop()
    took = time.monotonic() - began
    caller.join()
    assert server.returncode == -signal.SIGKILL  # SIGTERM could not stop it
    assert took < STOP_GRACE_S + 2.5
    assert left_after(token, 5, spare=host) == {}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_lab_check_stopped_by_a_signal_stops_its_servers_and_says_so(
    project: Path, token: str, sig: signal.Signals, warm_servers: bool
) -> None:
    """Ctrl-C, `kill` or a closed terminal during a check whose learner server spins: exit 130, one line."""
    shutil.copy(SPINS, project / "exercises" / "exercise_01_sleep.py")
    proc = lab(["check", "exercise-1"], token, project, warm_servers=warm_servers)
    try:
        wait_for(lambda: len(servers(token, warm_servers)) == 2, 30, "the check's servers to start")
        time.sleep(3.0)  # the learner's burst is under way: its loop spins
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["error: interrupted: the servers this check started have been stopped"]
    assert left_after(token, 1) == {}  # stopped before the lab exited, not by the kernel afterwards


def test_lab_run_stopped_by_sigterm_stops_its_servers(project: Path, token: str, warm_servers: bool) -> None:
    shutil.copy(SPINS, project / "exercises" / "exercise_01_sleep.py")
    proc = lab(["run", "exercise-1"], token, project, warm_servers=warm_servers)
    try:
        wait_for(lambda: len(servers(token, warm_servers)) == 2, 30, "the walkthrough's servers to start")
        time.sleep(3.0)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "error: interrupted: the servers this check started have been stopped"
    assert left_after(token, 1) == {}


def test_lab_watch_closed_terminal_after_a_save_leaves_no_server(project: Path, token: str, warm_servers: bool) -> None:
    """The issue's case: a save re-checks, then the terminal closes (SIGHUP) while that check runs."""
    exercise = project / "exercises" / "exercise_01_sleep.py"
    proc = lab(["watch", "exercise-1", "--poll"], token, project, warm_servers=warm_servers)
    try:
        wait_for(lambda: len(servers(token, warm_servers)) == 2, 30, "the first check's servers")
        wait_for(lambda: not servers(token, warm_servers), 60, "the first check to finish (the file is broken)")
        time.sleep(1.0)  # the watch is waiting for a save
        exercise.write_text(SPINS.read_text())  # a save: the new check's learner server spins
        wait_for(lambda: len(servers(token, warm_servers)) == 2, 30, "the re-check's servers")
        time.sleep(1.0)
        proc.send_signal(signal.SIGHUP)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert left_after(token, 1) == {}


# 3. A handler that daemonizes: fork, setsid (a new session and process group), fork, and then either
#    exec (`sleep`: its environment is `os.environ`'s) or stay Python (its /proc environment is the
#    server's initial one: for a warm fork, the block the fork wrote its mark into).

DAEMONIZING_APP = """
import os, time
from fastapi import FastAPI

app = FastAPI()


@app.post("/daemonize")
def daemonize(execs: bool) -> int:
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.setsid()
        if os.fork() == 0:
            os.write(write, str(os.getpid()).encode())
            if execs:
                os.execvp("sleep", ["sleep", "60"])
            time.sleep(60)
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    daemon = int(os.read(read, 20))
    os.close(read)
    return daemon
"""


def test_stop_kills_daemons_that_left_the_process_group(tmp_path: Path, token: str, server_kind: ServerKind) -> None:
    kind, host = server_kind
    app = tmp_path / "daemonizing.py"
    app.write_text(DAEMONIZING_APP)
    server = kind(str(app), env={MARK_ENV: token}).start()
    # Orphaned, they come back to a child subreaper: the lab for a cold server, the warm host for a fork.
    reaper = os.getpid() if kind is ServerProcess else next(iter(host))
    try:
        daemons = [
            httpx.post(server.url + "/daemonize", params={"execs": execs}, timeout=10).json()
            for execs in (True, False, True, False)
        ]
        wait_for(lambda: all(_parent(pid) == reaper for pid in daemons), 10, "the daemons' parents to exit")
        # The exec'd ones run `sleep` soon after: on a busy machine that takes a moment.
        wait_for(lambda: sum(cmd.startswith("sleep 60") for cmd in marked(token).values()) == 2, 10, "exec")
        assert set(daemons) <= set(marked(token))  # the test's own token finds all four
        for pid in daemons:
            stat = _stat(pid)
            assert stat is not None
            assert stat[2] != server.pid  # their own session: killing the server's group misses them
    finally:
        server.stop()
    assert left_after(token, 5, spare=host) == {}
    # Reaped, not left as zombies (the warm host reaps what it adopted every 50 ms).
    wait_for(lambda: all(_stat(pid) is None for pid in daemons), 5, "the daemons to be reaped")


# 4. `lab serve`: its process-pool workers (and uvicorn's workers) die with it, however it dies.


def start_lab_serve(token: str, workers: int) -> tuple[subprocess.Popen[str], str]:
    proc = lab(["serve", "--port", "0", "--workers", str(workers)], token, start_new_session=True)
    assert proc.stderr is not None
    banner = proc.stderr.readline()  # printed once the app is loaded, with the real port
    assert banner.startswith("lab server on http://"), banner
    url = banner.split()[3]

    def ready() -> bool:
        try:
            httpx.get(url + "/health", timeout=1).raise_for_status()
        except httpx.HTTPError:
            return False
        spawned = [cmd for cmd in marked(token).values() if "--multiprocessing-fork" in cmd]
        # uvicorn's workers (with --workers 2) and each one's process pool, one process per core
        return len(spawned) >= (workers if workers > 1 else 0) + workers * (os.cpu_count() or 1)

    wait_for(ready, 60, "lab serve and its process pool")
    return proc, url


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGHUP])
def test_lab_serve_takes_every_worker_with_it(token: str, workers: int, sig: signal.Signals) -> None:
    proc, url = start_lab_serve(token, workers)
    assert any("resource_tracker" in cmd for cmd in marked(token).values())
    proc.send_signal(sig)
    proc.communicate(timeout=30)
    assert left_after(token, 10) == {}  # pool workers, uvicorn workers, the resource tracker
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health", timeout=2)  # nobody serves the port any more


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_on_lab_serve_prints_no_traceback(token: str, workers: int) -> None:
    proc, _ = start_lab_serve(token, workers)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal does: the whole foreground process group
    _, stderr = proc.communicate(timeout=30)
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == "lab server stopped"
    assert proc.returncode == 0
    assert left_after(token, 10) == {}


# 5. Ctrl-C at the worst moment of a server's start: where Python can raise it while the lab holds a lock.

# A signal's handler runs between two bytecodes, and `Popen.poll()` takes its lock with `acquire(False)` a
# bytecode before the `try` that releases it: a KeyboardInterrupt raised there leaves the lock held for good,
# and `stop()` then waits for the child for ever. Timing cannot aim a signal at one bytecode; a trace function
# can raise it exactly there, as the handler would: on the first line run inside `Popen` code with that lock held.
INTERRUPT_WHILE_POPEN_LOCKED = """
import subprocess, sys
from lab.launch.process import ServerProcess

fired = []

def tracer(frame, event, arg):
    if fired or frame.f_code.co_filename != subprocess.__file__:
        return tracer
    popen = frame.f_locals.get("self")
    if event == "line" and isinstance(popen, subprocess.Popen) and popen._waitpid_lock.locked():
        fired.append(frame.f_code.co_name)
        raise KeyboardInterrupt
    return tracer

server = ServerProcess()
sys.settrace(tracer)
try:
    server.start()
except KeyboardInterrupt:
    pass
finally:
    sys.settrace(None)
server.stop()
print(fired[0] if fired else "-", server.pid, flush=True)
"""


def test_ctrl_c_where_popen_holds_its_lock_does_not_hang_the_start(token: str) -> None:
    """While it waits for a server to answer, `ServerProcess.start()` must not hold a lock that Ctrl-C can
    leave held: it reads whether the child exited without `Popen.poll()`. (Before: `lab compare` interrupted
    while starting hung in `stop()` now and then, and its test failed on a busy machine.)"""
    proc = subprocess.Popen(
        [sys.executable, "-c", INTERRUPT_WHILE_POPEN_LOCKED],
        env={**os.environ, MARK_ENV: token},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"start() interrupted inside Popen with its lock held: stop() waited for ever\n{err[-2000:]}")
    assert proc.returncode == 0, err[-2000:]
    where, pid = out.split()
    # Interrupted there or not at all: either way stop() ended it, and nothing it started is left.
    assert where in ("-", "_internal_poll", "_wait"), out
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]
    assert left_after(token, 10) == {}
