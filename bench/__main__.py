"""`make bench`: every speed target of the lab, measured side by side in one run.

1. `lab burst` against `hey` on the same server: N=10 and N=100 at 100 ms, median of several rounds.
   Targets: lab's wall within 5 % of hey's at N=10, within 10 % at N=100.
2. The broken endpoint at N=10 measures >= 0.95 x N x delay (the lab never flatters a mistake).
3. `lab --help` start time (target under 0.3 s).
4. Further benchmarks that live beside this file (exercise checks, load), when present.
"""

from __future__ import annotations

import importlib
import re
import shutil
import statistics
import subprocess
import sys
import time

from lab.launch.process import ServerProcess
from lab.load.burst import run_burst

ROUNDS = 5
DELAY_MS = 100


def hey_wall(url: str, n: int) -> float:
    out = subprocess.run(["hey", "-n", str(n), "-c", str(n), url], capture_output=True, text=True, timeout=120).stdout
    match = re.search(r"Total:\s+([\d.]+) secs", out)
    if not match:
        raise RuntimeError(f"could not read hey's output:\n{out}")
    return float(match.group(1))


def lab_wall(url: str, n: int) -> float:
    return run_burst(url, requests=n).summary.wall_s


def compare_with_hey(base: str) -> None:
    url = f"{base}/sleep/async?delay_ms={DELAY_MS}"
    print(f"\n== lab burst vs hey, {url}, median of {ROUNDS} rounds, alternating ==")
    if shutil.which("hey") is None:
        print("hey is not installed (Debian: apt-get install hey): skipped")
        return
    for n, target in ((10, 1.05), (100, 1.10)):
        hey_wall(url, n)  # warm both the server and hey's path once
        labs, heys = [], []
        for _ in range(ROUNDS):
            heys.append(hey_wall(url, n))
            labs.append(lab_wall(url, n))
        lab_m, hey_m = statistics.median(labs), statistics.median(heys)
        ratio = lab_m / hey_m
        status = "ok" if ratio <= target else "MISSED"
        print(
            f"N={n:<4} lab {lab_m * 1000:7.1f} ms   hey {hey_m * 1000:7.1f} ms   "
            f"ratio {ratio:.3f} (target <= {target:.2f}: {status})"
        )


def broken_is_honest(base: str) -> None:
    n = 10
    print(f"\n== broken endpoint, N={n} x {DELAY_MS} ms ==")
    walls = [lab_wall(f"{base}/sleep/broken?delay_ms={DELAY_MS}", n) for _ in range(3)]
    floor = 0.95 * n * DELAY_MS / 1000
    wall = statistics.median(walls)
    verdict = "ok" if wall >= floor else "MISSED"
    print(f"wall {wall * 1000:.0f} ms, floor 0.95 x N x delay = {floor * 1000:.0f} ms: {verdict}")


def help_start_time() -> None:
    print("\n== `lab --help` start time, median of 5 ==")
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lab", "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    print(f"{median * 1000:.0f} ms (target < 300 ms: {'ok' if median < 0.3 else 'MISSED'})")


def main() -> None:
    with ServerProcess("lab.server.app:app") as server:
        compare_with_hey(server.url)
        broken_is_honest(server.url)
    help_start_time()
    for name in ("bench.exercises", "bench.load", "bench.watchdog"):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        module.main()


if __name__ == "__main__":
    main()
