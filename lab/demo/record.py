"""The one JSON shape of a race: saved (`lab demo --save race.json`), streamed to the page, read back.

    data = race_json(demo.snapshot())      # after `demo.run()`: every sample, every stats reading, with times
    update = race_delta(demo.snapshot(), cursors)   # what the page has not seen yet, lanes in the same shape
    race = read_race(json.loads(text))     # a `Race`; a damaged file is one `DemoError` line
    views = race.views_at(1.25)            # the lanes as the live view drew them 1.25 s into the replay

The format ("lab-demo-race/1"), one object:

    format, scenario, requests, delay_ms, url (the --url given, else null), takeaway
    lanes: [{variant, caption, path, method, requests, concurrency, state, single_s, wall_s, guess_s,
             verdict: {kind, k, wave_size, reasons}, server: a /lab/stats answer or null, held_by,
             samples: [{index, start_s, end_s, status, error, server_start_s, server_time_s, pid,
                        handler_start_s, handler_end_s, phases: [{name, start_s, end_s}, ...]}],
             stats: [{at_s, lag_s, lag_max_s, waited_s, blocking}]}]

Times are seconds from each lane's burst start. `phases` is what a bar draws, from the server's own
stamps: "queued" (sent, its handler not running yet: waiting for the loop, a thread token, its body),
"in_handler" (its endpoint or a dependency running), "answering" (validating and sending the
response), "answered" (the answer on its way back). A server that does not stamp its handler gives
"in_server" (the server's start to its answer) instead of the two middle phases. Readers draw the
names they know and skip the others. `held_by` is the line that held the loop, worded by the lab.

The page's live events carry lanes in this shape too, each with only what is new: `samples_from` and
`stats_from` say where its `samples` and `stats` continue the page's lists; the live fields
`elapsed_s`, `stats_waiting_s` and `lag_note` ride along; a lane's result fields (`single_s` to
`held_by`) come once, with its final samples from 0, when it finishes.

Replay time runs the lanes one after another, each for its wall time plus a short gap, so a
replay takes the same time whatever the warm-ups and resets cost on the day. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lab.demo.model import LagReading, LaneView, RaceView
from lab.errors import DemoError, ProtocolError
from lab.load.burst import BurstResult
from lab.load.measure import Sample, summarize
from lab.load.verdict import Verdict
from lab.protocol import ServerStats
from lab.scenarios import SCENARIOS, Scenario

__all__ = ["FORMAT", "LANE_GAP_S", "Race", "lane_json", "phases", "race_delta", "race_json", "read_race"]

FORMAT = "lab-demo-race/1"
LANE_GAP_S = 0.5  # between two twins in a replay: long enough to see one finish before the next starts
_SAMPLE_KEYS = (
    "index",
    "start_s",
    "end_s",
    "status",
    "error",
    "server_start_s",
    "server_time_s",
    "pid",
    "handler_start_s",
    "handler_end_s",
)


def phases(sample: Sample) -> list[dict[str, Any]]:
    """A request's phases from the server's stamps; without them (not a lab server) one "waiting" phase."""
    if sample.server_start_s is None or sample.server_time_s is None:
        return [{"name": "waiting", "start_s": _r(sample.start_s), "end_s": _r(sample.end_s)}]
    # Clamped to the client's own times: two clocks a few microseconds apart must not draw negative phases.
    seen = min(max(sample.start_s, sample.server_start_s), sample.end_s)
    answered = min(max(seen, sample.server_start_s + sample.server_time_s), sample.end_s)
    if sample.handler_start_s is None or sample.handler_end_s is None:
        return [
            {"name": "queued", "start_s": _r(sample.start_s), "end_s": _r(seen)},
            {"name": "in_server", "start_s": _r(seen), "end_s": _r(answered)},
            {"name": "answered", "start_s": _r(answered), "end_s": _r(sample.end_s)},
        ]
    # The server's record of its handler: queued until it ran (waiting for the loop, a token, its body),
    # in the handler while it ran, answering after (validation, sending: a `def` route's second token).
    began = min(max(seen, sample.handler_start_s), answered)
    returned = min(max(began, sample.handler_end_s), answered)
    return [
        {"name": "queued", "start_s": _r(sample.start_s), "end_s": _r(began)},
        {"name": "in_handler", "start_s": _r(began), "end_s": _r(returned)},
        {"name": "answering", "start_s": _r(returned), "end_s": _r(answered)},
        {"name": "answered", "start_s": _r(answered), "end_s": _r(sample.end_s)},
    ]


def _r(value: float) -> float:
    return round(value, 6)


def sample_json(sample: Sample) -> dict[str, Any]:
    data: dict[str, Any] = {key: getattr(sample, key) for key in _SAMPLE_KEYS}
    for key in ("start_s", "end_s", "server_start_s", "server_time_s"):
        if data[key] is not None:
            data[key] = _r(data[key])
    data["phases"] = phases(sample)
    return data


def lag_json(reading: LagReading) -> dict[str, Any]:
    return {
        "at_s": _r(reading.at_s),
        "lag_s": _r(reading.lag_s),
        "lag_max_s": _r(reading.lag_max_s),
        "waited_s": _r(reading.waited_s),
        "blocking": reading.blocking,
    }


def lane_json(
    lane: LaneView, scenario: Scenario, *, samples_from: int = 0, stats_from: int = 0, result: bool = True
) -> dict[str, Any]:
    """A lane in the saved race's shape; its samples and stats from the given positions, its result fields
    (`single_s` to `held_by`) only with `result`: an event leaves out what the page already has."""
    outcome = lane.result
    data: dict[str, Any] = {
        "variant": lane.variant,
        "caption": lane.caption,
        "path": scenario.path.format(variant=lane.variant),
        "method": scenario.method,
        "requests": lane.requests,
        "concurrency": lane.requests if outcome is None else outcome.concurrency,
        "state": lane.state,
    }
    if result:
        server = None if outcome is None else outcome.server
        data["single_s"] = None if outcome is None else _r(outcome.single_s)
        data["wall_s"] = None if outcome is None else _r(outcome.summary.wall_s)
        data["guess_s"] = lane.guess_s
        data["verdict"] = None if outcome is None else outcome.verdict.as_dict()
        data["server"] = None if server is None else server.to_json()
        data["held_by"] = lane.held_by
    else:
        data["guess_s"] = lane.guess_s
    data["samples"] = [sample_json(s) for s in lane.samples[samples_from:]]
    data["stats"] = [lag_json(r) for r in lane.lag[stats_from:]]
    return data


def race_json(race: RaceView) -> dict[str, Any]:
    """The race so far: finished lanes whole, the running one as far as it got."""
    return {
        "format": FORMAT,
        "scenario": race.scenario.name,
        "requests": race.requests,
        "delay_ms": race.delay_ms,
        "url": race.url,
        "takeaway": race.takeaway,
        "lanes": [lane_json(lane, race.scenario) for lane in race.lanes],
    }


def race_delta(race: RaceView, cursors: dict[str, list[int]]) -> dict[str, Any]:
    """What changed since `cursors` (per lane: samples sent, stats sent, result sent), which it advances."""
    lanes = []
    for lane in race.lanes:
        sent = cursors.setdefault(lane.variant, [0, 0, 0])
        finishing = lane.result is not None and not sent[2]
        if finishing:
            sent[0] = 0  # the final samples, in the burst's order, replace the live ones
        data = lane_json(lane, race.scenario, samples_from=sent[0], stats_from=sent[1], result=finishing)
        data["samples_from"], data["stats_from"] = sent[0], sent[1]
        data["elapsed_s"] = round(lane.elapsed_s, 4)
        data["stats_waiting_s"] = None if lane.stats_waiting_s is None else round(lane.stats_waiting_s, 4)
        data["lag_note"] = lane.lag_note
        sent[0], sent[1], sent[2] = len(lane.samples), len(lane.lag), int(sent[2] or finishing)
        lanes.append(data)
    return {
        "question": race.question,
        "typed": race.typed,
        "done": race.done,
        "takeaway": race.takeaway if race.done else None,
        "lanes": lanes,
    }


def _wall(lane: LaneView) -> float:
    return 0.0 if lane.wall_s is None else lane.wall_s


@dataclass(frozen=True)
class Race:
    """A saved race, read back: enough to draw any moment of it again, with no server running."""

    scenario: Scenario
    requests: int
    delay_ms: int
    url: str | None
    takeaway: str
    lanes: tuple[LaneView, ...]  # each one done

    @property
    def duration_s(self) -> float:
        """How long a replay at 1x lasts."""
        return sum(_wall(lane) for lane in self.lanes) + LANE_GAP_S * max(0, len(self.lanes) - 1)

    def starts(self) -> list[float]:
        """When each lane begins on the replay's clock."""
        starts, at = [], 0.0
        for lane in self.lanes:
            starts.append(at)
            at += _wall(lane) + LANE_GAP_S
        return starts

    def views_at(self, t: float) -> list[LaneView]:
        """Every lane as it stood `t` seconds into the replay: done, running (as far as it got), or waiting."""
        return [
            _lane_at(lane, t - start, t >= self.duration_s)
            for lane, start in zip(self.lanes, self.starts(), strict=True)
        ]

    def at(self, t: float) -> RaceView:
        """The whole race `t` seconds into the replay, as the live runner would have shown it."""
        return RaceView(self.scenario, self.requests, self.delay_ms, self.url, self.takeaway, tuple(self.views_at(t)))


def _lane_at(lane: LaneView, local: float, ended: bool) -> LaneView:
    wall = _wall(lane)
    if local >= wall or ended:  # (the end, whatever the sums' rounding)
        return replace(lane, state="done", elapsed_s=wall)
    if local < 0:
        return replace(lane, state="waiting", elapsed_s=0.0, samples=(), lag=(), result=None)
    # A stats request out at `local` had been waiting since it was sent: the "not answering" alarm.
    out = [local - (r.at_s - r.waited_s) for r in lane.lag if r.at_s - r.waited_s <= local < r.at_s]
    return replace(
        lane,
        state="running",
        elapsed_s=local,
        samples=tuple(s for s in lane.samples if s.end_s <= local),
        lag=tuple(r for r in lane.lag if r.at_s <= local),
        stats_waiting_s=out[0] if out else None,
        result=None,
    )


def read_race(data: Any, source: str = "the race file") -> Race:
    """A saved race, checked: anything missing or of the wrong type is one line naming it."""
    try:
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise ValueError(f'not a saved race (no "format": "{FORMAT}")')
        scenario = SCENARIOS.get(str(data["scenario"]))
        if scenario is None:
            raise ValueError(f"unknown scenario {data['scenario']!r}")
        lanes = tuple(_lane(lane, scenario) for lane in _list(data, "lanes"))
        if not lanes:
            raise ValueError("it has no finished lanes")
        url = data.get("url")
        return Race(
            scenario=scenario,
            requests=int(data["requests"]),
            delay_ms=int(data["delay_ms"]),
            url=None if url is None else str(url),
            takeaway=str(data.get("takeaway") or ""),
            lanes=lanes,
        )
    except (KeyError, TypeError, ValueError, ProtocolError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise DemoError(f"{source} cannot be replayed: {detail}", usage=True) from None


def _list(data: Mapping[str, Any], key: str) -> Sequence[Any]:
    value = data[key]
    if not isinstance(value, list):
        raise TypeError(f"{key} must be a list")
    return value


def _number(data: Mapping[str, Any], key: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError(f"{key} must be a number, got {value!r}")
    return float(value)


def _optional(data: Mapping[str, Any], key: str) -> float | None:
    return None if data.get(key) is None else _number(data, key)


def _sample(s: Mapping[str, Any]) -> Sample:
    return Sample(
        index=int(s["index"]),
        start_s=_number(s, "start_s"),
        end_s=_number(s, "end_s"),
        status=None if s.get("status") is None else int(s["status"]),
        error=None if s.get("error") is None else str(s["error"]),
        server_start_s=_optional(s, "server_start_s"),
        server_time_s=_optional(s, "server_time_s"),
        pid=None if s.get("pid") is None else int(s["pid"]),
        handler_start_s=_optional(s, "handler_start_s"),
        handler_end_s=_optional(s, "handler_end_s"),
    )


def _lane(data: Any, scenario: Scenario) -> LaneView:
    if not isinstance(data, Mapping):
        raise TypeError("each lane must be an object")
    if data.get("verdict") is None:
        raise ValueError(f"the {data.get('variant')!r} lane did not finish")
    samples = tuple(_sample(s) for s in _list(data, "samples"))
    lag = tuple(
        LagReading(
            _number(r, "at_s"),
            _number(r, "lag_s"),
            _number(r, "lag_max_s"),
            _number(r, "waited_s"),
            None if r.get("blocking") is None else str(r["blocking"]),
        )
        for r in _list(data, "stats")
    )
    v = data["verdict"]
    verdict = Verdict(
        kind=str(v["kind"]),
        k=None if v.get("k") is None else float(v["k"]),
        wave_size=None if v.get("wave_size") is None else int(v["wave_size"]),
        reasons=[str(r) for r in v.get("reasons", [])],
    )
    server = None if data.get("server") is None else ServerStats.from_json(data["server"])
    requests = int(data["requests"])
    result = BurstResult(
        url=str(data["path"]),
        method=str(data.get("method", scenario.method)),
        requests=requests,
        concurrency=int(data.get("concurrency", requests)),
        samples=list(samples),
        summary=summarize(samples),
        verdict=verdict,
        server=server,
        single_s=_number(data, "single_s"),
    )
    return LaneView(
        variant=str(data["variant"]),
        caption=str(data["caption"]),
        requests=requests,
        state="done",
        samples=samples,
        lag=lag,
        guess_s=_optional(data, "guess_s"),
        result=result,
    )
