"""The slow things the exercises call: stand-ins for a vendor SDK, a batch model, an audit log, a long job.

Each one reports into `INSTRUMENTS` (a counter, or a gauge of how many run at once), so the lab can
prove from the server side what a learner's code did: how many calls overlapped, how many batches
the model saw, whether work went on after its caller had given up.

They block on purpose, exactly like the real libraries they imitate: `time.sleep` stands in for a
network round-trip or a GPU kernel (it releases the GIL); `burn` stands in for pure-Python CPU work
(it does not).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping, Sequence

from lab.instruments import INSTRUMENTS
from lab.model import Model, burn, sigmoid

__all__ = [
    "AUDIT_GAUGE",
    "BATCH_GAUGE",
    "BLOCKING_CALLS",
    "JOB_GAUGE",
    "SDK_CALLS",
    "SDK_GAUGE",
    "BatchModel",
    "NotThreadSafeError",
    "PredictJob",
    "cpu_predict",
    "lookup_customer_tier",
    "remote_model_call",
    "remote_model_call_async",
    "write_audit_record",
]

# The blocking functions and methods below, by name: a linter can flag them inside `async def`.
BLOCKING_CALLS = frozenset(
    {"remote_model_call", "lookup_customer_tier", "write_audit_record", "cpu_predict", "predict_batch"}
)

# Gauge and counter names, shared by the exercises, `exercises/info.toml` and the tests.
SDK_GAUGE = "sdk_in_flight"
SDK_CALLS = "sdk_calls"  # completed calls: proof that the work was done, not skipped
AUDIT_GAUGE = "audit_in_flight"
BATCH_GAUGE = "batch_model_in_flight"
JOB_GAUGE = "jobs_in_flight"


def remote_model_call(seconds: float) -> None:
    """A synchronous call to a hosted model through its vendor SDK: blocks its thread for `seconds`.

    Counted in the gauge `sdk_in_flight`: its peak says how many calls really overlapped.
    """
    with INSTRUMENTS.gauge(SDK_GAUGE).track():
        time.sleep(seconds)
    INSTRUMENTS.count(SDK_CALLS)


async def remote_model_call_async(seconds: float) -> None:
    """The same call through the SDK's asyncio client: waits without holding a thread."""
    with INSTRUMENTS.gauge(SDK_GAUGE).track():
        await asyncio.sleep(seconds)
    INSTRUMENTS.count(SDK_CALLS)


def lookup_customer_tier(customer_id: str, seconds: float = 0.2) -> str:
    """A synchronous key-value lookup (think `redis.Redis().get`): the customer's pricing tier."""
    time.sleep(seconds)
    INSTRUMENTS.count("tier_lookups")
    return "premium" if customer_id.endswith("-vip") else "standard"


def write_audit_record(record: Mapping[str, object], seconds: float = 0.2) -> None:
    """Append one prediction to the compliance audit log, through a synchronous database driver."""
    with INSTRUMENTS.gauge(AUDIT_GAUGE).track():
        time.sleep(seconds)
    INSTRUMENTS.count("audit_records")


def cpu_predict(model: Model, feature_1: float, feature_2: float, iterations: int) -> float:
    """CPU-bound inference: pure-Python work that holds the GIL, then the model's answer.

    A top-level function with picklable arguments, so a process pool can run it.
    """
    burn(iterations)
    return model.predict(feature_1, feature_2)


def _probability(model: Model, feature_1: float, feature_2: float) -> float:
    # The same arithmetic as `Model.predict`, without counting a model call per row.
    z = model.weights[0] * feature_1 + model.weights[1] * feature_2 + model.bias
    p = sigmoid(z)
    return round(p, 6)


class NotThreadSafeError(RuntimeError):
    """Two threads used the batch model at once (a real GPU context or C library may crash instead)."""


class BatchModel:
    """A model served on an accelerator: one call costs 100 ms plus 1 ms per row.

    Not thread-safe, like many GPU or C-extension models: two calls at once raise. Counts
    `model_calls` (one per call) and `batch_items` (rows), so batching shows in the counters.
    """

    CALL_OVERHEAD_S = 0.100
    PER_ROW_S = 0.001

    def __init__(self, model: Model) -> None:
        self.model = model
        self.version = model.version
        self._busy = threading.Lock()

    def predict_batch(self, rows: Sequence[tuple[float, float]]) -> list[float]:
        """Predictions for every `(feature_1, feature_2)` row, in order. Blocks its thread."""
        if not self._busy.acquire(blocking=False):
            INSTRUMENTS.count("unsafe_calls")
            raise NotThreadSafeError("BatchModel.predict_batch called from two threads at once")
        try:
            with INSTRUMENTS.gauge(BATCH_GAUGE).track():
                time.sleep(self.CALL_OVERHEAD_S + self.PER_ROW_S * len(rows))
            INSTRUMENTS.count("model_calls")
            INSTRUMENTS.count("batch_items", len(rows))
            return [_probability(self.model, f1, f2) for f1, f2 in rows]
        finally:
            self._busy.release()


class PredictJob:
    """A slow prediction made of small steps, which can be asked to stop between two steps.

    `run()` blocks for about `steps * step_s`. Python cannot kill a thread: a caller that stops
    waiting (a timeout) leaves the job running unless it calls `cancel()`, which the job notices
    at its next step. The job knows its caller's budget (`budget_s`) so that it can count
    `work_finished_after_timeout`: work that completed although nobody was waiting for it.
    """

    def __init__(self, model: Model, feature_1: float, feature_2: float, *, budget_s: float) -> None:
        self.model = model
        self.features = (feature_1, feature_2)
        self.budget_s = budget_s
        self.steps = 15
        self.step_s = 0.020
        self._cancelled = threading.Event()  # set from the event loop, read by the worker thread
        self._created = time.perf_counter()

    def cancel(self) -> None:
        """Ask the job to stop at its next step. Safe to call from any thread, any number of times."""
        self._cancelled.set()

    def run(self) -> float | None:
        """The prediction, or None if the job was cancelled before it finished."""
        with INSTRUMENTS.gauge(JOB_GAUGE).track():
            for _ in range(self.steps):
                if self._cancelled.is_set():
                    INSTRUMENTS.count("work_cancelled")
                    return None
                time.sleep(self.step_s)
        if time.perf_counter() - self._created > self.budget_s:
            INSTRUMENTS.count("work_finished_after_timeout")  # computed, but the caller had given up
        return self.model.predict(*self.features)
