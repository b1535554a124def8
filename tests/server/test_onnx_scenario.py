"""The /onnx twins on a real server: `session.run` releases the GIL, the event loop still waits for it.

Judged by what the server measured (handlers at once, loop lag, its thread pools), not by wall times:
on a busy 2-core machine the speed-up of threads moves with whatever else runs. Without the `onnx`
extra the server still starts, and the twins answer 503 with the line that says how to install it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab.client import httpx
from lab.launch.process import ServerProcess
from lab.load.burst import run_burst
from lab.scenarios import ONNX_EXTRA, SCENARIOS

ONNX, NUMPY = SCENARIOS["onnx"], SCENARIOS["numpy"]
needs_runtime = pytest.mark.skipif(
    not ONNX_EXTRA.installed(), reason="ONNX Runtime not installed: uv sync --extra onnx (make test does)"
)


@needs_runtime
@pytest.mark.parametrize("variant", ["sync", "async", "broken"])
def test_every_twin_answers_what_the_numpy_model_answers(lab_url: str, variant: str) -> None:
    answer = httpx.get(ONNX.url(lab_url, variant, 30), timeout=10).json()
    reference = httpx.get(NUMPY.url(lab_url, "sync", 30), timeout=10).json()
    assert answer["variant"] == variant
    assert answer["model_version"] == reference["model_version"]
    assert answer["prediction"] == pytest.approx(reference["prediction"], abs=1e-5)
    same = httpx.get(ONNX.url(lab_url, "sync", 30), timeout=10).json()
    assert answer["prediction"] == same["prediction"]  # one runtime, one answer, whichever twin


@needs_runtime
def test_the_server_reports_one_onnx_runtime_thread_per_call(lab_url: str) -> None:
    stats = httpx.get(lab_url + "/lab/stats", timeout=10).json()
    pools = [pool for pool in stats["threadpools"] if pool["library"] == "onnxruntime"]
    assert pools == [{"library": "onnxruntime", "api": "intra_op", "threads": 1}]


@needs_runtime
@pytest.mark.slow
def test_threads_overlap_in_def_and_the_loop_waits_in_async_def(lab_url: str) -> None:
    # 300 ms, not 100: the server sizes the work by timing one pass at start-up, and on a busy machine
    # that timing can come out twice too slow; the work still lasts well over the requests' spread.
    fixed = run_burst(ONNX.url(lab_url, "sync", 300), requests=6)
    broken = run_burst(ONNX.url(lab_url, "broken", 300), requests=6)
    assert fixed.server is not None and broken.server is not None
    assert {s.status for s in fixed.samples + broken.samples} == {200}
    assert broken.server.peak_in_handler == 1  # one at a time: the loop runs the session
    assert fixed.server.peak_in_handler >= 2, fixed.samples  # in threads, side by side (about 6)
    # The loop was late by about one whole inference: judged against the handlers' own durations, so a
    # mis-timed pass or a slow machine moves both sides alike.
    shortest = min(s.handler_end_s - s.handler_start_s for s in broken.samples if s.handler_end_s and s.handler_start_s)
    assert broken.server.loop_lag_max_s >= shortest / 2
    assert fixed.server.loop_lag_max_s < broken.server.loop_lag_max_s / 2


@pytest.fixture(scope="module")
def server_without_the_extra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # A `sitecustomize` that hides onnxruntime, as if it were not installed: `import onnxruntime` fails
    # and importlib.util.find_spec says None, in the server and everything it starts.
    hide = tmp_path_factory.mktemp("no_onnxruntime")
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['onnxruntime'] = None\n")
    with ServerProcess(env={"PYTHONPATH": str(hide)}) as server:
        yield server.url


def test_without_the_extra_the_server_starts_and_the_twins_say_how_to_install_it(
    server_without_the_extra: str,
) -> None:
    assert httpx.get(server_without_the_extra + "/health", timeout=10).status_code == 200
    for variant in ("sync", "async", "broken"):
        response = httpx.get(ONNX.url(server_without_the_extra, variant, 10), timeout=10)
        assert response.status_code == 503
        detail = response.json()["detail"]
        assert "\n" not in detail and "uv sync --extra onnx" in detail
    stats = httpx.get(server_without_the_extra + "/lab/stats", timeout=10).json()
    assert [p for p in stats["threadpools"] if p["library"] == "onnxruntime"] == []
