import pytest

from lab.load.verdict import CONCURRENT, FAILED, INCONCLUSIVE, SERIALIZED, WAVES, judge, site_sentence, site_text
from lab.protocol import BlockingSite, ServerStats


def server_view(peak_in_flight: int, loop_lag_max_s: float, tokens_total: int, tokens_peak: int) -> ServerStats:
    """A lab server's own readings of one burst, as `/lab/stats` reports them."""
    return ServerStats(
        since=0.0,
        in_flight=0,
        peak_in_flight=peak_in_flight,
        loop_lag_max_s=loop_lag_max_s,
        loop_lag_last_s=0.0,
        heartbeats=100,
        thread_tokens_total=tokens_total,
        thread_tokens_peak=tokens_peak,
    )


LAB_CONCURRENT = server_view(peak_in_flight=10, loop_lag_max_s=0.001, tokens_total=40, tokens_peak=10)
LAB_BLOCKED = server_view(peak_in_flight=1, loop_lag_max_s=0.4, tokens_total=40, tokens_peak=0)
LAB_TOKENS_OUT = server_view(peak_in_flight=100, loop_lag_max_s=0.002, tokens_total=40, tokens_peak=40)


@pytest.mark.parametrize(
    ("requests", "concurrency", "wall", "single", "server", "server_max", "kind", "wave"),
    [
        (10, 10, 0.11, 0.10, None, None, CONCURRENT, None),
        (10, 10, 1.02, 0.10, None, None, SERIALIZED, None),
        (20, 20, 0.81, 0.20, None, None, WAVES, 5),  # asyncio's executor, 6 threads: ~4 rounds
        (10, 10, 0.11, 0.10, LAB_CONCURRENT, 0.10, CONCURRENT, None),
        (10, 10, 1.02, 0.10, LAB_BLOCKED, 0.10, SERIALIZED, None),
        # 100 at once: the client's own launch cost doubles the wall, the server saw no queueing.
        (100, 100, 0.19, 0.10, LAB_CONCURRENT, 0.11, CONCURRENT, None),
        (100, 100, 0.70, 0.21, LAB_TOKENS_OUT, 0.62, WAVES, 40),
        # GIL: handlers overlapped, yet N x slower than one alone.
        (10, 10, 1.0, 0.10, LAB_CONCURRENT, 1.0, SERIALIZED, None),
        # Client-limited: 4 at a time, 3 rounds, as expected.
        (12, 4, 0.31, 0.10, None, None, CONCURRENT, None),
    ],
)
def test_judge(
    requests: int,
    concurrency: int,
    wall: float,
    single: float,
    server: ServerStats | None,
    server_max: float | None,
    kind: str,
    wave: int | None,
) -> None:
    verdict = judge(requests, concurrency, wall, single, requests, server, server_max)
    assert verdict.kind == kind, verdict.reasons
    assert verdict.wave_size == wave
    assert verdict.reasons


def test_blocked_loop_is_explained() -> None:
    verdict = judge(10, 10, 1.0, 0.1, 10, LAB_BLOCKED, 0.1)
    assert any("event loop's longest single stall was 400 ms" in r for r in verdict.reasons)


@pytest.mark.parametrize(
    ("requests", "concurrency", "single", "ok", "kind"),
    [
        (10, 10, 0.1, 0, FAILED),
        (1, 1, 0.1, 1, INCONCLUSIVE),
        (10, 1, 0.1, 10, INCONCLUSIVE),
        (10, 10, 0.001, 10, INCONCLUSIVE),
    ],
)
def test_what_cannot_be_judged(requests: int, concurrency: int, single: float, ok: int, kind: str) -> None:
    assert judge(requests, concurrency, 0.2, single, ok).kind == kind


def test_verdict_reads_well() -> None:
    assert str(judge(20, 20, 0.81, 0.2, 20)) == "waves of ~5"
    assert judge(10, 10, 0.11, 0.1, 10).as_dict()["kind"] == CONCURRENT


def test_tokens_out_is_explained_with_the_second_token_of_a_def_route() -> None:
    from dataclasses import replace

    server = replace(LAB_TOKENS_OUT, peak_in_handler=40, peak_token_waiters=60)
    verdict = judge(100, 100, 0.70, 0.21, 100, server, 0.62)
    assert verdict.wave_size == 40
    text = " ".join(verdict.reasons)
    assert "at most 40 requests in a handler at once (100 inside the app)" in text
    assert "up to 60 waited for a thread token" in text
    assert "takes a token again to validate its response" in text


def test_waves_inside_async_handlers_name_asyncios_executor() -> None:
    # 20 async handlers awaiting asyncio.to_thread on 2 cores: all in a handler, 6 at a time working.
    server = server_view(peak_in_flight=20, loop_lag_max_s=0.002, tokens_total=40, tokens_peak=0)
    from dataclasses import replace

    server = replace(server, peak_in_handler=20)
    verdict = judge(18, 18, 0.6, 0.2, 18, server, 0.6, cores=2)
    assert verdict.kind == WAVES and verdict.wave_size == 6
    assert any("asyncio's default executor here, min(32, cores + 4) = 6 threads" in r for r in verdict.reasons)


def test_a_server_without_its_own_view_is_estimated_from_times() -> None:
    verdict = judge(100, 100, 0.8, 0.2, 100)
    assert verdict.kind == WAVES
    assert any("estimated from times alone" in r and "lab serve" in r for r in verdict.reasons)


def test_stragglers_are_reported_even_when_nothing_else_can_be_judged() -> None:
    latencies = [0.002] * 8 + [1.01, 1.02]  # two connections retried after a full accept backlog
    verdict = judge(10, 10, 1.02, 0.001, 10, latencies=latencies)
    assert verdict.kind == INCONCLUSIVE
    assert any(r.startswith("2 of 10 requests took 1,010 ms or more against a median of 2 ms") for r in verdict.reasons)
    assert not any("stragglers" in r for r in judge(10, 10, 0.2, 0.1, 10, latencies=[0.1] * 10).reasons)


def test_requests_slowed_all_alike_are_not_called_waves() -> None:
    # 10 `def` handlers sharing a downstream on a busy machine: all in a handler, all 2x slower, none early.
    from dataclasses import replace

    server = replace(LAB_CONCURRENT, peak_in_handler=10)
    together = judge(
        10, 10, 0.21, 0.10, 10, server, 0.20, latencies=[0.19, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.21, 0.21]
    )
    assert together.kind == CONCURRENT and together.wave_size is None, together.reasons
    assert any("every one slowed to about 2.1 x one request alone" in r for r in together.reasons)
    # Two real waves of 5 on the same busy machine: the first five answered near the single time.
    waves = judge(10, 10, 0.24, 0.10, 10, server, 0.23, latencies=[0.13] * 5 + [0.24] * 5)
    assert waves.kind == WAVES and waves.wave_size == 5, waves.reasons


def test_waves_behind_the_servers_process_pool_are_its_processes() -> None:
    from dataclasses import replace

    from lab.protocol import GaugeReading

    gauges = {"process_pool_busy": GaugeReading(0, 2), "process_pool_waiting": GaugeReading(0, 8)}
    server = replace(LAB_CONCURRENT, peak_in_handler=10, gauges=gauges)
    verdict = judge(10, 10, 0.52, 0.10, 10, server, 0.51, latencies=[0.1 * (1 + i // 2) for i in range(10)])
    assert verdict.kind == WAVES and verdict.wave_size == 2, verdict.reasons
    assert "up to 8 waited for one of the process pool's 2 processes" in verdict.reasons
    assert any("process pool ran 2 calls at a time, one per process" in r for r in verdict.reasons)


@pytest.mark.parametrize(
    ("latencies", "kind", "first"),
    [
        # A ThreadingHTTPServer with a backlog of 1: 4 accepted at once, the rest a connection retry later.
        ([0.11] * 4 + [1.11] * 4 + [1.33] * 2, CONCURRENT, 4),
        ([0.11] * 6 + [1.11] * 4, CONCURRENT, 6),
        ([0.11] * 3 + [1.12] * 7, CONCURRENT, 3),
        # A real staircase steps by one request's time: no retry gap, serialized as before.
        ([0.1 * (i + 1) for i in range(10)], SERIALIZED, 0),
        # A staircase that a retry interrupted is still a staircase among the first ones.
        ([0.1, 0.2, 0.3, 0.4] + [1.4, 1.5, 1.6, 1.7, 1.8, 1.9], SERIALIZED, 4),
    ],
)
def test_stragglers_of_a_full_accept_backlog_are_not_serialization(
    latencies: list[float], kind: str, first: int
) -> None:
    verdict = judge(len(latencies), len(latencies), max(latencies), 0.1, len(latencies), latencies=latencies)
    assert verdict.kind == kind, verdict.reasons
    retried = [r for r in verdict.reasons if "a full accept backlog" in r]
    if first:
        assert retried == [
            f"{len(latencies) - first} of {len(latencies)} requests took {sorted(latencies)[first] * 1000:,.0f} ms or "
            f"more, the other {first} at most {sorted(latencies)[first - 1] * 1000:,.0f} ms: stragglers (a full accept "
            f"backlog makes the kernel retry a connection after 1 s), not requests run one after another; judged by "
            f"the {first} answered first"
        ]
    else:
        assert not any("not requests run one after another" in r for r in verdict.reasons)
    assert (verdict.kind == SERIALIZED) == ("they ran one after another" in verdict.reasons)


def test_a_line_in_a_helper_names_the_async_def_that_called_it_on_the_loop() -> None:
    leaf = BlockingSite("/srv/mydb.py", 11, "fetch", "time.sleep(1)", "time.sleep(...)", 2.0, 0.99)
    called = BlockingSite(
        **{**leaf.__dict__, "async_file": "/srv/deps.py", "async_line": 5, "async_function": "get_db"}
    )
    assert site_sentence(leaf).endswith("in fetch()")
    assert site_sentence(called).endswith("in fetch(), called on the event loop from `async def get_db` (deps.py:5)")
    assert (site_text(leaf), site_text(called)) == (
        "mydb.py:11 time.sleep(...)",
        "mydb.py:11 time.sleep(...) from get_db()",
    )
