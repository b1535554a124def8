"""Bad requests to the lab's API: each one gets a 4xx that says what was wrong, never a 500.

Table-driven: every row is a request a user or a fuzzer could send, and the status and words the
answer must carry. Validation is pure request handling, so the in-process TestClient is enough here;
the body-size limit is also checked against a real uvicorn, where the body really streams in.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException

from lab.client import httpx
from lab.launch.process import ServerProcess
from lab.server.app import create_app
from lab.server.limits import MAX_BODY_BYTES, limit

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def shipped() -> Iterator[TestClient]:
    """The app exactly as `lab serve` runs it."""
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


def test_the_shipped_app_is_limited() -> None:
    """`lab.server.limits` only protects the app if create_app() applies it."""
    assert getattr(create_app().state, "lab_limited", False)


def assert_clear_4xx(response: Any, status: int, *words: str) -> dict[str, Any]:
    """The status we expect, a JSON `detail`, no traceback, and the words that say what is allowed."""
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert "detail" in body, body
    text = response.text
    assert "Traceback" not in text and "Internal Server Error" not in text
    for word in words:
        assert word.lower() in text.lower(), f"{word!r} not in {text[:500]}"
    return body


# --- /predict: missing, wrong-typed and out-of-range features --------------------------------------------------

PREDICT_422 = [
    # (id, body as raw JSON text, words the 422 must carry)
    ("empty-object", "{}", ["feature_1", "Field required"]),
    ("one-missing", '{"feature_1": 1.5}', ["feature_2", "Field required"]),
    ("string", '{"feature_1": "abc", "feature_2": 0.3}', ["feature_1", "valid number"]),
    ("null", '{"feature_1": null, "feature_2": 0.3}', ["feature_1", "valid number"]),
    ("list", '{"feature_1": [1], "feature_2": 0.3}', ["feature_1", "valid number"]),
    ("object", '{"feature_1": {"a": 1}, "feature_2": 0.3}', ["feature_1", "valid number"]),
    ("above-bound", '{"feature_1": 1e7, "feature_2": 0.3}', ["feature_1", "less than or equal to 1000000"]),
    ("below-bound", '{"feature_1": 1.5, "feature_2": -1e7}', ["feature_2", "greater than or equal to -1000000"]),
    ("huge-int", '{"feature_1": 1' + "0" * 400 + ', "feature_2": 0.3}', ["feature_1"]),
    ("extra-field", '{"feature_1": 1.5, "feature_2": 0.3, "admin": true}', ["admin", "Extra inputs"]),
    ("array", "[1.5, 0.3]", ["valid dictionary"]),
    ("scalar", "42", ["valid dictionary"]),
    ("not-json", "feature_1=1.5", ["JSON decode error"]),
    ("truncated", '{"feature_1": 1.5,', ["JSON decode error"]),
    ("empty-body", "", ["Field required"]),
]


@pytest.mark.parametrize(("body", "words"), [row[1:] for row in PREDICT_422], ids=[row[0] for row in PREDICT_422])
@pytest.mark.parametrize("path", ["/predict", "/predict/async?delay_ms=0"])
def test_predict_rejects_bad_features_with_422(shipped: TestClient, path: str, body: str, words: list[str]) -> None:
    assert_clear_4xx(shipped.post(path, content=body.encode(), headers=JSON), 422, *words)


NUMBERS_IN_DISGUISE = [
    ("bool", '{"feature_1": true, "feature_2": 0.3}'),
    ("numeric-string", '{"feature_1": "1.5", "feature_2": 0.3}'),
]


@pytest.mark.parametrize("body", [row[1] for row in NUMBERS_IN_DISGUISE], ids=[r[0] for r in NUMBERS_IN_DISGUISE])
def test_predict_rejects_numbers_in_disguise(shipped: TestClient, body: str) -> None:
    """A JSON `true` or `"1.5"` is not a feature value (the OpenAPI schema says `number`)."""
    assert_clear_4xx(shipped.post("/predict", content=body.encode(), headers=JSON), 422, "feature_1", "valid number")


# Python's json module reads NaN, Infinity and numbers past the float range as non-finite floats.
NON_FINITE = [
    ("nan", '{"feature_1": NaN, "feature_2": 0.3}'),
    ("infinity", '{"feature_1": Infinity, "feature_2": 0.3}'),
    ("minus-infinity", '{"feature_1": 1.5, "feature_2": -Infinity}'),
    ("overflow", '{"feature_1": 1e400, "feature_2": 0.3}'),
]


def _check_non_finite(client: TestClient, body: str) -> None:
    detail = assert_clear_4xx(client.post("/predict", content=body.encode(), headers=JSON), 422, "finite number")
    [error] = detail["detail"]
    assert error["loc"][-1] in ("feature_1", "feature_2")
    assert isinstance(error["input"], str) and not math.isfinite(float(error["input"]))


@pytest.mark.parametrize("body", [row[1] for row in NON_FINITE], ids=[row[0] for row in NON_FINITE])
def test_non_finite_numbers_are_422_not_500(shipped: TestClient, body: str) -> None:
    """FastAPI's own 422 handler cannot encode the NaN it echoes back: it was a 500 (see lab.server.limits)."""
    _check_non_finite(shipped, body)


def test_good_predict_still_works(shipped: TestClient) -> None:
    response = shipped.post("/predict", json={"feature_1": 1.5, "feature_2": 0.3})
    assert response.status_code == 200
    assert 0.0 <= response.json()["prediction"] <= 1.0


# --- delay_ms on every scenario ---------------------------------------------------------------------------------

SCENARIO_PATHS = [
    ("GET", f"/{scenario}/{variant}", limit_ms)
    for scenario, limit_ms in (("sleep", 10_000), ("pool", 10_000), ("downstream", 10_000), ("cpu", 5_000))
    for variant in ("sync", "async", "broken")
] + [("POST", f"/predict/{variant}", 10_000) for variant in ("sync", "async", "broken")]

DELAYS = [
    ("negative", "-1", "greater than or equal to 0"),
    ("above-max", None, "less than or equal to"),
    ("huge", "9" * 40, "less than or equal to"),
    ("float", "1.5", "valid integer"),
    ("exponent", "1e3", "valid integer"),
    ("word", "abc", "valid integer"),
    ("empty", "", "valid integer"),
    ("nan", "nan", "valid integer"),
]


@pytest.mark.parametrize(("value", "words"), [row[1:] for row in DELAYS], ids=[row[0] for row in DELAYS])
@pytest.mark.parametrize(("method", "path", "max_ms"), SCENARIO_PATHS, ids=[f"{m} {p}" for m, p, _ in SCENARIO_PATHS])
def test_out_of_range_delay_is_422(
    shipped: TestClient, method: str, path: str, max_ms: int, value: str | None, words: str
) -> None:
    value = str(max_ms + 1) if value is None else value
    body = {"feature_1": 1.5, "feature_2": 0.3} if method == "POST" else None
    response = shipped.request(method, path, params={"delay_ms": value}, json=body)
    detail = assert_clear_4xx(response, 422, "delay_ms", words)
    assert detail["detail"][0]["loc"] == ["query", "delay_ms"]


@pytest.mark.timeout(60)
def test_a_long_but_allowed_downstream_delay_is_not_a_500(shipped: TestClient) -> None:
    response = shipped.get("/downstream/async", params={"delay_ms": 5_500})
    assert response.status_code == 200, response.text[:300]


def test_unknown_paths_and_methods_are_4xx(shipped: TestClient) -> None:
    assert shipped.get("/sleep/sideways").status_code == 404
    assert shipped.get("/predict").status_code == 405
    assert shipped.delete("/health").status_code == 405


# --- oversized bodies -------------------------------------------------------------------------------------------

BIG = b'{"feature_1": 1.5, "feature_2": 0.3, "padding": "' + b"x" * (2 * MAX_BODY_BYTES) + b'"}'


def _chunks(data: bytes, size: int = 16 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _check_too_large(client: TestClient) -> None:
    declared = client.post("/predict", content=BIG, headers=JSON)  # Content-Length set
    assert_clear_4xx(declared, 413, "too large", f"at most {MAX_BODY_BYTES} bytes")
    streamed = client.post("/predict", content=_chunks(BIG), headers=JSON)  # chunked, no length
    assert_clear_4xx(streamed, 413, "too large", f"at most {MAX_BODY_BYTES} bytes")
    # Just under the limit is a body like any other: validated, answered 422 for the extra field.
    fits = b'{"feature_1": 1.5, "feature_2": 0.3, "p": "' + b"x" * (MAX_BODY_BYTES - 100) + b'"}'
    assert_clear_4xx(client.post("/predict", content=fits, headers=JSON), 422, "Extra inputs")


def test_oversized_bodies_are_413(shipped: TestClient) -> None:
    _check_too_large(shipped)


UNREADABLE = [
    ("not-utf8", b'\xff7{"feature_1": 1.5}', "UnicodeDecodeError"),
    ("nested-too-deep", b"[" * 50_000, "nested too deeply"),  # within the size limit
]


def _check_unreadable(client: TestClient, body: bytes, words: str) -> None:
    """FastAPI's own answer is a bare 400, which the OpenAPI schema does not list; the lab's is a 422."""
    detail = assert_clear_4xx(client.post("/predict", content=body, headers=JSON), 422, "not readable JSON", words)
    assert detail["detail"][0]["loc"] == ["body"]


@pytest.mark.parametrize(("body", "words"), [row[1:] for row in UNREADABLE], ids=[row[0] for row in UNREADABLE])
def test_an_unreadable_body_is_422(shipped: TestClient, body: bytes, words: str) -> None:
    _check_unreadable(shipped, body, words)


def test_limit_keeps_an_apps_own_validation_handler() -> None:
    app = FastAPI()

    async def mine(request: Any, exc: Exception) -> Any:
        raise NotImplementedError

    app.add_exception_handler(Exception, mine)
    from fastapi.exceptions import RequestValidationError

    app.add_exception_handler(RequestValidationError, mine)
    app.add_exception_handler(HTTPException, mine)
    limit(app)
    limit(app)  # twice: still one middleware
    assert app.exception_handlers[RequestValidationError] is mine
    assert app.exception_handlers[HTTPException] is mine
    assert sum(m.cls.__name__ == "BodyLimit" for m in app.user_middleware) == 1


# --- the body limit on a real server: the body really streams, and memory stays flat ---------------------------


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _server_rss_kib(server: ServerProcess) -> int:
    assert server.pid is not None
    return _rss_kib(server.pid)


@pytest.fixture(scope="module")
def own_server() -> Iterator[ServerProcess]:
    """A server of this module's own: its memory is measured, so no other test may share it."""
    with ServerProcess("lab.server.app:app") as server:
        yield server


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's RSS from /proc")
def test_real_server_refuses_a_20_mb_body_without_buffering_it(own_server: ServerProcess) -> None:
    size = 20 * 1024 * 1024
    before = _server_rss_kib(own_server)
    with httpx.Client(timeout=60) as client:
        for content in (b"x" * size, _chunks(b"x" * size, 256 * 1024)):
            response = client.post(own_server.url + "/predict", content=content, headers=JSON)
            assert response.status_code == 413, response.text[:300]
            assert f"at most {MAX_BODY_BYTES} bytes" in response.json()["detail"]
        # The server is fine afterwards, on the same connection and on a new one.
        assert client.get(own_server.url + "/health").status_code == 200
    assert httpx.get(own_server.url + "/health", timeout=10).status_code == 200
    grown_kib = _server_rss_kib(own_server) - before
    assert grown_kib < size // 1024 // 2, f"server RSS grew by {grown_kib} KiB for a refused {size >> 20} MiB body"


# --- learners' apps, served by the lab, get the same protection ------------------------------------------------

LEARNER_APP = """
from fastapi import FastAPI

from lab.schemas import PredictRequest

app = FastAPI()


@app.post("/predict")
async def predict(features: PredictRequest) -> dict[str, float]:
    return {"sum": features.feature_1 + features.feature_2}
"""


def test_apps_loaded_by_the_lab_host_are_limited_too(tmp_path: Path) -> None:
    from lab.server.host import load_app

    path = tmp_path / "learner_app.py"
    path.write_text(LEARNER_APP)
    with TestClient(load_app(str(path)), raise_server_exceptions=False) as client:
        _check_non_finite(client, NON_FINITE[0][1])
        _check_too_large(client)


def test_an_apps_own_400_stays_a_400() -> None:
    """Only FastAPI's body-parsing 400 becomes a 422: an app's own HTTPException(400) passes untouched."""
    app = FastAPI()

    @app.get("/mine")
    async def mine() -> None:
        try:
            int("x")
        except ValueError as exc:
            raise HTTPException(400, "my own reason") from exc

    with TestClient(limit(app)) as client:
        response = client.get("/mine")
    assert response.status_code == 400 and response.json() == {"detail": "my own reason"}
