"""One server under an exercise's steady traffic, with the kubelet's probes beside it (the checker's I/O).

    probed = drive(server.url, exercise.traffic, pid=server.pid)    # a `Probed`: the load, the kubelet, one body

The traffic is `lab load`'s own engine (`lab.load.steady.SteadyLoad`: open loop, each request timed from its
scheduled send) and the probes are `lab load`'s prober (`lab.load.prober.Prober`: its own thread, loop and
clock, a new connection per probe), so a check sees exactly what `lab load --probe` would show. No real
restart: the kubelet's model decides, and a restart it decides is counted, not done (a restarted server
would lose the counters the check reads). The prober starts `before_s` ahead of the traffic and goes on
`after_s` after the last answer, so a pod that left rotation under the load has the time to come back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from lab.client import burst_client, httpx
from lab.course.catalog import TrafficSpec
from lab.launch.process import group_usage
from lab.load.fire import request, run
from lab.load.kubelet import KubeletReport
from lab.load.prober import Prober
from lab.load.steady import SteadyLoad, SteadyPlan, SteadyResult

__all__ = ["Probed", "drive"]

BODY_TIMEOUT_S = 10.0  # the one request whose body is compared with the solution's


@dataclass(frozen=True)
class Probed:
    """What one server did: the traffic's figures, the kubelet's report, one answer, its threads and CPU."""

    load: SteadyResult
    kubelet: KubeletReport
    body: httpx.Response | None  # one request sent after the traffic, for the response check
    threads_before: int
    threads_after: int
    cpu_s: float | None


def drive(url: str, traffic: TrafficSpec, *, pid: int | None) -> Probed:
    """The traffic and the probes at the server at `url` (`pid`: its process group, for threads and CPU)."""
    threads_before, cpu_before, _ = group_usage(pid) if pid is not None else (0, 0.0, None)
    # Bounded beyond its own schedule: the whole run, the drain's timeout and a margin.
    bound_s = traffic.before_s + traffic.duration_s + 2 * traffic.timeout_s + traffic.after_s + 10
    prober = Prober(url, traffic.probes, max_run_s=bound_s).start()
    try:
        load, body = run(_traffic(url, traffic))
    finally:
        kubelet = prober.stop()
    threads_after, cpu_after, _ = group_usage(pid) if pid is not None else (0, 0.0, None)
    cpu_s = cpu_after - cpu_before if pid is not None else None
    return Probed(load, kubelet, body, threads_before, threads_after, cpu_s)


async def _traffic(url: str, traffic: TrafficSpec) -> tuple[SteadyResult, httpx.Response | None]:
    await asyncio.sleep(traffic.before_s)  # the pod is probed, and in rotation, before the traffic comes
    plan = SteadyPlan(
        url + traffic.path,
        traffic.rate,
        traffic.duration_s,
        method=traffic.method,
        json_body=traffic.json,
        timeout_s=traffic.timeout_s,
    )
    load = await SteadyLoad(plan).run()  # returns once the last request is answered (or timed out)
    body = await _one_body(url, traffic)
    await asyncio.sleep(traffic.after_s)  # the probes go on: readiness can come back
    return load, body


async def _one_body(url: str, traffic: TrafficSpec) -> httpx.Response | None:
    timeout = httpx.Timeout(BODY_TIMEOUT_S, connect=5.0, pool=None)
    async with burst_client(1, timeout, base_url=url) as client:
        try:
            return await request(client, traffic.method, traffic.path, traffic.json)
        except (httpx.HTTPError, TimeoutError):
            return None
