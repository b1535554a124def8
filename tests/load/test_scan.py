"""`lab scan` against a real uvicorn: an app the test writes, with every kind of blocking the scan must find at
its line, beside clean routes that must come out clean. Judged by which route and which line, never by times."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.load.openapi import Choices
from lab.load.scan import RouteResult, ScanOptions, ScanReport, run_scan

HELPERS = """
import time


def slow_lookup() -> int:
    time.sleep(0.03)  # BLOCKS:helper
    return 1
"""

APP = """
import asyncio
import hashlib
import os
import time
import urllib.request

from fastapi import Depends, FastAPI, Header, HTTPException, Request, WebSocket
from fastapi.responses import StreamingResponse

import helpers

app = FastAPI()
BIG = b"x" * (32 * 1024 * 1024)


@app.middleware("http")
async def audit(request: Request, call_next):
    if request.url.path == "/middleware":
        time.sleep(0.03)  # BLOCKS:middleware
    return await call_next(request)


async def current_user() -> str:
    time.sleep(0.03)  # BLOCKS:dependency
    return "ada"


@app.get("/wait")
async def wait() -> dict:
    time.sleep(0.03)  # BLOCKS:wait
    return {}


@app.get("/dependency")
async def dependency(user: str = Depends(current_user)) -> dict:
    return {"user": user}


@app.get("/middleware")
async def middleware() -> dict:
    return {}


@app.get("/helper")
async def helper() -> dict:
    return {"v": helpers.slow_lookup()}


@app.get("/cpu")
async def cpu() -> dict:
    total = sum(i * i for i in range(300_000))  # BLOCKS:cpu
    return {"n": total}


@app.get("/client")
async def client() -> dict:
    with urllib.request.urlopen(os.environ["SCAN_DOWNSTREAM"]) as answer:  # BLOCKS:client
        return {"n": len(answer.read())}


@app.get("/hash")
async def hash_() -> dict:
    return {"h": hashlib.sha256(BIG).hexdigest()}  # BLOCKS:hash


@app.get("/clean/async")
async def clean_async() -> dict:
    await asyncio.sleep(0.03)
    return {}


@app.get("/clean/def")
def clean_def() -> dict:
    time.sleep(0.03)
    return {}


@app.websocket("/ws")
async def ws(websocket: WebSocket) -> None:
    await websocket.accept()


sub = FastAPI()


@sub.get("/inner")
async def inner() -> dict:
    return {}


app.mount("/sub", sub)


@app.get("/stream")
async def stream() -> StreamingResponse:
    async def endless():
        while True:
            yield b"x" * 1024
            await asyncio.sleep(0.01)

    return StreamingResponse(endless())


@app.get("/chunks")
async def chunks():  # no annotation: only its answer tells that it streams
    return StreamingResponse(iter([b"x" * 1024] * 3))


@app.get("/private")
async def private(authorization: str = Header("")) -> dict:
    if authorization != "Bearer s3cret":
        raise HTTPException(401)
    return {}
"""

EXPECTED = {  # route -> (kind, where, the marked line's file)
    "/wait": ("wait", "in the endpoint", "main.py"),
    "/dependency": ("dependency", "in dependency current_user()", "main.py"),
    "/middleware": ("middleware", "in middleware audit()", "main.py"),
    "/helper": ("wait", "in helpers.slow_lookup()", "helpers.py"),
    "/cpu": ("cpu", "in the endpoint", "main.py"),
    "/client": ("client", "in the endpoint", "main.py"),
    "/hash": ("native", "in the endpoint", "main.py"),
}


class Downstream(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(0.03)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("scanned")
    (folder / "main.py").write_text(APP)
    (folder / "helpers.py").write_text(HELPERS)
    downstream = ThreadingHTTPServer(("127.0.0.1", 0), Downstream)
    threading.Thread(target=downstream.serve_forever, daemon=True).start()
    os.environ["SCAN_DOWNSTREAM"] = f"http://127.0.0.1:{downstream.server_address[1]}/"
    yield folder
    os.environ.pop("SCAN_DOWNSTREAM", None)
    downstream.shutdown()


@pytest.fixture(scope="module")
def report(app_dir: Path) -> ScanReport:
    return run_scan(ScanOptions(str(app_dir / "main.py")))


def marked(folder: Path, file: str, marker: str) -> int:
    lines = (folder / file).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if f"# BLOCKS:{marker}" in line)


def route(report: ScanReport, path: str) -> RouteResult:
    return next(r for r in report.routes if r.planned.path == path)


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_each_kind_of_blocking_is_found_at_its_line(report: ScanReport, app_dir: Path, path: str) -> None:
    kind, where, file = EXPECTED[path]
    finding = route(report, path).finding
    assert finding is not None and finding.blocks, route(report, path)
    assert (finding.kind, finding.where) == (kind, where)
    assert finding.line is not None
    assert (Path(finding.line.file).name, finding.line.line) == (file, marked(app_dir, file, path.strip("/")))


@pytest.mark.parametrize("path", ["/clean/async", "/clean/def"])
def test_clean_routes_come_out_clean(report: ScanReport, path: str) -> None:
    result = route(report, path)
    assert result.reading is not None and result.finding is not None
    assert not result.finding.blocks and result.finding.kind is None
    # They overlapped (a route that holds the loop has exactly 1 in its handler at any N).
    assert result.reading.server is not None and result.reading.server.peak_in_handler >= 2


def test_blocking_routes_come_first_and_a_route_behind_auth_is_not_scanned(report: ScanReport) -> None:
    blocks = [r.blocks for r in report.routes]
    assert blocks == sorted(blocks, reverse=True)
    assert {r.planned.path for r in report.blocking} == set(EXPECTED)
    private = route(report, "/private")
    assert private.reading is None
    assert private.not_scanned.startswith("401") and "--header" in private.not_scanned


def test_websockets_mounts_and_streams_are_listed_as_skipped(report: ScanReport) -> None:
    skipped = {s.path: s.reason for s in report.skipped}
    assert "WebSocket" in skipped["/ws"]
    assert "mounted sub-app" in skipped["/sub"]
    assert "streaming" in skipped["/stream"]  # told by its return annotation, never burst
    assert all(r.planned.path != "/stream" for r in report.routes)
    assert "streaming" in route(report, "/chunks").not_scanned  # its answer came in chunks


def test_a_header_reaches_the_route_behind_auth(app_dir: Path) -> None:
    options = ScanOptions(
        str(app_dir / "main.py"), Choices(only=("/private",)), headers={"Authorization": "Bearer s3cret"}
    )
    private = route(run_scan(options), "/private")
    assert private.reading is not None and private.reading.ok == private.reading.requests


def test_an_app_made_by_a_factory_is_scanned_as_uvicorn_takes_it(tmp_path: Path) -> None:
    (tmp_path / "factory.py").write_text(
        "import time\nfrom fastapi import FastAPI\n\n\ndef create_app() -> FastAPI:\n    app = FastAPI()\n\n"
        "    @app.get('/slow')\n    async def slow() -> dict[str, str]:\n        time.sleep(0.05)\n"
        "        return {}\n\n    return app\n"
    )
    cwd = os.getcwd()
    os.chdir(tmp_path)  # `factory:create_app` is found from the current folder, as uvicorn finds it
    try:
        report = run_scan(ScanOptions("factory:create_app"))
    finally:
        os.chdir(cwd)
    slow = route(report, "/slow")
    assert slow.finding is not None and slow.finding.blocks, slow
    assert slow.reading is not None and slow.reading.server is not None
    assert slow.reading.server.blocking[0].line == 10  # `time.sleep` inside the factory's route


BAD = {
    "notapp.py": ("app = 3\n", "`app` is not usable"),
    "noschema.py": (
        "from fastapi import FastAPI\napp = FastAPI(openapi_url=None)\n",
        "serves no OpenAPI schema at /openapi.json (was it made with openapi_url=None?)",
    ),
    "noimport.py": ("import no_such_module_here\n", "noimport.py:1: ModuleNotFoundError"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_an_app_that_cannot_be_scanned_is_one_usage_line(tmp_path: Path, name: str) -> None:
    source, words = BAD[name]
    (tmp_path / name).write_text(source)
    with pytest.raises(LabError) as caught:
        run_scan(ScanOptions(str(tmp_path / name)))
    assert caught.value.usage and words in str(caught.value) and "\n" not in str(caught.value)


def test_a_failing_lifespan_names_its_file_and_line(tmp_path: Path) -> None:
    source = (
        "from contextlib import asynccontextmanager\nfrom fastapi import FastAPI\n\n\n@asynccontextmanager\n"
        "async def lifespan(app):\n    raise RuntimeError('no database')\n    yield\n\n"
        "app = FastAPI(lifespan=lifespan)\n"
    )
    (tmp_path / "life.py").write_text(source)
    with pytest.raises(LabError) as caught:
        run_scan(ScanOptions(str(tmp_path / "life.py")))
    expected = f"{tmp_path / 'life.py'}:7: the app's lifespan failed at start-up: RuntimeError: no database"
    assert str(caught.value) == expected
