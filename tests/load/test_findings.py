"""The scan's verdict per route (pure): what held the loop, where, which lesson, and when a route is clean."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from lab.load.findings import KINDS, Context, RouteReading, find
from lab.load.verdict import Verdict
from lab.protocol import BlockingSite, ServerStats

ROOT = Path(__file__).resolve().parents[2]
GIL = "waiting for the GIL (busy threads) or in the event loop itself"


def stats(*sites: BlockingSite, lag_s: float = 0.0, token_waiters: int = 0) -> ServerStats:
    return ServerStats(
        since=0.0,
        in_flight=0,
        peak_in_flight=10,
        loop_lag_max_s=lag_s,
        loop_lag_last_s=0.0,
        heartbeats=10,
        thread_tokens_total=40,
        thread_tokens_peak=0,
        blocking=sites,
        peak_token_waiters=token_waiters,
        loop_lag_own_max_s=lag_s,
    )


def site(function: str, call: str, stalled_s: float = 0.3, file: str = "/app/main.py") -> BlockingSite:
    return BlockingSite(file, 12, function, "...", call, stalled_s, 1.0)


def reading(server: ServerStats, endpoint: str = "report") -> RouteReading:
    return RouteReading("GET", "/report", endpoint, Verdict("serialized"), server, 10, 10)


CONTEXT = Context(dependencies=frozenset({"current_user"}), middleware=frozenset({"audit"}))


@pytest.mark.parametrize(
    ("blocking", "kind", "where"),
    [
        (site("report", "time.sleep(...)"), "wait", "in the endpoint"),
        (site("report", "urllib.request.urlopen"), "client", "in the endpoint"),
        (site("report", "requests.api.get"), "client", "in the endpoint"),
        (site("report", "pure-Python code"), "cpu", "in the endpoint"),
        (site("report", "time.perf_counter()"), "cpu", "in the endpoint"),  # a busy-wait's loop line
        (site("report", "hashlib.sha256(...)"), "native", "in the endpoint"),
        (site("current_user", "time.sleep(...)"), "dependency", "in dependency current_user()"),
        (site("audit", "time.sleep(...)"), "middleware", "in middleware audit()"),
        (site("lookup", "time.sleep(...)", file="/app/helpers.py"), "wait", "in helpers.lookup()"),
    ],
)
def test_the_kind_and_the_place_of_what_held_the_loop(blocking: BlockingSite, kind: str, where: str) -> None:
    finding = find(reading(stats(blocking, lag_s=0.03)), CONTEXT, max_lag_s=0.1)
    assert finding.blocks
    assert (finding.kind, finding.where, finding.line) == (kind, where, blocking)
    assert finding.held_s == pytest.approx(0.3)  # ten short stalls add up: 0.3 s of a frozen loop


def test_a_short_line_beside_long_waits_for_the_gil_does_not_count_the_loops_longest_stall() -> None:
    # The process pool's fix: its `submit` took 2 ms on the loop while a busy machine kept the loop waiting.
    submit = BlockingSite("/lab/pool.py", 34, "submit", "...", "ProcessPoolExecutor.submit", 0.002, 0.01)
    waiting = BlockingSite("", 0, "", "", GIL, 0.21, 0.99)
    finding = find(reading(stats(submit, waiting, lag_s=0.11)), CONTEXT, 0.1)
    assert not finding.blocks and finding.held_s == pytest.approx(0.002)


def test_a_clean_route_has_no_finding() -> None:
    finding = find(reading(stats(lag_s=0.01)), CONTEXT, max_lag_s=0.1)
    assert (finding.blocks, finding.kind, finding.held_s) == (False, None, 0.0)


def test_a_short_stall_under_the_bound_does_not_block() -> None:
    finding = find(reading(stats(site("report", "time.sleep(...)", 0.05), lag_s=0.005)), CONTEXT, 0.1)
    assert not finding.blocks


def test_a_late_loop_with_no_line_of_code_on_it_is_no_finding() -> None:
    # The loop waited for the GIL behind the route's threads, or the machine kept it from a CPU.
    finding = find(reading(stats(site("", GIL, 0.5, file=""), lag_s=0.4)), CONTEXT, 0.1)
    assert (finding.blocks, finding.kind, finding.line, finding.held_s) == (False, None, None, 0.0)


def test_a_def_route_waiting_for_thread_tokens() -> None:
    assert find(reading(stats(token_waiters=20)), CONTEXT, 0.1).kind == "tokens"


def test_every_kind_names_an_exercise_of_the_catalog_and_a_one_line_fix() -> None:
    catalog = {e["id"] for e in tomllib.loads((ROOT / "exercises" / "info.toml").read_text())["exercise"]}
    for kind in KINDS.values():
        assert kind.exercise in catalog
        assert "\n" not in kind.fix and kind.fix
