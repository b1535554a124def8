"""The lab's one burst procedure (`fire_burst`): where it warms up, what it reads, what `around` wraps.

Judged by counts the server keeps (how often the endpoint ran), never by the clock.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI

from lab.client import burst_client, httpx
from lab.launch.process import ThreadServer
from lab.load.burst import Fired, Shot, WarmUp, fire_burst
from lab.load.fire import run
from lab.server.observability import instrument

REQUESTS = 6


@dataclass
class Counting:
    url: str
    calls: list[int] = field(default_factory=list)


def _app(calls: list[int], *, lab: bool) -> FastAPI:
    app = FastAPI()

    @app.get("/count")
    async def count() -> int:
        calls.append(1)
        return len(calls)

    return instrument(app) if lab else app


@pytest.fixture(params=[True, False], ids=["lab", "plain"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[Counting, bool]]:
    counting = Counting("")
    with ThreadServer(_app(counting.calls, lab=request.param)) as running:
        counting.url = running.url + "/count"
        yield counting, request.param


def _fire(shot: Shot, seen: list[str]) -> Fired:
    @contextlib.asynccontextmanager
    async def around() -> AsyncIterator[None]:
        seen.append("enter")
        yield
        seen.append("exit")

    async def go() -> Fired:
        async with burst_client(shot.concurrency, httpx.Timeout(10.0, pool=None)) as client:
            return await fire_burst(client, shot, around=around)

    return run(go())


@pytest.mark.parametrize(("warm_up_on", "extra"), [("endpoint", 2), ("stats", 0)])
def test_the_endpoint_sees_the_burst_and_only_the_warm_up_it_was_told(
    server: tuple[Counting, bool], warm_up_on: WarmUp, extra: int
) -> None:
    counting, lab = server
    if warm_up_on == "stats" and not lab:
        pytest.skip("only a lab server has a /lab/stats to warm up on")
    seen: list[str] = []
    fired = _fire(Shot("GET", counting.url, None, REQUESTS, REQUESTS, warm_up_on=warm_up_on), seen)
    assert len(counting.calls) == REQUESTS + extra  # a lazily loaded model would meet the burst cold: exercise 6
    assert [s.status for s in fired.samples] == [200] * REQUESTS
    assert seen == ["enter", "exit"]
    assert (fired.single_s is not None) is (warm_up_on == "endpoint")  # the warm-up times one request alone
    if lab:  # the server's own view of the window: the burst's requests, not the warm-up's
        assert fired.server is not None
        assert 1 <= fired.server.peak_in_flight <= REQUESTS
    else:
        assert fired.server is None


@pytest.mark.parametrize("workers", [None, 1])
def test_a_lab_server_is_read_on_the_bursts_client_or_on_one_connection_per_worker(
    server: tuple[Counting, bool], workers: int | None
) -> None:
    counting, lab = server
    fired = _fire(Shot("GET", counting.url, None, REQUESTS, REQUESTS, workers=workers, settle_s=1.0), [])
    assert (fired.server is not None) is lab
    assert len(counting.calls) == REQUESTS + 2


def test_around_wraps_the_firing_alone() -> None:
    # With the warm-up on /lab/stats, nothing has reached the endpoint when `around` is entered, and
    # every request of the burst has been answered when it is left.
    calls: list[int] = []
    at: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def around() -> AsyncIterator[None]:
        at["enter"] = len(calls)
        yield
        at["exit"] = len(calls)

    with ThreadServer(_app(calls, lab=True)) as running:
        shot = Shot("GET", running.url + "/count", None, REQUESTS, 3, warm_up_on="stats", workers=1)

        async def go() -> Fired:
            async with burst_client(3, httpx.Timeout(10.0, pool=None)) as client:
                return await fire_burst(client, shot, around=around)

        fired = run(go())
    assert at == {"enter": 0, "exit": REQUESTS}
    assert fired.server is not None and fired.server.peak_in_flight >= 1
