"""Static hints, table-driven on synthetic snippets: each names the line and the pattern it found."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lab.course.lint import Finding, ast_findings, lint_file, merge, parse_ruff_json

HEADER = """\
import asyncio
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import httpx
import requests
from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from lab.model import load_model

app = FastAPI()
"""
FIRST = HEADER.count("\n") + 1  # the line number of a snippet's first line


def codes(snippet: str) -> list[tuple[int, str]]:
    """(line within the snippet, code) of each finding, counting the snippet's first line as 1."""
    source = HEADER + textwrap.dedent(snippet)
    return [(f.line - FIRST + 1, f.code) for f in ast_findings(source)]


CASES = [
    (
        "unawaited-asyncio-sleep",
        """
        async def handler():
            asyncio.sleep(1)
        """,
        [(3, "LAB103")],
    ),
    (
        "awaited-asyncio-sleep-is-fine",
        """
        async def handler():
            await asyncio.sleep(1)
        """,
        [],
    ),
    (
        "unawaited-own-coroutine",
        """
        async def work():
            await asyncio.sleep(1)

        async def handler():
            work()
        """,
        [(6, "LAB103")],
    ),
    (
        "time-sleep-in-async",
        """
        async def handler():
            time.sleep(1)
        """,
        [(3, "LAB101")],
    ),
    (
        "time-sleep-in-def-is-fine",
        """
        def handler():
            time.sleep(1)
        """,
        [],
    ),
    (
        "requests-and-sync-client-in-async",
        """
        async def handler():
            requests.get("http://x")
            with httpx.Client() as client:
                client.get("/")
            httpx.get("http://x")
        """,
        [(3, "LAB101"), (4, "LAB101"), (6, "LAB101")],
    ),
    (
        "open-in-async",
        """
        async def handler():
            with open("model.bin") as f:
                return f.read()
        """,
        [(3, "LAB101")],
    ),
    (
        "blocking-helper-called-from-async",
        """
        def fetch(x):
            time.sleep(0.2)
            return x

        def fetch_twice(x):
            return fetch(x) + fetch(x)

        async def handler():
            return fetch_twice(1)

        async def fine():
            return await run_in_threadpool(fetch, 1)
        """,
        [(10, "LAB102")],
    ),
    (
        "helper-that-does-not-block-is-fine",
        """
        def add(x):
            return x + 1

        async def handler():
            return add(1)
        """,
        [],
    ),
    (
        "nested-def-runs-elsewhere",
        """
        async def handler():
            def job():
                time.sleep(1)
            return await run_in_threadpool(job)
        """,
        [],
    ),
    (
        "executor-handed-a-call",
        """
        async def handler():
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, time.sleep(1))
            await asyncio.to_thread(time.sleep(1))
            await run_in_threadpool(load_model(1))
        """,
        [
            (4, "LAB101"),
            (4, "LAB104"),
            (4, "LAB107"),
            (5, "LAB101"),
            (5, "LAB104"),
            (5, "LAB107"),
            (6, "LAB101"),
            (6, "LAB104"),
        ],
    ),
    (
        "executor-handed-a-function-is-fine",
        """
        import functools

        POOL = ProcessPoolExecutor()

        async def handler():
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(POOL, time.sleep, 1)
            await run_in_threadpool(time.sleep, 1)
            await run_in_threadpool(functools.partial(time.sleep, 1))
        """,
        [],
    ),
    (
        "client-and-semaphore-per-request",
        """
        @app.get("/predict")
        async def predict():
            limit = asyncio.Semaphore(5)
            async with limit, httpx.AsyncClient() as client:
                return (await client.get("http://store")).json()
        """,
        [(4, "LAB105"), (5, "LAB105")],
    ),
    (
        "pool-per-request",
        """
        @app.post("/predict")
        def predict():
            with ProcessPoolExecutor() as pool:
                return pool.submit(sum, [1]).result()
        """,
        [(4, "LAB105")],
    ),
    (
        "shared-semaphore-is-fine",
        """
        LIMIT = asyncio.Semaphore(5)

        @app.get("/predict")
        async def predict():
            async with LIMIT:
                return 1
        """,
        [],
    ),
    (
        "lazy-global-model-in-handler",
        """
        MODEL = None

        @app.post("/predict")
        def predict():
            global MODEL
            if MODEL is None:
                MODEL = load_model(1.0)
            return MODEL.version
        """,
        [(8, "LAB106")],
    ),
    (
        "lazy-global-model-in-dependency",
        """
        MODEL = None

        async def get_model():
            global MODEL
            if MODEL is None:
                MODEL = load_model(1.0)
            return MODEL

        @app.post("/predict")
        async def predict(model=Depends(get_model)):
            return model.version
        """,
        [(7, "LAB101"), (7, "LAB106")],
    ),
    (
        "model-in-lifespan-is-fine",
        """
        from contextlib import asynccontextmanager

        MODEL = None

        @asynccontextmanager
        async def lifespan(app):
            global MODEL
            MODEL = load_model(1.0)
            yield
        """,
        [],
    ),
    (
        "default-executor",
        """
        async def handler():
            await asyncio.to_thread(time.sleep, 1)
            await asyncio.get_running_loop().run_in_executor(None, time.sleep, 1)
            await run_in_threadpool(time.sleep, 1)
        """,
        [(3, "LAB107"), (4, "LAB107")],
    ),
    (
        "timeout-around-a-thread",
        """
        async def handler():
            await asyncio.wait_for(run_in_threadpool(time.sleep, 2), timeout=0.5)
            async with asyncio.timeout(0.5):
                await run_in_threadpool(time.sleep, 2)
            await asyncio.wait_for(asyncio.sleep(2), timeout=0.5)
        """,
        [(3, "LAB108"), (4, "LAB108")],
    ),
    (
        "sync-health-check",
        """
        @app.get("/health")
        def health():
            return {"status": "ok"}

        @app.get("/healthz")
        async def healthz():
            return {"status": "ok"}
        """,
        [(3, "LAB109")],
    ),
    (
        "thread-started-per-request-is-not-flagged",
        """
        @app.get("/x")
        async def handler():
            threading.Thread(target=time.sleep, args=(1,)).start()
        """,
        [],
    ),
]


@pytest.mark.parametrize(("snippet", "expected"), [pytest.param(s, e, id=i) for i, s, e in CASES])
def test_ast_findings(snippet: str, expected: list[tuple[int, str]]) -> None:
    assert codes(snippet) == expected


def test_imports_are_followed_through_aliases() -> None:
    source = "from time import sleep as nap\nimport asyncio as aio\n\nasync def h():\n    nap(1)\n    aio.sleep(1)\n"
    assert [(f.line, f.code) for f in ast_findings(source)] == [(5, "LAB101"), (6, "LAB103")]


def test_the_lab_client_alias_is_httpx() -> None:
    source = "from lab.client import httpx\n\n@app.get('/')\nasync def h():\n    c = httpx.AsyncClient()\n"
    assert [f.code for f in ast_findings(source)] == ["LAB105"]


def test_messages_explain_why() -> None:
    (finding,) = ast_findings("import time\nasync def handler():\n    time.sleep(1)\n")
    assert "event loop" in finding.message and "handler" in finding.message


def test_a_syntax_error_is_one_finding() -> None:
    (finding,) = ast_findings("def broken(:\n")
    assert finding.line == 1 and finding.code == "LAB000" and "SyntaxError" in finding.message


def test_parse_ruff_json_adds_the_why() -> None:
    text = '[{"code": "ASYNC251", "message": "Async functions should not call `time.sleep`", "location": {"row": 7}}]'
    (finding,) = parse_ruff_json(text)
    assert finding.line == 7 and finding.code == "ASYNC251" and "event loop" in finding.message
    assert parse_ruff_json("not json") == [] and parse_ruff_json("") == []


def test_merge_keeps_ruffs_finding_for_a_line() -> None:
    ruff = [Finding(3, "ASYNC251", "r")]
    ours = [Finding(3, "LAB101", "o"), Finding(5, "LAB104", "o")]
    assert merge(ruff, ours) == [Finding(3, "ASYNC251", "r"), Finding(5, "LAB104", "o")]


def test_lint_file_runs_ruff_even_on_lines_marked_noqa(tmp_path: Path) -> None:
    file = tmp_path / "exercise.py"
    file.write_text(
        "import asyncio\nimport time\n\n\nasync def handler():\n"
        "    time.sleep(1)  # noqa: ASYNC251\n    asyncio.sleep(1)\n"
    )
    assert [(f.line, f.code) for f in lint_file(file)] == [(6, "ASYNC251"), (7, "LAB103")]


def test_lint_file_on_a_missing_file_is_one_finding(tmp_path: Path) -> None:
    (finding,) = lint_file(tmp_path / "nope.py")
    assert finding.code == "LAB000"
