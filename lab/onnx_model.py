"""The lab's ONNX Runtime model: the NumPy MLP (`lab.numpy_model`) as an ONNX graph, run by ONNX Runtime.

    model = load_onnx_model(load_numpy_model(), threads=1)   # once, in a lifespan (imports onnxruntime)
    model.predict(1.5, 0.3)                                  # the NumPy model's answer, within float32 rounding

ONNX Runtime is an optional extra (`uv sync --extra onnx`): nothing here imports it until a model is
loaded, so the lab and its server start without it. `ONNX_EXTRA` says how to install it.

The graph (`lab/data/onnx_model.onnx`, ~1.5 KB, built by `tools/build_onnx_model.py`) names its weights
without storing them: they are the NumPy model's arrays, drawn from its seed and checked by its
checksum, handed to ONNX Runtime in memory. One set of weights, two runtimes, the same answer.

`InferenceSession.run` releases the GIL while its kernels compute, so `def` handlers run it in parallel
threads. It also runs its own intra-op thread pool inside each call (by default one thread per physical
core): the server sets `intra_op_num_threads` once, at load, so request threads times intra-op threads
do not oversubscribe the cores. threadpoolctl cannot see that pool, so `load_onnx_model` reports it to
the instruments itself, as the session options say.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from lab.errors import LabError
from lab.instruments import INSTRUMENTS
from lab.model import fastest_ms
from lab.numpy_model import NumpyModel
from lab.protocol import ThreadPool
from lab.scenarios import ONNX_EXTRA

__all__ = ["GRAPH_FILE", "GRAPH_SHA256", "OnnxModel", "load_onnx_model", "ms_per_pass"]

GRAPH_FILE = "onnx_model.onnx"
# What tools/build_onnx_model.py writes; tests/test_onnx_model.py proves the script still writes it.
GRAPH_SHA256 = "2af7e0e4942ecac4845cdf791237e251cb0d959d9baab63f06754c66db0a14e0"


@dataclass(frozen=True, eq=False)
class OnnxModel:
    name: str
    version: str
    session: Any  # onnxruntime.InferenceSession (ONNX Runtime ships no type hints)
    intra_op_threads: int  # the threads one `run` may use, as the session options set them
    weights: tuple[Any, ...]  # the OrtValues over the NumPy arrays the session reads: kept alive with it

    def forward(self, feature_1: float, feature_2: float) -> float:
        """One pass, uncounted: the probability, as float32 computed it."""
        feeds = {"feature_1": np.asarray(feature_1, np.float32), "feature_2": np.asarray(feature_2, np.float32)}
        (probability,) = self.session.run(None, feeds)  # the GIL is released while it computes
        return float(probability)

    def predict(self, feature_1: float, feature_2: float, passes: int = 1) -> float:
        """Probability of the positive class; `passes` > 1 repeats the work (a bigger model), same answer.

        Rounded as `NumpyModel.predict` rounds, so the two runtimes can be compared.
        """
        probability = 0.0
        for _ in range(max(1, passes)):
            probability = self.forward(feature_1, feature_2)
        INSTRUMENTS.count("onnx_model_calls")
        return round(probability, 6)


def load_onnx_model(weights: NumpyModel, threads: int | None = 1) -> OnnxModel:
    """Load the graph into an ONNX Runtime session that computes with `weights`' arrays.

    `threads`: intra-op threads per `run` (None: ONNX Runtime's default, one per physical core). Inter-op
    threads stay 1: the graph is a chain, nothing in it can run side by side.
    A missing extra or a graph that is not the one the script builds is one `LabError` line.
    """
    try:
        import onnxruntime as ort  # ~0.3 s and ~80 MB installed: only when a server serves the /onnx twins
    except ImportError:
        raise LabError(ONNX_EXTRA.missing("the ONNX model")) from None
    graph = resources.files("lab.data").joinpath(GRAPH_FILE).read_bytes()
    if hashlib.sha256(graph).hexdigest() != GRAPH_SHA256:
        raise LabError(f"{GRAPH_FILE} is not the graph tools/build_onnx_model.py builds: rebuild it")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 0 if threads is None else threads  # 0 is ONNX Runtime's "default"
    options.inter_op_num_threads = 1
    arrays = {"candidates": weights.candidates, "head": weights.head}
    arrays.update({f"layer_{i}": layer for i, layer in enumerate(weights.layers)})
    # Handed over in memory: the graph file names these arrays, the NumPy model holds them.
    values = tuple(ort.OrtValue.ortvalue_from_numpy(array) for array in arrays.values())
    options.add_external_initializers(list(arrays), list(values))
    session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    import psutil  # not at the top: `import lab.server.app` stays lean (tests/test_startup.py)

    # ONNX Runtime's default: as many threads as physical cores (the calling thread is one of them).
    used = threads if threads is not None else psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
    INSTRUMENTS.declare_thread_pool(ThreadPool("onnxruntime", "intra_op", used))
    INSTRUMENTS.count("onnx_model_loads")
    return OnnxModel(weights.name, weights.version, session, used, values)


def ms_per_pass(model: OnnxModel, rounds: int = 3) -> float:
    """Milliseconds one `forward` takes here, with the session's own threads: the fastest of a few rounds."""
    return fastest_ms(lambda: model.forward(0.0, 0.0), rounds)  # (the untimed first run allocates and pre-packs)
