"""Warm hosts, against real processes: every fork starts from the same clean state, nothing a learner's
server does reaches the host or the next check, and a host that died is replaced."""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab import contain
from lab.client import httpx
from lab.errors import ServerError
from lab.launch import warm
from lab.launch.forked import WarmServerProcess, server_process
from lab.launch.process import ServerProcess
from lab.launch.warm import WARM_ENV, shared_host, warm_supported

pytestmark = pytest.mark.skipif(not warm_supported(), reason="warm hosts need Linux pidfds")

# A learner's module that changes everything it can reach: a module of its own in sys.modules, a
# global in a lab module, the environment, the working directory, and a thread left running.
MESSY = """\
import os, sys, threading, time, types
from fastapi import FastAPI
import lab.model

sys.modules["left_behind_by_a_learner"] = types.ModuleType("left_behind_by_a_learner")
lab.model.LEFT_BEHIND = True
os.environ["LEFT_BEHIND"] = "1"
os.chdir("/")
threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
app = FastAPI()

@app.get("/")
async def root() -> int:
    return os.getppid()
"""

# What the next check's module sees of all that.
CLEAN = """\
import os, sys
from fastapi import FastAPI
import lab.model

app = FastAPI()

@app.get("/")
async def root() -> dict[str, object]:
    return {
        "module": "left_behind_by_a_learner" in sys.modules or "messy" in sys.modules,
        "global": hasattr(lab.model, "LEFT_BEHIND"),
        "env": "LEFT_BEHIND" in os.environ,
        "cwd": os.getcwd(),
        "parent": os.getppid(),
    }
"""

OK = "from fastapi import FastAPI\napp = FastAPI()\n\n@app.get('/')\nasync def root() -> str:\n    return 'ok'\n"


def live_members(pgid: int) -> list[int]:
    """Processes of a process group that are still running (zombies awaiting their reaper do not count)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _write(folder: Path, name: str, source: str) -> str:
    path = folder / f"{name}.py"
    path.write_text(source)
    return str(path)


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def _serves_ok(target: str) -> int:
    """Start a server from the shared host, check that it answers, stop it; the host's pid."""
    with WarmServerProcess(target, startup_timeout_s=20) as server:
        assert httpx.get(server.url + "/").json() == "ok"
    return shared_host().pid


def test_what_one_check_imported_is_not_visible_in_the_next(tmp_path: Path) -> None:
    messy = _write(tmp_path, "messy", MESSY)
    clean = _write(tmp_path, "clean", CLEAN)
    host = shared_host()
    with WarmServerProcess(messy) as first:
        assert httpx.get(first.url + "/").json() == host.pid  # a fork of the host, not a fresh interpreter
        with WarmServerProcess(clean) as second:  # while the messy one still runs, too
            seen = httpx.get(second.url + "/").json()
    assert seen == {"module": False, "global": False, "env": False, "cwd": os.getcwd(), "parent": host.pid}
    assert shared_host() is host and host.alive
    assert _threads(host.pid) == 1  # the host forks: a thread of its own would make forks unsafe


# Each process that imports it says so, in a file named by the environment.
COUNTED = """\
import os
from fastapi import FastAPI

with open(os.environ["IMPORTED_BY"], "a") as log:
    log.write(f"{os.getpid()}\\n")
app = FastAPI()

@app.get("/")
async def root() -> list[int]:
    return [os.getpid(), os.getppid()]
"""


def test_uvicorn_workers_are_forked_warm_and_each_imports_the_module_itself(tmp_path: Path) -> None:
    log = tmp_path / "imported_by.txt"
    target = _write(tmp_path, "counted", COUNTED)
    with WarmServerProcess(target, workers=2, env={"IMPORTED_BY": str(log)}) as server:
        assert server.pid is not None
        seen: set[int] = set()
        deadline = time.monotonic() + 30
        while len(seen) < 2 and time.monotonic() < deadline:  # new connections reach either worker
            with httpx.Client(trust_env=False) as client:
                pid, parent = client.get(server.url + "/", headers={"Connection": "close"}).json()
            assert parent == server.pid  # a worker of this server's supervisor
            seen.add(pid)
        assert len(seen) == 2
        for pid in seen:  # forks of the warm server, not fresh interpreters (spawn's `--multiprocessing-fork`)
            assert "--multiprocessing-fork" not in Path(f"/proc/{pid}/cmdline").read_text()
    # Each worker imported the module once, and the supervisor never did: state is a worker's own.
    assert sorted(int(line) for line in log.read_text().split()) == sorted(seen)


def test_a_module_that_does_not_load_in_forked_workers_is_reported_once_by_file_and_line(tmp_path: Path) -> None:
    target = _write(tmp_path, "broken_workers", "from fastapi import FastAPI\napp = FastAPI()\n1 / 0\n")
    started = time.monotonic()
    with pytest.raises(ServerError, match=r"broken_workers\.py:3: ZeroDivisionError") as error:
        WarmServerProcess(target, workers=2, startup_timeout_s=20).start()
    assert "\n" not in str(error.value) and time.monotonic() - started < 15  # not restarted again and again


def test_a_module_that_hangs_in_forked_workers_shows_where(tmp_path: Path) -> None:
    target = _write(tmp_path, "hangs", "import time\nfrom fastapi import FastAPI\napp = FastAPI()\ntime.sleep(60)\n")
    server = WarmServerProcess(target, workers=2, startup_timeout_s=3, env={"PYTHONFAULTHANDLER": "1"})
    with pytest.raises(ServerError, match="did not answer"):
        server.start()
    assert re.search(r'File "[^"]*hangs\.py", line 4', server.log_text()), server.log_text()[-2000:]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def broken(:\n", r"bad\.py:1: SyntaxError"),
        ("import ctypes\nctypes.string_at(0)\n", r"exited at start-up|Segmentation fault|Fatal Python error"),
        ("import os\nos._exit(7)\n", r"exited at start-up"),
    ],
    ids=["syntax-error", "segfault-at-import", "exit-at-import"],
)
def test_a_server_that_dies_at_start_leaves_the_host_serving(tmp_path: Path, source: str, expected: str) -> None:
    host_pid = shared_host().pid
    with pytest.raises(ServerError, match=expected):
        WarmServerProcess(_write(tmp_path, "bad", source), startup_timeout_s=20).start()
    assert _serves_ok(_write(tmp_path, "good", OK)) == host_pid


def test_a_crashed_or_hung_server_does_not_poison_the_host(tmp_path: Path) -> None:
    host_pid = shared_host().pid
    crashing = _write(
        tmp_path,
        "crashing",
        "import os\nfrom fastapi import FastAPI\napp = FastAPI()\n\n@app.get('/')\ndef root():\n    os._exit(1)\n",
    )
    with WarmServerProcess(crashing) as server:
        with pytest.raises(httpx.TransportError):
            httpx.get(server.url + "/", timeout=5)
        deadline = time.monotonic() + 5
        while server.alive and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not server.alive
    hanging = _write(tmp_path, "hanging", "import time\ntime.sleep(3600)\n")  # never finishes importing
    server = WarmServerProcess(hanging, startup_timeout_s=1)
    with pytest.raises(ServerError, match="did not answer"):
        server.start()
    assert server.pid is not None and live_members(server.pid) == []  # stopped, its whole group
    # A loop blocked for good: the stop that follows must still end it (SIGTERM is not enough).
    blocking = _write(
        tmp_path,
        "blocking",
        "import time\nfrom fastapi import FastAPI\napp = FastAPI()\n\n"
        "@app.get('/')\nasync def root():\n    while True:\n        time.sleep(1)\n",
    )
    with WarmServerProcess(blocking) as stuck:
        with pytest.raises(httpx.TimeoutException):
            httpx.get(stuck.url + "/", timeout=0.5)
        stuck.stop(grace_s=0.5)
        assert stuck.pid is not None and live_members(stuck.pid) == []
    assert _serves_ok(_write(tmp_path, "good", OK)) == host_pid


def test_a_host_that_died_is_replaced_and_takes_its_servers_with_it(tmp_path: Path) -> None:
    good = _write(tmp_path, "good", OK)
    with WarmServerProcess(good) as orphaned:
        dead = shared_host()
        os.kill(dead.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while dead.alive and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not dead.alive
        assert orphaned.pid is not None
        deadline = time.monotonic() + 15  # the fork notices its parent is gone and stops itself
        while live_members(orphaned.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert live_members(orphaned.pid) == []
    assert _serves_ok(good) != dead.pid  # a new host, serving
    assert shared_host() is not dead


def test_the_lab_closing_its_host_stops_every_server_it_forked(tmp_path: Path) -> None:
    server = WarmServerProcess(_write(tmp_path, "good", OK)).start()
    host = shared_host()
    host.close()
    assert not host.alive and server.pid is not None
    deadline = time.monotonic() + 5
    while live_members(server.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_members(server.pid) == []
    server.stop()


# Whether the HTTP client was imported already when a server's own module loaded.
SEES_CLIENT = """\
import sys
from fastapi import FastAPI

PRELOADED = "httpx2" in sys.modules
app = FastAPI()

@app.get("/")
async def root() -> bool:
    return PRELOADED
"""


def test_the_http_client_is_preloaded_for_servers_that_call_the_store_and_only_from_then_on(tmp_path: Path) -> None:
    # Importing it costs ~0.1 s of a host's start; only servers with the feature store call out.
    if warm._host is not None:
        warm._close_shared(warm._host)  # a host no earlier test asked for the client
    target = _write(tmp_path, "sees_client", SEES_CLIENT)
    with WarmServerProcess(target) as plain:
        assert httpx.get(plain.url + "/").json() is False
    with WarmServerProcess(target, with_store=True) as calls_the_store:
        assert httpx.get(calls_the_store.url + "/").json() is True
    host = shared_host()
    assert host.alive and _threads(host.pid) == 1  # the client's import started no thread in the host
    with WarmServerProcess(target) as later:  # a library module, imported once: the host keeps it
        assert httpx.get(later.url + "/").json() is True


# The CPU work's burn rate a server uses, and the one it passes on to the processes it spawns.
RATE = """\
import os
import lab.model
from fastapi import FastAPI

app = FastAPI()

@app.get("/")
async def root() -> list[str]:
    return [str(lab.model.iterations_per_ms()), os.environ[lab.model.CALIBRATION_ENV]]
"""


def test_every_fork_works_at_the_burn_rate_its_host_measured_once_and_passes_it_on(tmp_path: Path) -> None:
    # Measured apart, two servers' rates differ by a few percent: a check's two servers would not do equal work.
    target = _write(tmp_path, "rate", RATE)
    with WarmServerProcess(target) as first, WarmServerProcess(target) as second:
        rates = [httpx.get(server.url + "/").json() for server in (first, second)]
    assert rates[0] == rates[1] and rates[0][0] == rates[0][1], rates


def test_a_warm_start_is_a_small_part_of_a_cold_one(tmp_path: Path) -> None:
    """The point of it all. Ratios, not times: a busy machine slows both kinds of start alike."""
    good = _write(tmp_path, "good", OK)
    _serves_ok(good)  # the host is up and has imported everything

    def start_time(kind: type[ServerProcess]) -> float:
        began = time.perf_counter()
        with kind(good):
            return time.perf_counter() - began

    warm = statistics.median(start_time(WarmServerProcess) for _ in range(3))
    cold = start_time(ServerProcess)
    assert warm < cold / 3, f"warm {warm:.3f} s, cold {cold:.3f} s"  # measured ~0.07 s against ~1.2 s


def test_warm_hosts_are_on_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WARM_ENV, raising=False)
    assert type(server_process("lab.server.app:app")) is WarmServerProcess
    monkeypatch.setenv(WARM_ENV, "0")
    assert type(server_process("lab.server.app:app")) is ServerProcess


def _environ(pid: int) -> dict[str, str]:
    entries = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
    return dict(entry.split("=", 1) for entry in entries if "=" in entry)


def test_each_fork_shows_its_own_mark_in_proc_and_the_host_only_the_placeholder(tmp_path: Path) -> None:
    """What lets `contain.members` find a fork and all it forks, as it finds a cold server's processes."""
    good = _write(tmp_path, "good", OK)
    host = shared_host()
    with WarmServerProcess(good) as first, WarmServerProcess(good) as second:
        for server in (first, second):
            assert server.pid is not None
            assert _environ(server.pid)[contain.MARK_ENV] == server._mark
            assert {m.pid for m in contain.members(host.pid + 10**9, server._mark)} == {server.pid}  # by mark alone
        assert first._mark != second._mark
        assert _environ(host.pid)[contain.MARK_ENV] == contain.MARK_PLACEHOLDER
    assert _serves_ok(good) == host.pid  # the placeholder is still there for the next fork


def test_a_host_that_cannot_mark_its_forks_is_not_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No placeholder in the host's /proc environment (here: a mark too short): cold servers, no failure."""
    monkeypatch.delenv(WARM_ENV, raising=False)
    monkeypatch.setattr(contain, "MARK_PLACEHOLDER", "0" * 31)  # the host looks for a 32-character one
    if warm._host is not None:
        warm._close_shared(warm._host)
    try:
        server = server_process(_write(tmp_path, "good", OK))
        with server:
            assert httpx.get(server.url + "/").json() == "ok"
        assert not warm.warm_available()
        assert type(server_process("lab.server.app:app")) is ServerProcess
    finally:
        monkeypatch.setattr(warm, "_refused", False)


# A lab process that starts a warm host (and, once it serves, a fork), says their pids, then waits.
LAB_PROCESS = """\
import json, sys, time
from lab.launch.warm import shared_host
host = shared_host()
found = {"host": host.pid}
if sys.argv[1] == "serving":
    from lab.launch.forked import WarmServerProcess
    found["fork"] = WarmServerProcess(sys.argv[2]).start().pid
else:
    time.sleep(0.2)  # the host is under way: past its first instructions, importing FastAPI (~1 s)
print(json.dumps(found), flush=True)
time.sleep(60)
"""

# Its parent: a child subreaper, so the host comes back to it once the lab is gone and it reads the
# host's exit status; SIGKILLs the lab, then collects everything that comes back.
SUBREAPER = """\
import ctypes, json, os, signal, subprocess, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
signal.alarm(60)
lab = subprocess.Popen([sys.executable, "-c", sys.argv[1], *sys.argv[2:]], stdout=subprocess.PIPE, text=True)
found = json.loads(lab.stdout.readline())
lab.kill()
lab.wait()
statuses = {}
while True:
    try:
        pid, status = os.waitpid(-1, 0)
    except ChildProcessError:
        break
    statuses[pid] = os.waitstatus_to_exitcode(status)
# The host reaps its own forks: one that did not come back here is either gone or still running.
gone = {pid: "gone" if not os.path.exists(f"/proc/{pid}") else "running" for pid in found.values()}
print(json.dumps({name: statuses.get(pid, gone[pid]) for name, pid in found.items()}))
"""


@pytest.mark.parametrize("moment", ["importing", "serving"])
def test_a_host_dies_with_its_lab_even_while_it_imports(tmp_path: Path, moment: str) -> None:
    """A lab SIGKILLed: its host goes too, by its parent death signal (SIGTERM) while it still imports
    FastAPI and reads no socket, and, once serving, after ending (and reaping) its forks."""
    good = _write(tmp_path, "good", OK)
    out = subprocess.run(
        [sys.executable, "-c", SUBREAPER, LAB_PROCESS, moment, good],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    ended = json.loads(out.stdout.splitlines()[-1])
    if moment == "importing":
        # Not 0: it did not finish importing first. SIGTERM: the death signal ended it mid-import; 4: it
        # had not yet asked for one, and found its parent gone when it did.
        assert ended["host"] in (-signal.SIGTERM, contain.EXIT_ORPHANED)
    else:
        assert ended == {"host": 0, "fork": "gone"}
