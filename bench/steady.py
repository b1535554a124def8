"""The steady-load benchmark: does `lab load` keep its schedule, and does its memory stay flat?

    python -m bench.steady                 # against a fresh lab server of its own (127.0.0.1)

1. Schedule accuracy: `lab load /health --rate 1000/s --duration 10s --json`, as a user runs it (its own
   process). Targets: the achieved rate within 1 % of 1,000/s; p99 of (actual send - scheduled send) <= 2 ms.
   Floor: how late this machine's event loop (uvloop) wakes from a 1 ms sleep with nothing else to do, p99,
   measured in the same run: no client can send closer to its schedule than its loop wakes up.
   The client's CPU per request is reported beside `lab burst`'s (closed loop, 10,000 at concurrency 50).
2. Memory: a 60 s run at 1,000/s (60,000 requests) against a 1,000-request run, each in a fresh child
   process so that its peak RSS is its own. Target: within 50 MB.

Every run is bounded by its own rate and duration, each child by a deadline; the load goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.report import Figure, record

RATE = 1_000
ACCURACY_S = 10
RATE_TOLERANCE = 0.01
LAG_P99_MS = 2.0
MEMORY_RUNS = ((1, "1,000 requests"), (60, "60,000 requests"))  # seconds at RATE
MEMORY_GROWTH_MB = 50.0
BURST_N, BURST_C = 10_000, 50
CHILD_DEADLINE_S = 300.0
ROOT = Path(__file__).resolve().parent.parent


def _child(args: list[str]) -> dict[str, Any]:
    """A child process's JSON output, with the CPU time it used added."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=CHILD_DEADLINE_S, check=False, cwd=ROOT
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if not done.stdout.strip():
        raise RuntimeError(f"{' '.join(args)} printed nothing: {done.stderr.strip()[-500:]}")
    data: dict[str, Any] = json.loads(done.stdout)  # one JSON document: `lab ... --json`, or a child's line
    data["child_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return data


def timer_floor_ms(seconds: float = 3.0) -> float:
    """p99 of how late a uvloop `asyncio.sleep` to the next 1 ms tick wakes, with nothing else running."""
    import uvloop

    async def ticks() -> list[float]:
        late: list[float] = []
        start = time.perf_counter()
        for i in range(int(seconds * 1000)):
            due = start + i / 1000
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            late.append(time.perf_counter() - due)
        return late

    late = uvloop.run(ticks())
    return statistics.quantiles(late, n=100)[98] * 1000


def accuracy(base: str) -> None:
    url = f"{base}/health"
    print(f"\n== steady load: {RATE:,}/s for {ACCURACY_S} s at {url}, `lab load` in its own process ==")
    floor = timer_floor_ms()
    data = _child(["-m", "lab", "load", url, "--rate", f"{RATE}/s", "--duration", f"{ACCURACY_S}s", "--json"])
    lag: dict[str, float] = data["schedule_lag_ms"]
    achieved = float(data["achieved_rate"])
    print(f"sent {data['sent']:,}, skipped {data['skipped']:,}, errors {data['errors']}, notes {data['notes']}")
    print(f"latency ms {data['latency_ms']}, schedule lag ms {lag}")
    record(
        Figure(
            f"`lab load` {RATE:,}/s for {ACCURACY_S} s /health: achieved rate",
            f"{achieved:,.1f}/s ({data['sent']:,} sent, {data['skipped']:,} skipped)",
            f"within {RATE_TOLERANCE:.0%} of {RATE:,}/s",
            abs(achieved - RATE) <= RATE_TOLERANCE * RATE and data["skipped"] == 0,
        )
    )
    record(
        Figure(
            f"`lab load` {RATE:,}/s: p99 of send - scheduled",
            f"{lag['p99']:.2f} ms (max {lag['max']:.1f} ms)",
            f"<= {LAG_P99_MS:g} ms",
            lag["p99"] <= LAG_P99_MS,
            f"loop wake-up p99 {floor:.2f} ms",
            lag["p99"] / floor if floor > 0 else None,
        )
    )
    burst = _child(["-m", "lab", "burst", url, "-n", str(BURST_N), "-c", str(BURST_C), "--json"])
    burst_us = float(burst["child_cpu_s"]) / BURST_N * 1e6
    cpu_us = float(data["client_cpu_us_per_request"])
    record(
        Figure(
            f"`lab load` {RATE:,}/s: client CPU per request",
            f"{cpu_us:,.0f} us",
            "reported",
            True,
            f"`lab burst -n {BURST_N:,} -c {BURST_C}` {burst_us:,.0f} us (whole process)",
            cpu_us / burst_us,
        )
    )


def one_memory_run(url: str, seconds: int) -> None:
    """In a fresh child: one steady run, then one JSON line with its counts and this process's peak RSS."""
    from lab.load.steady import SteadyPlan, run_steady

    result = run_steady(SteadyPlan(url, rate=RATE, duration_s=seconds))
    r = result.report
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"sent": r.sent, "skipped": r.skipped, "failed": r.failed, "rss_kib": rss_kib}))


def memory(base: str) -> None:
    url = f"{base}/health"
    print(f"\n== steady load memory: {RATE:,}/s for 1 s, then for 60 s, each in a fresh client process ==")
    runs = [_child(["-m", "bench.steady", "--child", url, str(seconds)]) for seconds, _ in MEMORY_RUNS]
    for (_, what), run in zip(MEMORY_RUNS, runs, strict=True):
        print(f"{what}: sent {run['sent']:,}, skipped {run['skipped']:,}, errors {run['failed']:,}, "
              f"peak RSS {int(run['rss_kib']) / 1024:.1f} MiB")  # fmt: skip
    small, big = (int(run["rss_kib"]) / 1024 for run in runs)
    record(
        Figure(
            f"`lab load` memory, {MEMORY_RUNS[1][1]} against {MEMORY_RUNS[0][1]} at {RATE:,}/s",
            f"{big - small:+.1f} MiB ({big:.0f} against {small:.0f} MiB)",
            f"<= {MEMORY_GROWTH_MB:.0f} MB",
            big - small <= MEMORY_GROWTH_MB,
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.steady", description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("URL", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args([] if argv is None else argv)
    if args.child:
        one_memory_run(args.child[0], int(args.child[1]))
        return 0

    from bench.load import raise_open_file_limit
    from lab.launch.process import ServerProcess

    raise_open_file_limit()  # up to 1,000 requests in flight: more sockets than the common soft limit
    started = time.perf_counter()
    with ServerProcess("lab.server.app:app") as server:
        accuracy(server.url)
        memory(server.url)
    print(f"(the steady-load section took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
