"""`make bench`: every speed target of the lab, measured side by side in one run, each beside its floor.

1. Start-up (bench.starts): `import lab.server.app` against `import fastapi`; `lab --help`, `lab list`,
   `lab hint`, `lab reset` against a bare interpreter.
2. `lab burst` against `hey` on the same server: N=10 and N=100 at 100 ms, medians of alternating rounds
   (targets: within 5 % and 10 % of hey's wall); closed-loop throughput, 10,000 requests to /health at
   concurrency 200 (target: >= 0.90 of hey's requests per second).
3. The broken endpoint at N=10 measures >= 0.95 x N x delay (the lab never flatters a mistake).
4. Exercise feedback (bench.exercises): one-shot `lab check`, `lab check --all`, `lab watch`.
5. Load (bench.load): 1,000 requests at once and 10,000 at concurrency 200, zero errors, bounded memory.
6. Steady load (bench.steady): `lab load` at 1,000/s keeps its schedule (rate within 1 %, send lag p99 <= 2 ms),
   its CPU per request, and its memory over 60,000 requests against 1,000.
7. The scan (bench.scan): `lab scan` over a 30-route app in <= 15 s, beside the bursts themselves.

Every figure prints beside its target, and MISSED when it misses; the summary at the end is the README's table.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import time

from bench import exercises, load, scan, starts, steady, watchdog
from bench.report import Figure, record, summary
from lab.launch.process import ServerProcess
from lab.load.burst import run_burst

ROUNDS = 5
DELAY_MS = 100
THROUGHPUT_ROUNDS = 3
THROUGHPUT_N, THROUGHPUT_C = 10_000, 200
THROUGHPUT_TARGET = 0.90


def hey_out(url: str, n: int, c: int) -> str:
    out = subprocess.run(["hey", "-n", str(n), "-c", str(c), url], capture_output=True, text=True, timeout=300).stdout
    if "Total:" not in out:
        raise RuntimeError(f"could not read hey's output:\n{out}")
    return out


def hey_wall(url: str, n: int) -> float:
    match = re.search(r"Total:\s+([\d.]+) secs", hey_out(url, n, n))
    assert match is not None
    return float(match.group(1))


def lab_wall(url: str, n: int) -> float:
    return run_burst(url, requests=n).summary.wall_s


def compare_with_hey(base: str) -> None:
    url = f"{base}/sleep/async?delay_ms={DELAY_MS}"
    print(f"\n== lab burst vs hey, {url}, median of {ROUNDS} rounds, alternating ==")
    for n, target in ((10, 1.05), (100, 1.10)):
        hey_wall(url, n)  # warm both the server and hey's path once
        labs, heys = [], []
        for _ in range(ROUNDS):
            heys.append(hey_wall(url, n))
            labs.append(lab_wall(url, n))
        lab_m, hey_m = statistics.median(labs), statistics.median(heys)
        record(
            Figure(
                f"`lab burst` wall, N={n} x {DELAY_MS} ms",
                f"{lab_m * 1000:.1f} ms",
                f"<= {target:.2f}x hey",
                lab_m / hey_m <= target,
                f"hey {hey_m * 1000:.1f} ms",
                lab_m / hey_m,
            )
        )


def throughput(base: str) -> None:
    """Closed loop: `lab burst` as a CLI (its own process, as a user runs it) against hey, alternating."""
    url = f"{base}/health"
    n, c = THROUGHPUT_N, THROUGHPUT_C
    print(f"\n== closed-loop throughput: {n:,} requests to {url} at concurrency {c}, median of {THROUGHPUT_ROUNDS} ==")
    hey_out(url, 2_000, c)  # warm the server's connections and code paths
    labs, heys = [], []
    for _ in range(THROUGHPUT_ROUNDS):
        match = re.search(r"Requests/sec:\s+([\d.]+)", hey_out(url, n, c))
        assert match is not None
        heys.append(float(match.group(1)))
        command = [sys.executable, "-m", "lab", "burst", url, "-n", str(n), "-c", str(c), "--json"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
        labs.append(float(json.loads(done.stdout)["requests_per_s"]))
    lab_m, hey_m = statistics.median(labs), statistics.median(heys)
    record(
        Figure(
            f"`lab burst -n {n:,} -c {c}` /health",
            f"{lab_m:,.0f} req/s",
            f">= {THROUGHPUT_TARGET:.2f}x hey",
            lab_m / hey_m >= THROUGHPUT_TARGET,
            f"hey {hey_m:,.0f} req/s",
            lab_m / hey_m,
        )
    )


def broken_is_honest(base: str) -> None:
    n = 10
    print(f"\n== broken endpoint, N={n} x {DELAY_MS} ms, median of 3 ==")
    wall = statistics.median(lab_wall(f"{base}/sleep/broken?delay_ms={DELAY_MS}", n) for _ in range(3))
    floor = 0.95 * n * DELAY_MS / 1000
    record(
        Figure(
            f"broken endpoint, N={n} x {DELAY_MS} ms",
            f"{wall * 1000:,.0f} ms",
            f">= {floor * 1000:.0f} ms",
            wall >= floor,
        )
    )


def main() -> None:
    started = time.perf_counter()
    fastapi_s = starts.main()
    with ServerProcess("lab.server.app:app") as server:
        if shutil.which("hey") is None:
            print("\nhey is not installed (Debian: apt-get install hey): the comparisons with hey are skipped")
        else:
            compare_with_hey(server.url)
            throughput(server.url)
        broken_is_honest(server.url)
    exercises.main(fastapi_s)
    load.main([])
    steady.main([])
    watchdog.main()
    scan.main()
    summary(started)


if __name__ == "__main__":
    main()
