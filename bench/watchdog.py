"""What the watchdog costs a healthy server: `python -m bench.watchdog`.

Two lab servers side by side, one with the watchdog (the default) and one without (`LAB_WATCHDOG=0`).
Each round bursts `/sleep/async` at N=100 against both, alternating which goes first; the median p50
of each is compared. Target: the watchdog adds at most 2 % to p50. A healthy loop must also never be
sampled: the watchdog only reads the loop's stack while the heartbeat is late.
"""

from __future__ import annotations

import statistics

from bench.report import Figure, record
from lab.launch.process import LAB_APP, ServerProcess
from lab.load.burst import run_burst
from lab.server.timing import WATCHDOG_ENV

ROUNDS = 7
REQUESTS = 100
DELAY_MS = 100
TARGET = 1.02  # p50 with the watchdog over p50 without


def p50_and_samples(base: str) -> tuple[float, int]:
    result = run_burst(f"{base}/sleep/async?delay_ms={DELAY_MS}", requests=REQUESTS)
    assert result.summary.latency is not None and result.summary.ok == REQUESTS, result.summary
    samples = 0 if result.server is None else result.server.blocking_samples
    return result.summary.latency.p50, samples


def main() -> None:
    print(f"\n== watchdog overhead: /sleep/async?delay_ms={DELAY_MS} at N={REQUESTS}, {ROUNDS} alternating rounds ==")
    with ServerProcess(LAB_APP) as on, ServerProcess(LAB_APP, env={WATCHDOG_ENV: "0"}) as off:
        p50_and_samples(on.url)  # warm both servers and the client path once
        p50_and_samples(off.url)
        with_dog: list[float] = []
        without: list[float] = []
        samples = 0
        for round_ in range(ROUNDS):
            order = [(on.url, with_dog), (off.url, without)]
            for url, results in order if round_ % 2 == 0 else order[::-1]:
                p50, taken = p50_and_samples(url)
                results.append(p50)
                if url == on.url:
                    samples += taken
    on_m, off_m = statistics.median(with_dog), statistics.median(without)
    ratio = on_m / off_m
    status = "ok" if ratio <= TARGET else "MISSED"
    record(
        Figure(
            f"watchdog overhead, /sleep/async N={REQUESTS}, p50",
            f"{on_m * 1000:.1f} ms with, {off_m * 1000:.1f} ms without: x{ratio:.3f}",
            f"<= x{TARGET:.2f}",
            ratio <= TARGET,
        )
    )
    print(f"p50 with watchdog    {on_m * 1000:7.1f} ms   rounds: {', '.join(f'{x * 1000:.1f}' for x in with_dog)}")
    print(f"p50 without watchdog {off_m * 1000:7.1f} ms   rounds: {', '.join(f'{x * 1000:.1f}' for x in without)}")
    print(f"ratio {ratio:.3f} (target <= {TARGET:.2f}: {status}); stack samples on the healthy loop: {samples}")


if __name__ == "__main__":
    main()
