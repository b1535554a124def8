"""The demo's one lane model: what a race is at any moment, with no rich and no I/O.

    lane = Lane("broken", "async def + time.sleep()", url, 10)   # written by the runner as the burst goes
    race = RaceView(scenario, 10, 100, None, takeaway, (lane.view(now),))   # read by every view

Data flows one way: the runner (`lab.demo.race`) writes `Lane`s and hands out `RaceView` snapshots;
the terminal frame (`lab.view.demo`), the saved race and the web page's events (`lab.demo.record`)
only read them. A replay (`lab.demo.record.Race`) makes the same snapshots from a saved file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lab.load.verdict import site_text

if TYPE_CHECKING:
    from lab.load.burst import BurstResult
    from lab.load.measure import Sample
    from lab.protocol import ServerStats
    from lab.scenarios import Scenario

__all__ = ["STALL_JOIN_S", "STATS_POLL_S", "Lane", "LagReading", "LaneView", "RaceView", "blocking_text"]

STATS_POLL_S = 0.15  # the runner asks for the heartbeat this long after each answer: a few readings a second
STALL_JOIN_S = 1.5 * STATS_POLL_S  # two "not answering" spans closer than this are one stall (see LaneView.stalls)


@dataclass(frozen=True)
class LagReading:
    """One answer to the demo's `/lab/stats` poll during a burst."""

    at_s: float  # when it came back, seconds from the burst's start
    lag_s: float  # the heartbeat's latest lateness: how long the event loop was last kept from it
    lag_max_s: float  # the worst lateness since the burst started
    waited_s: float  # how long the stats request itself waited for its answer
    blocking: str | None = None  # the line holding the loop, as the server's watchdog named it so far


@dataclass(frozen=True)
class LaneView:
    """One variant's burst, as far as it has got: what a frame draws, a saved race keeps, the page receives."""

    variant: str
    caption: str  # the handler in a few words: "async def + time.sleep()"
    requests: int
    state: str = "waiting"  # waiting, warming, running, done
    elapsed_s: float = 0.0  # since the burst's shared start: in-flight bars grow to here
    samples: tuple[Sample, ...] = ()  # the responses that came back so far (once done: the burst's own order)
    lag: tuple[LagReading, ...] = ()
    stats_waiting_s: float | None = None  # how long the current stats request has waited, if one is out
    lag_note: str | None = None  # why there is no lag meter (not a lab server)
    guess_s: float | None = None  # the audience's prediction of the wall time
    result: BurstResult | None = None  # set once the burst is done

    @property
    def wall_s(self) -> float | None:
        return None if self.result is None else self.result.summary.wall_s

    @property
    def extent_s(self) -> float:
        """How far along the time axis this lane reaches so far."""
        ends = [s.end_s for s in self.samples]
        return max([self.elapsed_s, *ends]) if ends or self.state == "running" else 0.0

    def stalls(self, at_least_s: float) -> list[tuple[float, float]]:
        """When the server did not answer, as (start, end) seconds on the lane's axis, for the band the views draw.

        Each stats request that waited `at_least_s` or more spans its send to its answer (the one still out
        spans its send to now). Spans less than a poll's gap apart are one stall: between an answer and the
        next request nobody asked, and a loop still blocked must not read as a stripe of short stalls."""
        spans = [(r.at_s - r.waited_s, r.at_s) for r in self.lag if r.waited_s >= at_least_s]
        if self.stats_waiting_s is not None and self.stats_waiting_s >= at_least_s:
            spans.append((self.elapsed_s - self.stats_waiting_s, self.elapsed_s))
        end = self.extent_s  # an answer read just after the last response is still this burst's stall
        merged: list[tuple[float, float]] = []
        for start, stop in sorted((max(0.0, a), min(b, end) if end > 0 else b) for a, b in spans):
            if stop <= start:
                continue
            if merged and start - merged[-1][1] <= STALL_JOIN_S:
                merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
            else:
                merged.append((start, stop))
        return merged

    @property
    def held_by(self) -> str | None:
        """The line that held the loop over the whole burst, worded by the lab (terminal and page alike)."""
        server = None if self.result is None else self.result.server
        return None if server is None else blocking_text(server)


@dataclass(frozen=True)
class RaceView:
    """The whole race at a moment: the heading's facts, every lane, and the question put to the room."""

    scenario: Scenario
    requests: int
    delay_ms: int
    url: str | None  # the server's address, only when the user named it (a throwaway port is noise)
    takeaway: str
    lanes: tuple[LaneView, ...]
    question: str | None = None
    typed: str = ""  # what the instructor has typed of the answer so far

    @property
    def done(self) -> bool:
        return all(lane.result is not None for lane in self.lanes)


@dataclass
class Lane:
    """One variant's burst as it happens. Written by the burst's event loop, read through `view()`."""

    variant: str
    caption: str
    url: str
    requests: int
    state: str = "waiting"
    samples: list[Sample] = field(default_factory=list)
    lag: list[LagReading] = field(default_factory=list)
    t0: float | None = None  # the burst's shared start on our perf_counter clock
    stats_sent: float | None = None  # when the stats request now out was sent
    lag_note: str | None = None
    guess_s: float | None = None
    result: BurstResult | None = None

    def begin(self) -> None:
        """The burst engine warms up (two requests) before its clock starts."""
        self.state = "warming"

    def on_start(self, t0: float) -> None:
        # The burst's own shared start, on the same perf_counter clock: bars grow from the true origin.
        self.t0 = t0
        self.state = "running"

    def on_sample(self, sample: Sample) -> None:
        self.samples.append(sample)

    def finish(self, result: BurstResult) -> None:
        self.result = result
        self.state = "done"

    def since_t0(self, now: float) -> float:
        return 0.0 if self.t0 is None else max(0.0, now - self.t0)

    def view(self, now: float) -> LaneView:
        """The lane at `now` (a `perf_counter` reading): the one conversion every view starts from."""
        state, result, sent = self.state, self.result, self.stats_sent
        return LaneView(
            variant=self.variant,
            caption=self.caption,
            requests=self.requests,
            state=state,
            elapsed_s=self.since_t0(now) if state == "running" else 0.0,
            samples=tuple(self.samples if result is None else result.samples),
            lag=tuple(self.lag),
            stats_waiting_s=None if sent is None or state != "running" else now - sent,
            lag_note=self.lag_note,
            guess_s=self.guess_s,
            result=result,
        )


def blocking_text(stats: ServerStats) -> str | None:
    """The line that held the server's loop longest, as the lab words it; None when none did."""
    return site_text(stats.blocking[0]) if stats.blocking else None
