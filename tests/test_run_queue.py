"""The OS's count of the time threads spent runnable, waiting for a CPU: for every thread of a process."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from lab.run_queue import run_queue_clock, threads_waited_for_cpu_s, waited_for_cpu_s

# A program whose main thread sleeps while a second thread computes on CPU 0.
WORKER = """\
import os, threading, time
os.sched_setaffinity(0, {0})
def spin():
    end = time.monotonic() + 3
    while time.monotonic() < end:
        pass
thread = threading.Thread(target=spin)
thread.start()
thread.join()
"""
HOG = "import os, time\nos.sched_setaffinity(0, {0})\nend = time.monotonic() + 4\nwhile time.monotonic() < end: pass\n"


@pytest.mark.skipif(run_queue_clock() is None, reason="needs Linux's /proc/.../schedstat")
def test_a_process_s_wait_for_a_cpu_counts_every_thread_not_only_its_main_one() -> None:
    # Beside two programs computing on the same CPU, the worker's computing thread runs about a third of
    # the time and queues the rest; its main thread sleeps, and queues for nothing.
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(2)]
    worker = subprocess.Popen([sys.executable, "-c", WORKER])
    try:
        deadline = time.monotonic() + 10
        while len(os.listdir(f"/proc/{worker.pid}/task")) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # until its second thread computes (start-up is slow on a busy machine)
        began = time.perf_counter()
        threads_before, main_before = threads_waited_for_cpu_s(worker.pid), waited_for_cpu_s(worker.pid)
        time.sleep(0.6)
        threads_after, main_after = threads_waited_for_cpu_s(worker.pid), waited_for_cpu_s(worker.pid)
        elapsed = time.perf_counter() - began
    finally:
        for process in (worker, *hogs):
            process.kill()
            process.wait(10)
    assert threads_after is not None and threads_before is not None
    assert main_after is not None and main_before is not None
    threads_share = (threads_after - threads_before) / elapsed
    assert threads_share > 0.3, f"the computing thread queued {threads_share:.0%} of the time beside two programs"
    assert main_after - main_before < 0.1 * elapsed  # the sleeping main thread: what the old reading saw


@pytest.mark.skipif(run_queue_clock() is None, reason="needs Linux's /proc/.../schedstat")
def test_a_process_that_is_gone_has_no_count() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(10)
    assert threads_waited_for_cpu_s(gone.pid) is None
    assert threads_waited_for_cpu_s(os.getpid()) is not None
