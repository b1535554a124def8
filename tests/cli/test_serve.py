"""`lab serve APP`: any FastAPI app, served with the lab's instruments, found as uvicorn finds it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lab.load.burst import run_burst

USER_APP = """
import time

from fastapi import FastAPI

app = FastAPI()


@app.get("/report")
async def report() -> dict[str, str]:
    time.sleep(0.1)  # THE BLOCKING LINE
    return {"ok": "yes"}


def create_app() -> FastAPI:  # a factory, as `uvicorn --factory main:create_app` takes it
    return app


async def create_later() -> FastAPI:  # not a factory: it returns a coroutine
    return app


def create_broken() -> FastAPI:
    raise RuntimeError("no settings")  # THE FACTORY'S ERROR
"""


FACTORY_LINE = next(n for n, text in enumerate(USER_APP.splitlines(), 1) if "THE FACTORY'S ERROR" in text)


def serve(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lab", "serve", *args, "--port", "0"],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        start_new_session=True,
    )


def url_of(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    banner = proc.stderr.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+)", banner)
    assert match, banner
    return match.group(1)


def stop(proc: subprocess.Popen[str]) -> str:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        _, stderr = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate(timeout=10)
    return stderr


@pytest.mark.timeout(120)
@pytest.mark.parametrize("target", ["main:app", "main.py", "main:create_app"])
def test_a_users_app_is_served_with_the_labs_view(tmp_path: Path, target: str) -> None:
    (tmp_path / "main.py").write_text(USER_APP)
    line = next(n for n, text in enumerate(USER_APP.splitlines(), 1) if "THE BLOCKING LINE" in text)
    proc = serve(target, cwd=tmp_path)
    try:
        url = url_of(proc)
        result = run_burst(url + "/report", requests=5)
    finally:
        stderr = stop(proc)
    assert "Traceback" not in stderr
    assert result.server is not None, "the lab's /lab/stats is there"
    assert result.server.peak_in_handler == 1 and str(result.verdict) == "serialized"
    site = result.server.blocking[0]
    assert (Path(site.file).resolve(), site.line, site.function) == ((tmp_path / "main.py").resolve(), line, "report")
    assert site.share > 0.8


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("nosuch:app", "nosuch: ModuleNotFoundError"),
        ("missing.py", "missing.py: no such file"),
        ("os:path", "not usable"),
        ("main:create_later", "main:create_later: `create_later()` is async: a factory must return the app itself"),
        ("main:create_broken", f"main.py:{FACTORY_LINE}: RuntimeError: no settings"),
    ],
)
def test_what_cannot_be_served_is_one_line(tmp_path: Path, target: str, words: str) -> None:
    (tmp_path / "main.py").write_text(USER_APP)
    done = subprocess.run(
        [sys.executable, "-m", "lab", "serve", target, "--port", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], done.stderr
