"""The lab server's own API, over a real socket."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time

import pytest

from lab.client import httpx
from lab.model import load_model


def test_health_names_the_model_version(lab_url: str) -> None:
    body = httpx.get(lab_url + "/health").json()
    assert body == {"status": "healthy", "model_version": load_model().version}


def test_predict_is_a_real_deterministic_model(lab_url: str) -> None:
    def predict(f1: float, f2: float) -> float:
        response = httpx.post(lab_url + "/predict", json={"feature_1": f1, "feature_2": f2})
        assert response.status_code == 200
        assert response.json()["model_version"] == load_model().version
        return float(response.json()["prediction"])

    assert predict(1.5, 0.3) == predict(1.5, 0.3)
    assert predict(3.0, 0.0) > predict(0.0, 0.0) > predict(0.0, 3.0)  # the weights' signs, not a constant
    assert 0.0 < predict(-1e6, 1e6) < 1.0 or predict(-1e6, 1e6) in (0.0, 1.0)


@pytest.mark.parametrize("variant", ["sync", "async", "broken"])
def test_every_twin_answers_the_same(lab_url: str, variant: str) -> None:
    body = {"feature_1": 1.5, "feature_2": 0.3}
    expected = httpx.post(lab_url + "/predict", json=body).json()
    assert httpx.post(f"{lab_url}/predict/{variant}?delay_ms=10", json=body).json() == expected
    for scenario in ("sleep", "cpu", "pool"):
        answer = httpx.get(f"{lab_url}/{scenario}/{variant}?delay_ms=10").json()
        assert answer["variant"] == variant and answer["model_version"] == expected["model_version"]
    assert httpx.get(f"{lab_url}/downstream/{variant}?delay_ms=10", timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ('{"feature_2": 1.0}', "feature_1", "Field required"),
        ('{"feature_1": "abc", "feature_2": 1.0}', "feature_1", "valid number"),
        ('{"feature_1": "1.5", "feature_2": 1.0}', "feature_1", "valid number"),  # strict: no numbers in disguise
        ('{"feature_1": true, "feature_2": 1.0}', "feature_1", "valid number"),
        ('{"feature_1": NaN, "feature_2": 1.0}', "feature_1", "finite number"),  # Python's json reads NaN
        ('{"feature_1": 1.0, "feature_2": -Infinity}', "feature_2", "finite number"),
        ('{"feature_1": 1e300, "feature_2": 1.0}', "feature_1", "less than or equal"),
    ],
)
def test_bad_features_are_a_422_naming_the_field(lab_url: str, body: str, field: str, words: str) -> None:
    response = httpx.post(lab_url + "/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"][-1] == field
    assert words in detail["msg"]


def test_stats_reset_and_headers(lab_url: str) -> None:
    httpx.post(lab_url + "/lab/stats/reset")
    response = httpx.get(lab_url + "/sleep/async?delay_ms=5")
    assert float(response.headers["x-process-time"]) >= 0.004
    assert int(response.headers["x-lab-pid"]) > 0
    stats = httpx.get(lab_url + "/lab/stats").json()
    assert stats["peak_in_flight"] == 1
    assert stats["thread_tokens_total"] == 40
    assert stats["heartbeats"] > 0
    assert [r["path"] for r in stats["requests"]] == ["/sleep/async"]  # read-outs are not counted
    assert stats["counters"]["model_loads"] == 1  # loaded once, in the lifespan


def test_metrics_are_prometheus_text(lab_url: str) -> None:
    httpx.get(lab_url + "/sleep/async?delay_ms=1")
    text = httpx.get(lab_url + "/metrics").text
    assert 'lab_request_duration_seconds_bucket{le="0.005",method="GET",route="/sleep/async",status="200"}' in text
    assert "lab_event_loop_lag_seconds_count" in text
    assert "lab_thread_tokens_total 40.0" in text


def test_delay_is_bounded(lab_url: str) -> None:
    assert httpx.get(lab_url + "/sleep/async?delay_ms=10001").status_code == 422
    assert httpx.get(lab_url + "/sleep/async?delay_ms=-1").status_code == 422


def test_the_root_is_an_index_not_a_404(lab_url: str) -> None:
    response = httpx.get(lab_url + "/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    for link in ('href="/docs"', 'href="/lab/stats"', 'href="/metrics"'):
        assert link in response.text
    assert "/" not in httpx.get(lab_url + "/openapi.json").json()["paths"], "the index is not an API endpoint"


def test_plain_uvicorn_keeps_its_startup_line_and_access_log() -> None:
    """`uvicorn lab.server.app:app`: the fake store's in-thread uvicorn must not reconfigure uvicorn's loggers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        command = [sys.executable, "-m", "uvicorn", "lab.server.app:app", "--fd", str(sock.fileno())]
        with subprocess.Popen(
            command, pass_fds=(sock.fileno(),), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as proc:
            try:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    with contextlib.suppress(httpx.TransportError):
                        if httpx.get(url + "/health", timeout=1).status_code == 200:
                            break
                    time.sleep(0.1)
                httpx.get(url + "/health?from=the-test", timeout=10)
                time.sleep(0.3)  # the access line is written after the response
            finally:
                proc.terminate()
                output, _ = proc.communicate(timeout=30)
    assert "Application startup complete." in output, output[-2000:]
    assert "GET /health?from=the-test HTTP/1.1" in output, output[-2000:]
