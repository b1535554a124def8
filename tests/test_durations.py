"""The one way the lab writes a duration and a count: thousands separators, and no "thread(s)"."""

from __future__ import annotations

import pytest

from lab.durations import counted, duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0.0042, "4 ms"), (1.443, "1,443 ms"), (4.0253, "4,025 ms"), (9.9994, "9,999 ms"), (12.34, "12.3 s")],
)
def test_duration(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("n", "noun", "plural", "text"),
    [
        (0, "request", None, "0 requests"),
        (1, "thread", None, "1 thread"),
        (2, "thread", None, "2 threads"),
        (1_200, "request", None, "1,200 requests"),
        (1, "process", "processes", "1 process"),
        (3, "process", "processes", "3 processes"),
    ],
)
def test_counted(n: int, noun: str, plural: str | None, text: str) -> None:
    assert counted(n, noun, plural) == text
