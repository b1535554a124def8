"""The lab's NumPy model: a small MLP whose kernels (BLAS matmuls, ufuncs) release the GIL.

    model = load_numpy_model()          # once, in a lifespan: builds the weights, checks their checksum
    model.predict(1.5, 0.3)             # ~25 ms of BLAS work on one core (600x600 float32, 6 layers)
    with threadpool_limits(1): ...      # what a well-configured server does once, at start-up

A ranking model: one request scores a fixed batch of 600 candidates (the request's two features
shift every candidate's row), six `tanh(x @ W)` layers, then the mean score through a sigmoid.
Unlike `lab.model.burn`, almost all of its time is spent in C code that releases the GIL, so
threads of one process really compute in parallel; and OpenBLAS runs its own threads inside
each call (as many as cores, by default), which multiply with the server's threads.

The weights are not stored: they are drawn from a seeded generator (PCG64, whose stream NumPy
keeps stable) and checked against the checksum in `lab/data/numpy_model.json`, so a NumPy that
drew different numbers stops the load with one line instead of serving different answers.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_info, threadpool_limits

from lab.errors import LabError
from lab.instruments import INSTRUMENTS
from lab.model import fastest_ms, passes_for  # kept importable from here: it is how callers size this model's work

__all__ = [
    "INTRA_OP_ENV",
    "NumpyModel",
    "cap_intra_op_threads",
    "intra_op_threads",
    "load_numpy_model",
    "ms_per_pass",
    "passes_for",
    "threadpool_limits",
]

MODEL_FILE = "numpy_model.json"
INTRA_OP_ENV = "LAB_INTRA_OP_THREADS"  # the lab server's BLAS threads per call: 1 unless told; 0 leaves the default
Matrix = npt.NDArray[np.float32]


@dataclass(frozen=True, eq=False)
class NumpyModel:
    name: str
    version: str
    layers: tuple[Matrix, ...]
    candidates: Matrix  # (candidates, width): the rows one request scores
    head: Matrix  # (width,): each candidate's final score

    @property
    def nbytes(self) -> int:
        """Memory one copy of the model holds (every worker process has its own)."""
        return sum(a.nbytes for a in (*self.layers, self.candidates, self.head))

    def forward(self, feature_1: float, feature_2: float) -> float:
        """One pass, uncounted: the mean score of the candidates, before the sigmoid."""
        x = np.tanh(self.candidates * np.float32(feature_1) + np.float32(feature_2))
        for weights in self.layers:
            x = np.tanh(x @ weights)  # the matmul runs in BLAS, the tanh in a ufunc loop: both without the GIL
        return float(np.mean(x @ self.head))

    def predict(self, feature_1: float, feature_2: float, passes: int = 1) -> float:
        """Probability of the positive class; `passes` > 1 repeats the work (a bigger model), same answer.

        Rounded so that every variant, thread count and process answers identically.
        """
        INSTRUMENTS.note_intra_op()  # the BLAS threads this call starts with, and ends with: a race shows
        score = 0.0
        for _ in range(max(1, passes)):
            score = self.forward(feature_1, feature_2)
        INSTRUMENTS.note_intra_op()
        INSTRUMENTS.count("numpy_model_calls")
        return round(1.0 / (1.0 + math.exp(-score)), 6)


def load_numpy_model() -> NumpyModel:
    """Build the model from its versioned description and check the weights' checksum (~0.1 s)."""
    raw: dict[str, Any] = json.loads(resources.files("lab.data").joinpath(MODEL_FILE).read_text())
    width, depth, candidates = int(raw["width"]), int(raw["depth"]), int(raw["candidates"])
    rng = np.random.default_rng(int(raw["seed"]))
    scale = np.float32(1 / math.sqrt(width))  # keeps each layer's output in tanh's useful range
    layers = tuple(rng.standard_normal((width, width), dtype=np.float32) * scale for _ in range(depth))
    rows = rng.standard_normal((candidates, width), dtype=np.float32)
    head = rng.standard_normal(width, dtype=np.float32) * scale
    digest = hashlib.sha256()
    for array in (*layers, rows, head):
        digest.update(np.ascontiguousarray(array).tobytes())
    if digest.hexdigest() != raw["sha256"]:
        raise LabError(
            f"{MODEL_FILE}: the weights drawn from seed {raw['seed']} do not match the checksum "
            f"(NumPy {np.__version__} draws different numbers): the model would answer differently"
        )
    for array in (*layers, rows, head):
        array.flags.writeable = False  # shared by every request thread: nobody may change it
    INSTRUMENTS.count("numpy_model_loads")
    return NumpyModel(str(raw["name"]), str(raw["version"]), layers, rows, head)


def ms_per_pass(model: NumpyModel, rounds: int = 3) -> float:
    """Milliseconds one `forward` takes on one core here: the fastest of a few rounds, one BLAS thread."""
    with threadpool_limits(limits=1, user_api="blas"):
        return fastest_ms(lambda: model.forward(0.0, 0.0), rounds)


def cap_intra_op_threads(setting: str | None = None) -> int | None:
    """Limit this process's BLAS threads per call, once, as `$LAB_INTRA_OP_THREADS` says (default 1).

    `0` leaves the library's default (one thread per core): the oversubscribed server notebook 05 and
    `make bench` compare against. Returns the limit set, or None when left alone.
    """
    text = (os.environ.get(INTRA_OP_ENV, "1") if setting is None else setting).strip()
    if not text.isdigit() or int(text) > 1024:
        raise LabError(f"{INTRA_OP_ENV} must be a whole number of threads (0: the library's default), got {text!r}")
    threads = int(text)
    if threads == 0:
        return None
    # Process-wide (OpenBLAS keeps one setting for every thread): set at start-up, never per request.
    threadpool_limits(limits=threads, user_api="blas")
    return threads


def intra_op_threads() -> int:
    """The most threads any BLAS/OpenMP library loaded in this process will run inside one call."""
    return max((int(pool["num_threads"]) for pool in threadpool_info()), default=1)
