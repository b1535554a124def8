"""Rates and durations in every form a user types, and every wrong one: a number or one usage line."""

from __future__ import annotations

import pytest

from lab.errors import BurstError
from lab.load.rates import MAX_DURATION_S, MAX_RATE, parse_duration, parse_rate, planned_sends


@pytest.mark.parametrize(
    ("text", "per_second"),
    [
        ("50", 50.0),
        ("50/s", 50.0),
        ("50/sec", 50.0),
        ("50 / s", 50.0),
        (" 50/S ", 50.0),
        ("3000/m", 50.0),
        ("3000/min", 50.0),
        ("7200/h", 2.0),
        ("0.5", 0.5),
        ("2.5/s", 2.5),
        (".5/s", 0.5),
        ("5000", MAX_RATE),
        ("300000/m", MAX_RATE),
    ],
)
def test_rates(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("0", "more than 0"),
        ("0/s", "more than 0"),
        ("-5", "more than 0"),
        ("-3000/m", "more than 0"),
        ("5001", "at most 5,000/s"),
        ("300060/m", "at most 5,000/s"),
        ("9" * 40, "at most 5,000/s"),
        ("", "is not a rate"),
        ("fast", "is not a rate"),
        ("50/ms", "is not a rate"),
        ("50/x", "is not a rate"),
        ("50//s", "is not a rate"),
        ("nan", "is not a rate"),
        ("inf", "is not a rate"),
        ("1e3", "is not a rate"),
        ("50s", "is not a rate"),
    ],
)
def test_bad_rates(text: str, words: str) -> None:
    with pytest.raises(BurstError) as caught:
        parse_rate(text)
    assert caught.value.usage
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30", 30.0),
        ("30s", 30.0),
        ("30 s", 30.0),
        ("30sec", 30.0),
        ("2m", 120.0),
        ("2min", 120.0),
        ("500ms", 0.5),
        ("1.5s", 1.5),
        ("0.1h", 360.0),
        ("10m", MAX_DURATION_S),
        ("600000ms", MAX_DURATION_S),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("0", "more than 0"),
        ("0ms", "more than 0"),
        ("-1s", "more than 0"),
        ("11m", "at most 10 min"),
        ("601", "at most 10 min"),
        ("1h", "at most 10 min"),
        ("", "is not a duration"),
        ("soon", "is not a duration"),
        ("30 seconds", "is not a duration"),
        ("30/s", "is not a duration"),
        ("2m30s", "is not a duration"),
        ("nan", "is not a duration"),
    ],
)
def test_bad_durations(text: str, words: str) -> None:
    with pytest.raises(BurstError) as caught:
        parse_duration(text)
    assert caught.value.usage
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("rate", "duration_s", "sends"),
    [
        (20.0, 3.0, 60),  # the 61st would leave at 3.0 s: after the run
        (50.0, 30.0, 1_500),
        (1_000.0, 10.0, 10_000),
        (0.1, 30.0, 3),  # float error (0.1 x 30 = 3.0000000000000004) does not add a send
        (3.0, 0.5, 2),  # at 0 and at 0.333 s
        (0.5, 1.0, 1),  # the one at 0: a run always measures something
    ],
)
def test_planned_sends(rate: float, duration_s: float, sends: int) -> None:
    assert planned_sends(rate, duration_s) == sends
