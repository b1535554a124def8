"""The ONNX model: a committed graph the script reproduces, the NumPy model's answer, its own threads declared."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

import lab.onnx_model as onnx_model
from lab.errors import LabError
from lab.instruments import INSTRUMENTS
from lab.numpy_model import load_numpy_model
from lab.onnx_model import GRAPH_FILE, GRAPH_SHA256, load_onnx_model
from lab.protocol import ThreadPool
from lab.scenarios import ONNX_EXTRA

ROOT = Path(__file__).resolve().parents[1]
needs_runtime = pytest.mark.skipif(
    not ONNX_EXTRA.installed(), reason="ONNX Runtime not installed: uv sync --extra onnx (make test does)"
)


def test_the_committed_graph_is_what_the_script_builds(tmp_path: Path) -> None:
    pytest.importorskip("onnx", reason="the build tool: uv sync --group model-build (make test does)")
    built = tmp_path / "graph.onnx"
    script = ROOT / "tools" / "build_onnx_model.py"
    subprocess.run([sys.executable, str(script), "-o", str(built)], check=True, capture_output=True, timeout=120)
    committed = resources.files("lab.data").joinpath(GRAPH_FILE).read_bytes()
    assert built.read_bytes() == committed
    assert hashlib.sha256(committed).hexdigest() == GRAPH_SHA256
    assert len(committed) < 10_000  # the graph only: the weights come from the NumPy model's seed


@pytest.fixture(scope="module")
def models() -> tuple[object, object]:
    weights = load_numpy_model()
    return weights, load_onnx_model(weights, threads=1)


@needs_runtime
@pytest.mark.parametrize("features", [(1.5, 0.3), (-2.0, 4.0), (0.0, 0.0)])
def test_it_answers_what_the_numpy_model_answers(models: tuple, features: tuple[float, float]) -> None:
    numpy_model, model = models
    # float32 in both; NumPy computes the final sigmoid in float64, ONNX Runtime in float32
    assert model.predict(*features) == pytest.approx(numpy_model.predict(*features), abs=1e-5)


@needs_runtime
def test_one_answer_whatever_the_threads_and_the_passes(models: tuple) -> None:
    numpy_model, model = models
    alone = model.predict(1.5, 0.3)
    assert model.predict(1.5, 0.3, passes=3) == alone
    default = load_onnx_model(numpy_model, threads=None)  # ONNX Runtime's own pool: one thread per core
    assert default.predict(1.5, 0.3) == pytest.approx(alone, abs=1e-6)
    assert model.predict(-2.0, 4.0) != alone  # the features matter


@needs_runtime
def test_its_intra_op_pool_is_declared_as_configured(models: tuple) -> None:
    numpy_model, _ = models
    load_onnx_model(numpy_model, threads=2)
    assert ThreadPool("onnxruntime", "intra_op", 2) in INSTRUMENTS.snapshot().threadpools
    load_onnx_model(numpy_model, threads=1)  # one entry per process: the latest session's setting
    declared = [p for p in INSTRUMENTS.snapshot().threadpools if p.library == "onnxruntime"]
    assert declared == [ThreadPool("onnxruntime", "intra_op", 1)]


@needs_runtime
def test_calls_and_loads_are_counted(models: tuple) -> None:
    numpy_model, _ = models
    before = dict(INSTRUMENTS.counters)
    model = load_onnx_model(numpy_model)
    model.predict(1.0, 1.0, passes=2)
    assert INSTRUMENTS.counters["onnx_model_loads"] == before.get("onnx_model_loads", 0) + 1
    assert INSTRUMENTS.counters["onnx_model_calls"] == before.get("onnx_model_calls", 0) + 1


def test_without_the_extra_the_load_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what `import onnxruntime` meets when it is absent
    with pytest.raises(LabError) as caught:
        load_onnx_model(load_numpy_model())
    message = str(caught.value)
    assert "\n" not in message and "uv sync --extra onnx" in message


@needs_runtime
def test_a_graph_that_is_not_the_built_one_stops_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_model, "GRAPH_SHA256", "0" * 64)
    with pytest.raises(LabError, match="is not the graph tools/build_onnx_model.py builds"):
        load_onnx_model(load_numpy_model())
