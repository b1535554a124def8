"""`lab scan`, `lab lint` and `lab burst -H` from the command line: output shapes, exit codes, one-line mistakes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import xmlschema

from lab.launch.process import ServerProcess
from lab.protocol import BlockingSite

ROOT = Path(__file__).resolve().parents[2]
JUNIT = xmlschema.XMLSchema(ROOT / "tests" / "course" / "junit-10.xsd")

APP = """
import asyncio
import time

from fastapi import FastAPI, Header, HTTPException

app = FastAPI()


@app.get("/items/{item_id}")
async def item(item_id: int) -> dict:
    time.sleep(0.03)  # THE BLOCKING LINE
    return {"id": item_id}


@app.get("/fine")
async def fine() -> dict:
    await asyncio.sleep(0.01)
    return {}


@app.get("/private")
async def private(authorization: str = Header("")) -> dict:
    if authorization != "Bearer s3cret":
        raise HTTPException(401)
    return {}
"""


def lab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        check=False,
    )


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli_scan")
    (folder / "main.py").write_text(APP)
    return folder


def test_json_junit_and_exit_1_when_a_route_blocks(app_dir: Path) -> None:
    done = lab("scan", "main:app", "--json", "--junit", "scan.xml", cwd=app_dir)
    assert done.returncode == 1, done.stderr
    routes = {r["path"]: r for r in json.loads(done.stdout)["routes"]}
    blocked = routes["/items/{item_id}"]
    assert blocked["verdict"] == "serialized" and blocked["peak_in_handler"] == 1
    line = next(i for i, x in enumerate(APP.splitlines(), 1) if "THE BLOCKING LINE" in x)
    assert (Path(blocked["blocking"][0]["file"]).name, blocked["blocking"][0]["line"]) == ("main.py", line)
    stats_shape = BlockingSite("f.py", 1, "f", "", "", 0.0, 0.0).to_json()
    assert set(blocked["blocking"][0]) == set(stats_shape)  # the same shape as /lab/stats' `blocking`
    assert blocked["finding"]["exercise"] == "exercise-1" and blocked["finding"]["blocks"]
    assert any("ASYNC251" in note for note in blocked["lint"])  # the lint of the route's code, beside it
    assert routes["/fine"]["finding"]["blocks"] is False
    assert routes["/private"]["scanned"] is False and routes["/private"]["not_scanned"].startswith("401")
    assert blocked["request"]["generated"] == ["item_id"]
    assert not (app_dir / ".hypothesis").exists()  # the generator's cache is not left in the user's project
    xml = (app_dir / "scan.xml").read_text()
    JUNIT.validate(xml)
    assert xml.count("<failure") == 1 and xml.count("<skipped") == 1 and xml.count("<testcase") == 3


def test_the_table_names_the_line_the_fix_and_the_lesson_and_exit_0_when_clean(app_dir: Path) -> None:
    done = lab("scan", "main:app", "--only", "/fine", "-H", "X-Any: 1", cwd=app_dir)
    assert done.returncode == 0, done.stderr
    assert "none of 1 scanned routes held the event loop" in done.stdout
    done = lab("scan", "main:app", "--only", "/items/*", cwd=app_dir)
    assert done.returncode == 1
    assert "main.py:" in done.stdout and "see `lab run exercise-1`" in done.stdout and "fix:" in done.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--param", "item_id"), "--param 'item_id': write it as name=value"),
        (("--param", "colour=red"), "no scanned route has a parameter named 'colour'"),
        (("--only", "/nothing/*"), "--only '/nothing/*' matches no route"),
        (("-H", "no colon here"), "write a header as 'Name: value'"),
        (("--methods", "GET,FETCH"), "--methods 'GET,FETCH': use some of"),
        (("--body", "POST /items {oops"), "not valid JSON"),
        (("-n", "1"), "--requests must be between 2 and 100"),
    ],
)
def test_a_usage_mistake_is_one_line_and_exit_2(app_dir: Path, args: tuple[str, ...], words: str) -> None:
    done = lab("scan", "main:app", *args, cwd=app_dir)
    assert done.returncode == 2, done.stderr
    assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_an_app_string_that_does_not_import_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = lab("scan", "no_such_module:app", cwd=tmp_path)
    assert done.returncode == 2
    assert "ModuleNotFoundError" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_lab_burst_sends_headers(app_dir: Path) -> None:
    with ServerProcess(str(app_dir / "main.py")) as server:
        url = f"{server.url}/private"
        done = lab("burst", url, "-n", "4", "-H", "Authorization: Bearer s3cret", "--json", cwd=app_dir)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["status_counts"] == {"200": 4}
        done = lab("burst", url, "-n", "4", "--json", cwd=app_dir)
        assert done.returncode == 1 and json.loads(done.stdout)["status_counts"] == {"401": 4}


def test_lab_lint_names_the_line_and_exits_1_and_a_missing_path_is_exit_2(app_dir: Path, tmp_path: Path) -> None:
    done = lab("lint", str(app_dir), cwd=app_dir)
    assert done.returncode == 1
    assert "main.py:12 ASYNC251" in done.stdout
    (tmp_path / "clean.py").write_text("import asyncio\n\n\nasync def f() -> None:\n    await asyncio.sleep(1)\n")
    assert lab("lint", str(tmp_path / "clean.py"), cwd=tmp_path).returncode == 0
    done = lab("lint", str(tmp_path / "missing.py"), cwd=tmp_path)
    assert done.returncode == 2 and "no such file or folder" in done.stderr
