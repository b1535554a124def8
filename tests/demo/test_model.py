"""One lane model, one JSON shape, data one way (issue 20): the page's events rebuild the saved race exactly,
and the model and the record stay free of rich, and the runner and the web view free of each other. No server."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lab.demo.model import LagReading, Lane, RaceView
from lab.demo.plan import plan
from lab.demo.record import race_delta, race_json, read_race
from lab.load.burst import BurstResult
from lab.load.measure import Sample, summarize
from lab.load.verdict import Verdict
from lab.protocol import BlockingSite, ServerStats

LAB = Path(__file__).resolve().parents[2] / "lab"
PLAN = plan("sleep", requests=4, delay_ms=100)


def staircase() -> list[Sample]:
    """Four requests handled one after another, arriving out of index order."""
    return [
        Sample(i, 0.001, (k + 1) * 0.1, 200, None, k * 0.1, 0.1, 7, k * 0.1, (k + 1) * 0.1)
        for k, i in enumerate((2, 0, 3, 1))
    ]


def finished(samples: list[Sample]) -> BurstResult:
    site = BlockingSite("sleep.py", 34, "sleep_broken", "time.sleep(delay)", "time.sleep(...)", 0.3, 0.9)
    server = ServerStats(0.0, 0, 1, 0.1, 0.1, 10, 40, 0, blocking=[site])
    in_order = sorted(samples, key=lambda s: s.index)  # the burst's own order, not the arrivals'
    return BurstResult(
        "http://x/sleep/broken", "GET", 4, 4, in_order, summarize(in_order), Verdict("serialized"), server, 0.1
    )


def snapshot(lanes: list[Lane], now: float) -> RaceView:
    return RaceView(
        PLAN.scenario, PLAN.requests, PLAN.delay_ms, None, PLAN.takeaway, tuple(lane.view(now) for lane in lanes)
    )


def apply(page: dict[str, dict[str, Any]], update: dict[str, Any]) -> None:
    """What lab/view/web/app.js's `apply` does with one event."""
    for delta in update["lanes"]:
        fields = dict(delta)
        lane = page.setdefault(fields["variant"], {"samples": [], "stats": []})
        samples, samples_from = fields.pop("samples"), fields.pop("samples_from")
        stats, stats_from = fields.pop("stats"), fields.pop("stats_from")
        lane["samples"][samples_from:] = samples
        lane["stats"][stats_from:] = stats
        lane.update(fields)


def test_the_pages_events_rebuild_the_saved_race_field_for_field() -> None:
    broken, fixed = (Lane(v, PLAN.caption(v), f"http://x/sleep/{v}", 4) for v in ("broken", "async"))
    page: dict[str, dict[str, Any]] = {}
    cursors: dict[str, list[int]] = {}
    broken.begin()
    broken.on_start(10.0)
    apply(page, race_delta(snapshot([broken, fixed], 10.05), cursors))
    samples = staircase()
    for sample in samples[:2]:
        broken.on_sample(sample)
    broken.lag.append(LagReading(0.25, 0.1, 0.1, 0.2, "sleep.py:34 time.sleep(...)"))
    update = race_delta(snapshot([broken, fixed], 10.3), cursors)
    assert update["lanes"][0]["samples_from"] == 0 and len(update["lanes"][0]["samples"]) == 2
    assert "verdict" not in update["lanes"][0], "no result fields before the lane finishes"
    apply(page, update)
    for sample in samples[2:]:
        broken.on_sample(sample)
    broken.finish(finished(samples))
    update = race_delta(snapshot([broken, fixed], 10.5), cursors)
    assert update["lanes"][0]["samples_from"] == 0, "the final samples, in the burst's order, replace the live ones"
    apply(page, update)
    later = race_delta(snapshot([broken, fixed], 10.6), cursors)
    assert "verdict" not in later["lanes"][0] and later["lanes"][0]["samples"] == [], "the result is sent once"
    apply(page, later)

    saved = race_json(snapshot([broken, fixed], 10.6))
    for lane in saved["lanes"]:
        assert {key: page[lane["variant"]].get(key) for key in lane} == lane
    assert page["broken"]["held_by"] == "sleep.py:34 time.sleep(...)", "worded by the lab, in the one shape"
    fresh: dict[str, dict[str, Any]] = {}
    apply(fresh, race_delta(snapshot([broken, fixed], 10.6), {}))  # a page that reconnects gets it all at once
    assert (
        fresh["broken"]["samples"] == page["broken"]["samples"] and fresh["broken"]["verdict"]["kind"] == "serialized"
    )


def test_a_saved_race_replays_as_the_same_model() -> None:
    lane = Lane("broken", PLAN.caption("broken"), "http://x/sleep/broken", 4)
    lane.finish(finished(staircase()))
    race = read_race(race_json(snapshot([lane], 0.0)))
    end = race.at(race.duration_s)
    assert isinstance(end, RaceView) and end.done and end.lanes[0].held_by == "sleep.py:34 time.sleep(...)"
    assert [s.index for s in end.lanes[0].samples] == [0, 1, 2, 3]
    assert race.at(0.2).lanes[0].state == "running" and not race.at(0.2).done


def imports(path: Path) -> set[str]:
    """Every module a file names in an import, `TYPE_CHECKING` or not."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_runner_and_the_web_view_do_not_know_each_other() -> None:
    assert not {m for m in imports(LAB / "demo" / "web.py") if m.startswith("lab.demo.race")}
    assert not {m for m in imports(LAB / "demo" / "race.py") if m.startswith("lab.demo.web")}


def test_the_model_and_the_record_are_pure() -> None:
    code = "import sys, lab.demo.model, lab.demo.record; print(sorted(m for m in sys.modules if m[:4] == 'rich'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"rich imported by the pure side: {out}"
    for module in ("model.py", "record.py"):
        assert not {m for m in imports(LAB / "demo" / module) if m.startswith(("lab.view", "rich"))}, module


def test_a_stall_spans_each_unanswered_stats_request_and_the_gaps_between_polls() -> None:
    from lab.demo.model import LaneView

    lag = (
        LagReading(0.0, 0.0, 0.0, 0.004),  # answered at once: the loop was free
        LagReading(0.5, 0.0, 0.4, 0.45),  # sent at 0.05, answered at 0.5
        LagReading(1.1, 0.0, 0.5, 0.45),  # the next poll, 0.15 s later, waited again: the same stall
        LagReading(2.0, 0.0, 0.5, 0.004),
    )
    done = LaneView("broken", "x", 1, "done", lag=lag, samples=(Sample(0, 0.0, 1.05, 200, None, 0.0, 1.0),))
    assert done.stalls(0.05) == [pytest.approx((0.05, 1.05))], "one stall, ended where the burst did"
    # Live: the request still out has waited 0.3 s by now; it is a stall of its own past a poll's gap.
    running = LaneView("broken", "x", 1, "running", elapsed_s=2.5, lag=lag, stats_waiting_s=0.3)
    assert running.stalls(0.05) == [pytest.approx((0.05, 1.1)), pytest.approx((2.2, 2.5))]
    assert LaneView("async", "x", 1, "running", elapsed_s=0.1, lag=lag[:1]).stalls(0.05) == []
