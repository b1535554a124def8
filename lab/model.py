"""The lab's model: a small, real, deterministic logistic regression, loaded from a versioned file.

Small on purpose: the lessons are about *where* inference runs, not what it computes. `burn` adds
pure-Python work that holds the GIL, standing in for a model too big to answer instantly.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from lab.instruments import INSTRUMENTS

__all__ = [
    "CALIBRATION_ENV",
    "Model",
    "burn",
    "iterations_for",
    "iterations_per_ms",
    "fastest_ms",
    "load_model",
    "passes_for",
    "sigmoid",
]


@dataclass(frozen=True)
class Model:
    name: str
    version: str
    weights: tuple[float, float]
    bias: float

    def predict(self, feature_1: float, feature_2: float) -> float:
        """Probability of the positive class, rounded so that every variant answers identically."""
        z = self.weights[0] * feature_1 + self.weights[1] * feature_2 + self.bias
        INSTRUMENTS.count("model_calls")
        return round(sigmoid(z), 6)


def sigmoid(z: float) -> float:
    # Split by sign so that math.exp never overflows for large |z|.
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def load_model(load_s: float = 0.0) -> Model:
    """Read the model file. `load_s` simulates the seconds a real model takes to load (blocking!)."""
    if load_s > 0:
        time.sleep(load_s)
    raw = json.loads(resources.files("lab.data").joinpath("model.json").read_text())
    INSTRUMENTS.count("model_loads")
    return Model(raw["name"], raw["version"], (raw["weights"][0], raw["weights"][1]), raw["bias"])


def burn(iterations: int) -> int:
    """Pure-Python arithmetic that holds the GIL for its whole run: CPU-bound "inference".

    A fixed amount of work, never "spin until a deadline": two threads spinning to their own
    deadlines would both finish on time and hide the GIL entirely.
    """
    acc = 0
    for i in range(iterations):
        acc = (acc * 1103515245 + i) & 0xFFFFFFFF
    return acc


CALIBRATION_ENV = "LAB_CPU_ITERATIONS_PER_MS"  # set by the parent, so every server it starts does equal work
_iterations_per_ms: float | None = None


def iterations_per_ms() -> float:
    """`burn` iterations per millisecond on this machine: from the environment, else measured once."""
    global _iterations_per_ms
    if _iterations_per_ms is None:
        given = os.environ.get(CALIBRATION_ENV)
        _iterations_per_ms = float(given) if given else _calibrate()
    return _iterations_per_ms


def _calibrate(probe: int = 100_000, rounds: int = 3) -> float:
    # Timed on this thread's CPU clock, not the wall clock: on a busy machine the OS may run this thread
    # a fraction of the time, and a wall-clock rate measured then sized "800 ms" of work at ~130 ms of a
    # free core (a stress run caught exercise 8's broken server passing on it). The fastest of a few
    # rounds still leaves out what a busy core costs even while it runs (shared caches).
    burn(probe // 10)  # warm the interpreter's caches before timing
    best = math.inf
    for _ in range(rounds):
        t0 = time.thread_time()
        burn(probe)
        best = min(best, time.thread_time() - t0)
    return probe / max(best * 1000, 1e-3)


def iterations_for(ms: float) -> int:
    """How many `burn` iterations take about `ms` milliseconds of one core on this machine."""
    return max(1, int(ms * iterations_per_ms()))


def passes_for(ms: float, per_pass_ms: float) -> int:
    """How many passes of a model (NumPy's, ONNX Runtime's) take about `ms` milliseconds of one core.

    Here, not in lab.numpy_model: the routes that size their work with it must not import NumPy, so
    that `import lab.server.app` stays close to `import fastapi`; NumPy loads in the lifespan.
    """
    return max(1, round(ms / max(per_pass_ms, 1e-3)))


def fastest_ms(run_once: Callable[[], object], rounds: int = 3) -> float:
    """Milliseconds one call takes here: once untimed (caches warm, buffers allocated), then the fastest of a few.

    Each round counts the smaller of its wall time and this process's CPU time: on a busy machine the
    wall clock also counts the time the OS ran other programs (as in `_calibrate`), while a call whose
    native library spreads it over several threads spends more CPU than wall time.
    """
    run_once()
    best = math.inf
    for _ in range(rounds):
        began, cpu = time.perf_counter(), time.process_time()
        run_once()
        best = min(best, time.perf_counter() - began, time.process_time() - cpu)
    return best * 1000
