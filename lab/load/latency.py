"""A steady run's statistics, kept in constant memory: HDR histograms, one row per second, errors by kind.

    record = Recorder()
    record.sent(t=0.001, lag_s=0.0004)            # a request left, 0.4 ms after its scheduled time
    record.answered(t=0.120, latency_s=0.119, status=200)
    record.failed(t=2.0, kind="timeout")
    record.skipped(t=0.5)                         # the in-flight cap held a send back
    closed = record.close_until(t=1.0)            # the rows of every second before 1.0, now final
    report = record.report()

Pure: every event comes with its time `t` (seconds since the run's start) and nothing here reads a
clock, so the tests feed it tables. No per-request record is kept: latencies go into an HDR histogram
(`hdrhistogram`: every percentile within 0.1 % at any count), each second's into a small one that is
dropped once the second is over and its p50/p99 are read. A run's memory is then the same at 1,000 and at
600,000 requests. Latency is counted from each request's *scheduled* send (coordinated omission avoided:
a stalled server cannot hide its stall behind a client that waited for it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

__all__ = ["ERROR_KINDS", "Percentiles", "Recorder", "Report", "Second", "status_kind"]

ERROR_KINDS = ("timeout", "refused", "reset", "status_5xx", "status_4xx", "other")
US = 1_000_000  # histograms count whole microseconds
HIGHEST_US = 3_600 * US  # one hour: above any request's timeout; anything higher is recorded as this
RUN_FIGURES = 3  # significant figures of the whole run's histograms (0.1 %)
SECOND_FIGURES = 2  # a second's histogram: 1 %, and a tenth of the memory (one lives per open second)
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99_9": 99.9}


def status_kind(status: int) -> str | None:
    """The error kind of an HTTP status, or None when it is an answer that counts as served."""
    if status >= 500:
        return "status_5xx"
    if status >= 400:
        return "status_4xx"
    return None


def _histogram(figures: int) -> HdrHistogram:
    return HdrHistogram(1, HIGHEST_US, figures)


def _record(histogram: HdrHistogram, seconds: float) -> None:
    histogram.record_value(min(HIGHEST_US, max(0, round(seconds * US))))


@dataclass(frozen=True)
class Percentiles:
    """Percentiles of one histogram, in seconds (None when it recorded nothing)."""

    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    p99_9: float | None = None
    max: float | None = None
    count: int = 0

    @classmethod
    def of(cls, histogram: HdrHistogram) -> Percentiles:
        count = histogram.get_total_count()
        if not count:
            return cls()
        values = histogram.get_percentile_to_value_dict(list(PERCENTILES.values()))
        p = {name: values[percentile] / US for name, percentile in PERCENTILES.items()}
        return cls(max=histogram.get_max_value() / US, count=count, **p)

    def as_ms(self, names: tuple[str, ...] = ("p50", "p90", "p99", "p99_9", "max")) -> dict[str, float | None]:
        values = {name: getattr(self, name) for name in names}
        return {name: None if v is None else round(v * 1000, 3) for name, v in values.items()}


@dataclass
class Second:
    """One second of the run (`index` s to `index` + 1 s after its start), by when things happened in it:
    sends that left, answers and errors that came back, the most requests in flight, and the p50/p99 of the
    answers that came back in it (each from its scheduled send)."""

    index: int
    in_flight: int  # the most requests in flight at any moment of the second
    sent: int = 0
    answered: int = 0
    errors: int = 0
    skipped: int = 0
    p50_s: float | None = None
    p99_s: float | None = None
    _latencies: HdrHistogram | None = field(default=None, repr=False, compare=False)

    def add_latency(self, seconds: float, spare: list[HdrHistogram]) -> None:
        if self._latencies is None:
            self._latencies = spare.pop() if spare else _histogram(SECOND_FIGURES)
        _record(self._latencies, seconds)

    def close(self, spare: list[HdrHistogram]) -> None:
        """Read the second's percentiles and hand its histogram back, emptied, for a later second.

        Reused rather than dropped: an HdrHistogram and its encoder refer to each other, so a dropped one
        waits for the garbage collector, and a long run would hold one per second until it came.
        """
        if self._latencies is not None:
            values = self._latencies.get_percentile_to_value_dict([50.0, 99.0])
            self.p50_s, self.p99_s = values[50.0] / US, values[99.0] / US
            self._latencies.reset()
            spare.append(self._latencies)
            self._latencies = None

    def to_json(self) -> dict[str, Any]:
        return {
            "t": self.index,
            "sent": self.sent,
            "answered": self.answered,
            "errors": self.errors,
            "skipped": self.skipped,
            "in_flight": self.in_flight,
            "p50_ms": None if self.p50_s is None else round(self.p50_s * 1000, 3),
            "p99_ms": None if self.p99_s is None else round(self.p99_s * 1000, 3),
        }


@dataclass(frozen=True)
class Report:
    """A run's figures: counts, latency and schedule-lag percentiles, errors by kind, the timeline."""

    sent: int
    answered: int
    skipped: int
    errors: dict[str, int]
    latency: Percentiles
    schedule_lag: Percentiles
    timeline: tuple[Second, ...]
    first_send_s: float | None
    last_send_s: float | None

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def achieved_rate(self) -> float:
        """Sends per second between the first and the last (0 when fewer than two left)."""
        if self.sent < 2 or self.first_send_s is None or self.last_send_s is None:
            return 0.0
        span = self.last_send_s - self.first_send_s
        return (self.sent - 1) / span if span > 0 else 0.0


class Recorder:
    """Counts, histograms and the per-second timeline of one run, fed events with their times."""

    def __init__(self) -> None:
        self.latency = _histogram(RUN_FIGURES)
        self.lag = _histogram(RUN_FIGURES)
        self.counts: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.in_flight = 0
        self.closed: list[Second] = []  # every finished second, in order (read live by views and probers)
        self._open: dict[int, Second] = {}
        self._newest = -1  # the latest second with a row
        self._spare: list[HdrHistogram] = []  # emptied per-second histograms, for the next seconds
        self._first_send: float | None = None
        self._last_send: float | None = None

    def _second(self, t: float) -> Second:
        """The row of the second `t` falls in; call it before the event changes `in_flight`, so a new row
        (and any empty second before it) starts with the requests out when its second began."""
        index = max(0, int(t))
        row = self._open.get(index)
        if row is None:
            for gap in range(self._newest + 1, index):  # seconds in which nothing happened
                self._open[gap] = Second(gap, self.in_flight)
            row = self._open[index] = Second(index, self.in_flight)
            self._newest = max(self._newest, index)
        return row

    def sent(self, t: float, lag_s: float) -> None:
        row = self._second(t)
        self.in_flight += 1
        self.counts["sent"] += 1
        _record(self.lag, lag_s)
        if self._first_send is None:
            self._first_send = t
        self._last_send = t
        row.sent += 1
        row.in_flight = max(row.in_flight, self.in_flight)

    def skipped(self, t: float) -> None:
        self.counts["skipped"] += 1
        self._second(t).skipped += 1

    def answered(self, t: float, latency_s: float, status: int) -> None:
        """An HTTP answer, whatever its status (a 4xx or 5xx also counts as an error of that kind)."""
        row = self._second(t)
        self.in_flight -= 1
        self.counts["answered"] += 1
        _record(self.latency, latency_s)
        row.answered += 1
        row.add_latency(latency_s, self._spare)
        kind = status_kind(status)
        if kind is not None:
            self.errors[kind] += 1
            row.errors += 1

    def failed(self, t: float, kind: str) -> None:
        """No answer: `kind` is one of `ERROR_KINDS` (timeout, refused, reset, other)."""
        row = self._second(t)
        self.in_flight -= 1
        self.errors[kind] += 1
        row.errors += 1

    def close_until(self, t: float) -> list[Second]:
        """Finish every second that ended by `t` (a second with nothing in it still gets its row)."""
        end = int(t)
        start = self.closed[-1].index + 1 if self.closed else 0
        done = []
        for index in range(start, end):
            row = self._open.pop(index, None) or Second(index, self.in_flight)  # nothing happened since
            self._newest = max(self._newest, index)
            row.close(self._spare)
            done.append(row)
        self.closed += done
        return done

    def report(self) -> Report:
        """The run's figures; seconds still open are closed first."""
        if self._open:
            self.close_until(max(self._open) + 1)
        return Report(
            sent=self.counts["sent"],
            answered=self.counts["answered"],
            skipped=self.counts["skipped"],
            errors={kind: self.errors[kind] for kind in ERROR_KINDS if self.errors[kind]},
            latency=Percentiles.of(self.latency),
            schedule_lag=Percentiles.of(self.lag),
            timeline=tuple(self.closed),
            first_send_s=self._first_send,
            last_send_s=self._last_send,
        )
