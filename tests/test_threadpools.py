"""Intra-op threads made visible: each process's native thread pools, read by threadpoolctl, on the wire.

The lab's own server runs one BLAS thread per call; a burst at `--workers 2` must show processes x threads.
"""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_limits

from lab.errors import LabError, ProtocolError
from lab.instruments import INSTRUMENTS, native_thread_pools
from lab.numpy_model import cap_intra_op_threads, load_numpy_model
from lab.protocol import ServerStats, ThreadPool

OPENBLAS = ThreadPool("openblas", "blas", 2)


def stats(**overrides: object) -> ServerStats:
    fields: dict[str, object] = {
        "since": 1.0,
        "in_flight": 0,
        "peak_in_flight": 1,
        "loop_lag_max_s": 0.0,
        "loop_lag_last_s": 0.0,
        "heartbeats": 1,
        "thread_tokens_total": 40,
        "thread_tokens_peak": 1,
    }
    return ServerStats(**{**fields, **overrides})  # type: ignore[arg-type]


def test_thread_pools_round_trip_and_say_the_most_threads_per_call() -> None:
    original = stats(threadpools=(OPENBLAS, ThreadPool("libgomp", "openmp", 4)))
    again = ServerStats.from_json(original.to_json())
    assert again.threadpools == original.threadpools
    assert again.to_json()["threadpools"][0] == {"library": "openblas", "api": "blas", "threads": 2}
    assert again.intra_op_threads == 4


def test_a_server_without_the_field_reads_as_no_pools() -> None:
    data = stats().to_json()
    del data["threadpools"]
    assert ServerStats.from_json(data).threadpools == ()
    assert ServerStats.from_json(data).intra_op_threads == 0


def test_a_garbled_pool_is_one_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="KeyError"):
        ServerStats.from_json({**stats().to_json(), "threadpools": [{"library": "openblas"}]})


def test_merged_workers_keep_one_entry_per_pool_per_process() -> None:
    merged = ServerStats.merge([stats(threadpools=(OPENBLAS,)), stats(since=2.0, threadpools=(OPENBLAS,))])
    assert merged.threadpools == (OPENBLAS, OPENBLAS)


def test_the_snapshot_reads_the_live_thread_count() -> None:
    load_numpy_model()  # NumPy and its OpenBLAS are loaded from here on
    with threadpool_limits(limits=1, user_api="blas"):
        assert {p.threads for p in native_thread_pools() if p.api == "blas"} == {1}
        assert INSTRUMENTS.snapshot().intra_op_threads == 1
    with threadpool_limits(limits=2, user_api="blas"):
        assert INSTRUMENTS.snapshot().intra_op_threads == 2  # not a cached reading


def test_the_lab_setting_is_a_whole_number_or_one_line() -> None:
    with threadpool_limits(limits=2, user_api="blas"):
        assert cap_intra_op_threads("0") is None
        assert INSTRUMENTS.snapshot().intra_op_threads == 2  # 0 leaves the library's default
        assert cap_intra_op_threads("1") == 1
        assert INSTRUMENTS.snapshot().intra_op_threads == 1
    with pytest.raises(LabError, match="LAB_INTRA_OP_THREADS must be a whole number"):
        cap_intra_op_threads("many")
