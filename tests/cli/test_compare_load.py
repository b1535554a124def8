"""`lab compare --rate ... --probes`: each twin under the same steady traffic, the kubelet beside it (real uvicorn).

Judged on counts: the broken twin (`async def` + `time.sleep`) blocks its loop, so its `async def /health`
times out and the kubelet restarts it; the sync and async twins keep their loop free, and never are.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

USAGE = 2
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run_lab(args: list[str], timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
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


def test_only_the_broken_twin_is_restarted() -> None:
    result = run_lab(["compare", "-s", "sleep", "--rate", "20", "--duration", "10s", "--probes", "--json"])
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    assert data["probes"] == ["liveness GET /health every 2 s, timeout 1 s, 3 failures"]
    variants = data["variants"]
    restarts = {name: variants[name]["kubelet"]["restarts"] for name in ("sync", "async", "broken")}
    assert restarts["broken"] >= 1, restarts
    assert restarts["sync"] == 0 and restarts["async"] == 0, restarts
    broken = variants["broken"]["kubelet"]
    assert any(d["action"] == "restart" for d in broken["decisions"])
    assert broken["counts"]["liveness"]["timeout"] >= 3  # why: its loop was blocked, the probe timed out
    for name in ("sync", "async"):
        assert variants[name]["kubelet"]["counts"]["liveness"]["ok"] >= 3  # probed all along, and passing
        assert variants[name]["errors"] == {}


def test_the_table_names_each_twin_and_the_probes() -> None:
    result = run_lab(["compare", "-s", "sleep", "--rate", "10", "--duration", "2s", "--probe", "liveness=/health"])
    assert result.returncode == 0, result.stderr[-3000:]
    for words in ("twin", "achieved rate", "p99", "restarts", "out of rotation", "sync", "async", "broken"):
        assert words in result.stdout
    assert "probes: liveness GET /health every 10 s" in result.stderr


CASES: dict[str, tuple[list[str], list[str]]] = {
    "probes-without-rate": (["--probes"], ["go with steady traffic: add --rate"]),
    "probe-without-rate": (["--probe", "liveness=/health"], ["add --rate"]),
    "restart-without-rate": (["--restart"], ["add --rate"]),
    "rate-zero": (["--rate", "0"], ["--rate must be more than 0"]),
    "duration-above-cap": (["--rate", "10", "--duration", "11m"], ["at most 10 min"]),
    "bad-probe": (["--rate", "10", "--probe", "liveness=health"], ["must start with /"]),
    "bad-probe-key": (["--rate", "10", "--probe", "liveness=/health,retries=3"], ["unknown key 'retries'"]),
    "restart-with-url": (
        ["--rate", "10", "--probes", "--restart", "--url", "http://127.0.0.1:9"],
        ["--restart restarts servers the lab started"],
    ),
    "grace-negative": (["--rate", "10", "--probes", "--grace", "-1s"], ["--grace must be between 0"]),
}


@pytest.fixture(scope="module")
def results() -> dict[str, subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(run_lab, ["compare", *args], 120) for name, (args, _) in CASES.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line(results: dict[str, subprocess.CompletedProcess[str]], name: str) -> None:
    result = results[name]
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-2000:]
    assert result.returncode == USAGE, f"exit {result.returncode}: {result.stderr}"
    for word in CASES[name][1]:
        assert word in result.stderr, f"{word!r} not in: {result.stderr}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
