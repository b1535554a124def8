"""Load, scaled down from `bench/load.py` (`make bench` runs the full size: 1,000 at once, 10,000 at 200).

Against the session's real lab server on 127.0.0.1. Judged by robust signals only: zero errors, every
request answered 200, the server saw the requests overlap, and the client's memory follows the
concurrency rather than the request count. No absolute times.
"""

from __future__ import annotations

import pytest

from bench.load import MAX_GROWTH_PER_REQUEST_KIB, raise_open_file_limit, run_in_child
from lab.load.burst import run_burst

pytestmark = pytest.mark.slow

AT_ONCE = 300
SUSTAINED, SMALL, CONCURRENCY = 3_000, 300, 100


@pytest.fixture(scope="module", autouse=True)
def open_files() -> None:
    if raise_open_file_limit() < 2 * AT_ONCE + 100:
        pytest.skip("too few open files allowed for a burst of this size")


@pytest.mark.timeout(120)
def test_a_burst_all_at_once_has_zero_errors(lab_url: str) -> None:
    result = run_burst(f"{lab_url}/sleep/async?delay_ms=100", requests=AT_ONCE)
    summary = result.summary
    assert summary.ok == AT_ONCE, f"status {summary.status_counts}, errors {summary.errors}"
    assert {str(status): count for status, count in summary.status_counts.items()} == {"200": AT_ONCE}
    assert sorted(s.index for s in result.samples) == list(range(AT_ONCE))
    # The server really had them at once: an `async def` sleep overlaps (a loaded client is slower to launch).
    assert result.server is not None and result.server.peak_in_flight > 10


@pytest.mark.timeout(300)
def test_sustained_load_has_zero_errors_and_bounded_client_memory(lab_url: str) -> None:
    url = f"{lab_url}/sleep/async?delay_ms=5"
    small = run_in_child(url, SMALL, CONCURRENCY, deadline_s=120)
    big = run_in_child(url, SUSTAINED, CONCURRENCY, deadline_s=240)
    for run in (small, big):
        assert run.failed == 0, f"{run.requests} at {run.concurrency}: status {run.status_counts}, {run.errors}"
        assert run.server_peak_in_flight is not None and run.server_peak_in_flight <= CONCURRENCY
    growth_kib = (big.client_peak_rss_kib - small.client_peak_rss_kib) / (SUSTAINED - SMALL)
    assert growth_kib <= MAX_GROWTH_PER_REQUEST_KIB, (
        f"client peak RSS {small.client_peak_rss_kib} KiB for {SMALL:,} requests, "
        f"{big.client_peak_rss_kib} KiB for {SUSTAINED:,}: {growth_kib:.2f} KiB per extra request"
    )
