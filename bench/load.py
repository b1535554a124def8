"""The load benchmark: the lab's server and burst engine under real load, with zero errors expected.

    python -m bench.load                 # against a fresh lab server of its own (127.0.0.1)
    python -m bench.load --url http://127.0.0.1:8000 --delay-ms 100

Three runs at `/sleep/async` (an `async def` handler that awaits `delay_ms`), each fired by `lab.load.burst`:

1. 1,000 requests, all at once.
2. 10,000 requests, 200 at a time.
3. 1,000 requests, 200 at a time: the reference for run 2's memory.

Each run is a child process of its own, so `resource.getrusage` reports that run's own peak RSS.
Client memory is bounded when it follows the concurrency, not the request count: run 2 sends ten times
the requests of run 3 at the same concurrency, and should cost only the samples it keeps (~1 KiB each).
Every count is fixed, every child has a deadline, and the load goes to 127.0.0.1 unless `--url` says
otherwise.
"""

from __future__ import annotations

import argparse
import json
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DELAY_MS = 100
RUNS = ((1_000, 1_000), (10_000, 200), (1_000, 200))  # (requests, concurrency)
RUN_DEADLINE_S = 300.0
MAX_GROWTH_PER_REQUEST_KIB = 4.0  # run 2 against run 3: more than this per extra request is a leak
OPEN_FILES = 8_192  # 1,000 sockets at once need more than the common soft limit of 1,024


@dataclass(frozen=True)
class RunResult:
    requests: int
    concurrency: int
    wall_s: float
    ok: int
    errors: dict[str, int]
    status_counts: dict[str, int]
    requests_per_s: float
    p50_s: float | None
    p99_s: float | None
    max_s: float | None
    server_peak_in_flight: int | None
    client_peak_rss_kib: int

    @property
    def failed(self) -> int:
        return self.requests - self.ok


def raise_open_file_limit(wanted: int = OPEN_FILES) -> int:
    """Raise this process's soft limit on open files towards `wanted` (children inherit it); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def one_run(url: str, requests: int, concurrency: int) -> RunResult:
    """One burst in this process; meant to run in a fresh child (see `run_in_child`)."""
    from lab.load.burst import run_burst

    raise_open_file_limit()
    result = run_burst(url, requests=requests, concurrency=concurrency)
    s = result.summary
    peak = None if result.server is None else result.server.peak_in_flight
    return RunResult(
        requests=requests,
        concurrency=concurrency,
        wall_s=s.wall_s,
        ok=s.ok,
        errors=dict(s.errors),
        status_counts={str(k): v for k, v in s.status_counts.items()},
        requests_per_s=s.requests_per_s,
        p50_s=s.latency.p50 if s.latency else None,
        p99_s=s.latency.p99 if s.latency else None,
        max_s=s.latency.max if s.latency else None,
        server_peak_in_flight=peak if isinstance(peak, int) else None,
        client_peak_rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,  # KiB on Linux
    )


def run_in_child(url: str, requests: int, concurrency: int, deadline_s: float = RUN_DEADLINE_S) -> RunResult:
    """`one_run` in a fresh interpreter, so its peak RSS is its own; killed after `deadline_s`."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.load", "--child", "--url", url, "-n", str(requests), "-c", str(concurrency)],
        capture_output=True,
        text=True,
        timeout=deadline_s,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the run of {requests} at {concurrency} failed: {out.stderr.strip()[-500:]}")
    return RunResult(**json.loads(out.stdout.strip().splitlines()[-1]))


def server_peak_rss_kib(pid: int | None) -> int | None:
    """VmHWM: the most memory the server process ever held (Linux only)."""
    status = Path(f"/proc/{pid}/status")
    if pid is None or not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def report(results: list[RunResult], delay_ms: int, server_rss_kib: int | None) -> bool:
    """Print the figures; True when every run had zero errors and client memory stayed bounded."""
    print(f"\n== load: /sleep/async, {delay_ms} ms per request, each run in its own client process ==")
    print(
        f"{'requests':>9} {'at once':>8} {'wall':>9} {'req/s':>8} {'errors':>7} "
        f"{'p50':>8} {'p99':>8} {'max':>8} {'server peak':>12} {'client RSS':>11}"
    )
    for r in results:
        print(
            f"{r.requests:>9,} {r.concurrency:>8,} {r.wall_s:>8.2f}s {r.requests_per_s:>8.0f} {r.failed:>7} "
            f"{_ms(r.p50_s):>8} {_ms(r.p99_s):>8} {_ms(r.max_s):>8} "
            f"{r.server_peak_in_flight if r.server_peak_in_flight is not None else '-':>12} "
            f"{r.client_peak_rss_kib / 1024:>8.1f} MiB"
        )
        if r.failed:
            print(f"          failures: status {r.status_counts}, errors {r.errors}")
    if server_rss_kib is not None:
        print(f"server peak RSS over all runs: {server_rss_kib / 1024:.1f} MiB")
    from bench.report import Figure, record

    zero_errors = all(r.failed == 0 for r in results)
    big, small = results[1], results[2]
    growth = (big.client_peak_rss_kib - small.client_peak_rss_kib) / (big.requests - small.requests)
    bounded = growth <= MAX_GROWTH_PER_REQUEST_KIB
    for r in results[:2]:
        record(
            Figure(
                f"{r.requests:,} requests, {r.concurrency:,} at a time, /sleep/async {delay_ms} ms",
                f"{r.failed} errors, {r.wall_s:.2f} s",
                "0 errors",
                r.failed == 0,
            )
        )
    record(
        Figure(
            f"client memory, {big.requests:,} against {small.requests:,} requests at concurrency {big.concurrency}",
            f"{growth:+.2f} KiB per extra request",
            f"<= {MAX_GROWTH_PER_REQUEST_KIB:.0f} KiB",
            bounded,
        )
    )
    return zero_errors and bounded


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running lab server (default: start one on 127.0.0.1)")
    parser.add_argument("--delay-ms", type=int, default=DELAY_MS, help="the handler's wait (default 100)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("-n", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("-c", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args([] if argv is None else argv)

    if args.child:  # one burst at a full URL, one JSON line out
        print(json.dumps(vars(one_run(args.url, args.n, args.c))))
        return 0

    from lab.launch.process import ServerProcess

    raise_open_file_limit()  # before the server starts: it inherits the limit
    signal.signal(signal.SIGTERM, _interrupt)  # so that `finally` stops the server (it has its own session)
    started = time.perf_counter()
    if args.url:
        base, server = args.url.rstrip("/"), None
    else:
        server = ServerProcess("lab.server.app:app").start()
        base = server.url
    try:
        url = f"{base}/sleep/async?delay_ms={args.delay_ms}"
        results = [run_in_child(url, n, c) for n, c in RUNS]
        server_rss = server_peak_rss_kib(server.pid) if server else None
    finally:
        if server is not None:
            server.stop()
    passed = report(results, args.delay_ms, server_rss)
    print(f"(the load section took {time.perf_counter() - started:.0f} s)")
    return 0 if passed else 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("interrupted: the benchmark's server has been stopped", file=sys.stderr)
        sys.exit(130)
