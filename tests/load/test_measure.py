import pytest

from lab.load.measure import Sample, percentile, summarize


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1.0], 50, 1.0),
        ([1.0, 2.0], 50, 1.5),
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 95, 4.8),
        (list(map(float, range(1, 101))), 99, 99.01),
    ],
)
def test_percentile_interpolates_between_ranks(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)


def test_summary_counts_statuses_errors_and_wall() -> None:
    samples = [
        Sample(0, 0.0, 0.1, 200, pid=1),
        Sample(1, 0.0, 0.2, 200, pid=2),
        Sample(2, 0.0, 0.3, 503, pid=1),
        Sample(3, 0.0, 0.5, None, "ReadTimeout"),
    ]
    summary = summarize(samples)
    assert summary.wall_s == 0.5
    assert summary.ok == 2
    assert summary.failed == 2
    assert summary.status_counts == {"200": 2, "503": 1}
    assert summary.errors == {"ReadTimeout": 1}
    assert summary.pids == 2
    assert summary.latency is not None
    assert summary.latency.max == pytest.approx(0.3)  # the failed request has no latency
    assert summary.requests_per_s == pytest.approx(4.0)


def test_summary_of_a_burst_where_nothing_answered() -> None:
    summary = summarize([Sample(0, 0.0, 1.0, None, "ConnectError")])
    assert summary.latency is None
    assert summary.ok == 0
