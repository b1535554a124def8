"""The CPU-work calibration: "800 ms of work" must mean 800 ms of one core, however busy the machine was."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

HOG = "import os, time\nos.sched_setaffinity(0, {0})\nend = time.monotonic() + 4\nwhile time.monotonic() < end: pass\n"
CALIBRATE = "import os, sys\nos.sched_setaffinity(0, {0})\nfrom lab.model import _calibrate\nprint(_calibrate())\n"


def _calibrated(beside_hogs: int) -> float:
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(beside_hogs)]
    try:
        out = subprocess.run([sys.executable, "-c", CALIBRATE], capture_output=True, text=True, check=True, timeout=60)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    return float(out.stdout)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_calibration_counts_cpu_time_not_the_time_the_os_ran_other_programs() -> None:
    # On CPU 0 beside three programs that spin there too, this process runs about a quarter of the
    # time: a wall-clock rate would come out near 1/4 of the quiet one. Measured on CPU time, it does not.
    quiet = _calibrated(0)
    crowded = _calibrated(3)
    assert crowded > 0.6 * quiet, (crowded, quiet)
