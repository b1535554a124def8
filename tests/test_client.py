"""The lab's HTTP client: proxies in the environment never touch loopback, and burst bodies are capped in memory."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi import FastAPI, Response

from lab.client import BODY_BYTES, MAX_BODY_BYTES, burst_client, never_proxy_loopback
from lab.launch.process import ThreadServer

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "exercises"
# A corporate laptop's proxy, here a port where nothing listens: any request sent to it fails at once.
PROXIED = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "ALL_PROXY": "http://127.0.0.1:9"}


def _lab(args: list[str], env: dict[str, str], timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "http_proxy", "https_proxy")}
    return subprocess.run(
        [sys.executable, "-m", "lab", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
        env={**clean, **env},
    )


def test_a_proxy_in_the_environment_does_not_break_check_or_compare(tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(FIXTURES, root)
    shutil.copy(FIXTURES / "faults" / "fixed_sleep.py", root / "exercises" / "exercise_01_sleep.py")
    env = {**PROXIED, "LAB_ROOT": str(root)}
    with ThreadPoolExecutor(max_workers=2) as pool:
        checked = pool.submit(_lab, ["check", "exercise-1"], env)
        compared = pool.submit(_lab, ["compare", "-n", "2", "--delay-ms", "20", "--json"], env)
        check, compare = checked.result(), compared.result()
    assert check.returncode == 0, check.stdout + check.stderr
    assert "PASSED" in check.stdout
    assert compare.returncode == 0, compare.stderr
    assert '"broken"' in compare.stdout


def test_learners_clients_reach_loopback_past_a_proxy(lab_url: str) -> None:
    """Exercise files make their own clients (trust_env left on): importing lab.client keeps loopback local."""
    probe = f"from lab.client import httpx; print(httpx.get({lab_url + '/health'!r}, timeout=10).status_code)"
    clean = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env={**clean, **PROXIED}
    )
    assert done.stdout.strip() == "200", done.stderr[-2000:]


def test_loopback_is_added_to_no_proxy_only_when_a_proxy_is_set() -> None:
    untouched = {"PATH": "/bin"}
    never_proxy_loopback(untouched)
    assert untouched == {"PATH": "/bin"}
    proxied = {"https_proxy": "http://proxy:3128", "NO_PROXY": "example.com,localhost"}
    never_proxy_loopback(proxied)
    assert proxied["no_proxy"] == proxied["NO_PROXY"] == "example.com,localhost,127.0.0.1,::1"


@pytest.fixture(scope="module")
def big_body_url() -> Iterator[str]:
    big = FastAPI()
    body = b"x" * (4 * 1024 * 1024)

    @big.get("/big")
    async def big_answer() -> Response:
        return Response(body, media_type="application/octet-stream")

    with ThreadServer(big) as server:
        yield server.url + "/big"


def test_a_burst_keeps_only_the_start_of_each_body_and_counts_the_rest(big_body_url: str) -> None:
    async def one() -> tuple[int, int, str]:
        async with burst_client(1, 30) as client:
            response = await client.get(big_body_url)
            return len(response.content), response.extensions[BODY_BYTES], response.headers["content-length"]

    kept, size, length = asyncio.run(one())
    assert kept == MAX_BODY_BYTES
    assert size == int(length) == 4 * 1024 * 1024
