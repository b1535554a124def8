"""`lab load` as a user runs it: every wrong rate, duration or bound in one line (exit 2), and the JSON shape.

Each row runs the real `lab` in a subprocess, so the exit codes and stderr are the real ones; the bad-input
rows fail before any request and run side by side.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

USAGE, FAILURE = 2, 1
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _closed_url() -> str:
    """A loopback port where nothing listens: bound by the kernel, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


CLOSED = _closed_url()

PROBE_CASES = runpy.run_path(str(Path(__file__).parent.parent / "load" / "probe_cases.py"))
pod_template = PROBE_CASES["pod_template"]
GOOD_MANIFEST = pod_template("Pod")
MANIFEST = "MANIFEST="  # MANIFEST=<text>: the text is written to a file, whose path takes its place

CASES: dict[str, tuple[list[str], int, list[str]]] = {
    "rate-zero": (["--rate", "0"], USAGE, ["--rate must be more than 0", "got '0'"]),
    "rate-zero-per-minute": (["--rate", "0/m"], USAGE, ["--rate must be more than 0"]),
    "rate-negative": (["--rate", "-5"], USAGE, ["--rate must be more than 0"]),
    "rate-above-cap": (["--rate", "6000/s"], USAGE, ["at most 5,000/s"]),
    "rate-far-above-cap": (["--rate", "9" * 40], USAGE, ["at most 5,000/s"]),
    "rate-garbage": (["--rate", "fast"], USAGE, ["--rate 'fast' is not a rate", "50/s"]),
    "rate-bad-unit": (["--rate", "50/ms"], USAGE, ["is not a rate"]),
    "rate-missing": (["--rate"], USAGE, ["requires an argument"]),
    "duration-zero": (["--duration", "0s"], USAGE, ["--duration must be more than 0"]),
    "duration-negative": (["--duration", "-2m"], USAGE, ["--duration must be more than 0"]),
    "duration-above-cap": (["--duration", "11m"], USAGE, ["at most 10 min"]),
    "duration-garbage": (["--duration", "a while"], USAGE, ["is not a duration", "30s"]),
    "timeout-zero": (["--timeout", "0"], USAGE, ["timeout must be more than 0"]),
    "timeout-nan": (["--timeout", "nan"], USAGE, ["timeout must be more than 0"]),
    "timeout-above-cap": (["--timeout", "61"], USAGE, ["at most 60 s"]),
    "in-flight-zero": (["--max-in-flight", "0"], USAGE, ["--max-in-flight must be between 1 and 1000"]),
    "in-flight-above-cap": (["--max-in-flight", "1001"], USAGE, ["--max-in-flight must be between 1 and 1000"]),
    "method-unknown": (["-m", "FROB"], USAGE, ["'--method'"]),
    "json-body-invalid": (["--json-body", "{"], USAGE, ["--json-body is not valid JSON"]),
    "not-loopback": (["URL=http://example.com/health"], USAGE, ["only sends to loopback", "example.com"]),
    "not-a-url": (["URL=127.0.0.1:8000/health"], USAGE, ["not an http(s) URL"]),
    "closed-port": (["--duration", "1s"], FAILURE, ["cannot connect", "nothing is listening"]),
    # Probes, restarts and a served app: each mistake before anything starts.
    "probe-and-manifest": (
        ["--probe", "liveness=/health", "--probes-from", MANIFEST + GOOD_MANIFEST],
        USAGE,
        ["give --probe or --probes-from, not both"],
    ),
    "container-without-manifest": (["--container", "web"], USAGE, ["--container names a container"]),
    "manifest-missing": (["--probes-from", "/nonexistent/deploy.yaml"], USAGE, ["no such file"]),
    "manifest-unknown-container": (
        ["--probes-from", MANIFEST + GOOD_MANIFEST, "--container", "db"],
        USAGE,
        ["no container named 'db' has probes"],
    ),
    "two-liveness-probes": (["--probe", "liveness=/a", "--probe", "liveness=/b"], USAGE, ["two liveness probes"]),
    "restart-without-serve": (["--probe", "liveness=/health", "--restart"], USAGE, ["--restart needs --serve APP"]),
    "restart-without-probes": (
        ["URL=/health", "--serve", "lab.server.app:app", "--restart"],
        USAGE,
        ["--restart needs probes"],
    ),
    "grace-garbage": (["--grace", "soon"], USAGE, ["--grace 'soon' is not a duration"]),
    "grace-negative": (["--grace", "-1s"], USAGE, ["--grace must be between 0 and 10 min"]),
    "grace-above-cap": (["--grace", "11m"], USAGE, ["--grace must be between 0 and 10 min"]),
    "serve-with-a-full-url": (["--serve", "lab.server.app:app"], USAGE, ["with --serve, URL is the path"]),
    "path-without-serve": (["URL=/health"], USAGE, ["not an http(s) URL"]),
}
# Every bad spec and manifest the library knows, through the CLI: the same one line, exit 2.
for _number, (_text, _words) in enumerate(PROBE_CASES["BAD_PROBES"]):
    CASES[f"probe-{_number}-{_text}"] = (["--probe", _text], USAGE, [_words])
for _number, (_text, _words) in enumerate(PROBE_CASES["BAD_MANIFESTS"]):
    CASES[f"manifest-{_number}"] = (["--probes-from", MANIFEST + _text], USAGE, [_words])


def run_lab(args: list[str], timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "lab", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, ANSI.sub("", result.stdout), ANSI.sub("", result.stderr)
    )


def _argv(args: list[str], folder: Path | None = None) -> list[str]:
    url = next((a[4:] for a in args if a.startswith("URL=")), CLOSED + "/health")
    argv = ["load", url]
    for number, arg in enumerate(args):
        if arg.startswith(MANIFEST):
            assert folder is not None
            path = folder / f"manifest-{number}-{len(argv)}-{abs(hash(arg))}.yaml"
            path.write_text(arg[len(MANIFEST) :], encoding="utf-8")
            arg = str(path)
        if not arg.startswith("URL="):
            argv.append(arg)
    return argv


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    folder = tmp_path_factory.mktemp("manifests")
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(run_lab, _argv(args, folder)) for name, (args, _, _) in CASES.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line(results: dict[str, subprocess.CompletedProcess[str]], name: str) -> None:
    _, code, words = CASES[name]
    result = results[name]
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-2000:]
    assert result.returncode == code, f"exit {result.returncode}: {result.stderr}"
    for word in words:
        assert word.lower() in result.stderr.lower(), f"{word!r} not in: {result.stderr}"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and len(errors[0]) < 200, result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()] == errors
    assert result.stdout == ""


def test_json_shape(lab_url: str) -> None:
    result = run_lab(["load", f"{lab_url}/health", "--rate", "1200/m", "--duration", "1500ms", "--json"])
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for key in ("url", "rate", "duration_s", "sent", "answered", "errors", "achieved_rate", "timeline", "server"):
        assert key in data
    assert data["rate"] == 20.0 and data["duration_s"] == 1.5
    assert data["sent"] == data["answered"] == 30
    assert data["errors"] == {} and data["skipped"] == 0
    assert set(data["schedule_lag_ms"]) == {"p50", "p99", "max"}
    assert set(data["latency_ms"]) == {"p50", "p90", "p99", "p99_9", "max"}
    assert all(isinstance(v, float) for v in data["latency_ms"].values())
    assert data["latency_ms"]["p50"] <= data["latency_ms"]["p99"] <= data["latency_ms"]["max"]
    assert isinstance(data["client_cpu_us_per_request"], float) and data["client_cpu_us_per_request"] > 0
    rows = data["timeline"]
    assert [row["t"] for row in rows] == list(range(len(rows)))
    assert set(rows[0]) == {"t", "sent", "answered", "errors", "skipped", "in_flight", "p50_ms", "p99_ms"}
    assert sum(row["sent"] for row in rows) == 30
    assert data["server"]["loop_lag_max_s"] >= 0  # a lab server: its own view is read
    assert "thread_tokens_peak" in data["server"]


def test_report_in_tables(lab_url: str) -> None:
    result = run_lab(["load", f"{lab_url}/health", "--rate", "10", "--duration", "1s"])
    assert result.returncode == 0, result.stderr
    for words in ("10/s for 1 s (10 requests)", "Latency p50 / p90 / p99", "Schedule lag", "Server: max loop lag"):
        assert words in result.stdout


def test_interrupted_run_reports_what_it_measured(lab_url: str) -> None:
    """Ctrl-C (here SIGINT, as a terminal sends it) ends the run with the report so far, exit 130."""

    def since() -> float:
        with urllib.request.urlopen(f"{lab_url}/lab/stats?records=false", timeout=5) as answer:
            return float(json.loads(answer.read())["since"])

    before = since()
    process = subprocess.Popen(
        [sys.executable, "-m", "lab", "load", f"{lab_url}/health", "--rate", "20", "--duration", "10m", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while since() == before and time.monotonic() < deadline:  # `lab load` resets the window as it starts
            time.sleep(0.1)
        time.sleep(1.5)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    data = json.loads(out)
    assert data["interrupted"] is True
    assert 0 < data["sent"] < data["planned"]
    assert data["notes"][0].startswith("interrupted after")


# Sick in its first process only: liveness fails until the kubelet restarts it, then it is healthy. The marker
# file says whether a process ran before: one restart exactly, and the port must answer traffic again after it.
SICK_ONCE = """\
import asyncio
import os
from pathlib import Path

from fastapi import FastAPI, Response

MARKER = Path(os.environ["LAB_TEST_MARKER"])
SICK = not MARKER.exists()
MARKER.write_text(str(os.getpid()))
app = FastAPI()


@app.get("/health")
async def health() -> Response:
    return Response(status_code=500 if SICK else 200)


@app.get("/work")
async def work() -> dict[str, int]:
    await asyncio.sleep(0.2)  # requests are in flight when SIGKILL comes: the restart cuts them
    return {"pid": os.getpid()}
"""


def test_restart_of_a_served_app_is_real_and_counts_what_it_lost(tmp_path: Path) -> None:
    """--restart: the kubelet's decision is carried out: a new process (pid), the port answers again, and the
    requests the restart cut or refused are counted."""
    app_file = tmp_path / "sick_once.py"
    app_file.write_text(SICK_ONCE, encoding="utf-8")
    argv = [
        "load",
        "/work",
        "--serve",
        str(app_file),
        "--rate",
        "50",
        "--duration",
        "12s",
        "--probe",
        "liveness=/health,period=1s,failures=2",
        "--restart",
        "--grace",
        "0s",  # SIGKILL at once: the requests in flight are cut, whatever the machine's load
        "--json",
    ]
    env_marker = tmp_path / "ran-before"
    result = subprocess.run(
        [sys.executable, "-m", "lab", *argv],
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1", "LAB_TEST_MARKER": str(env_marker)},
    )
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    data = json.loads(result.stdout)
    kubelet = data["kubelet"]
    assert kubelet["restarts"] == 1, kubelet["decisions"]  # sick once, healthy after: the model's count
    [done] = kubelet["restarts_done"]
    assert done["pid"] != data["served_pid"]  # a new process...
    assert int(env_marker.read_text()) == done["pid"]  # ...the one that ran the app second
    assert done["lost"] > 0  # cut by SIGKILL, or refused while nothing listened
    assert data["errors"].get("reset", 0) + data["errors"].get("refused", 0) >= done["lost"]
    after = [row for row in data["timeline"] if row["t"] > done["up_at_s"] + 1]
    assert sum(row["answered"] for row in after) > 0  # the port answers the traffic again
    assert result.returncode == 1  # requests failed: the exit code says so
