"""Every mistake on the `lab` command line ends the same way: one line saying what was wrong and what is
allowed, exit code 2 for a usage error (1 when the command was fine but the world was not), never a traceback.

Each row runs the real `lab` in a subprocess, as a user would, so the exit code and stderr are the real ones.
The rows are independent and mostly fail before any network, so they run side by side in one fixture.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

USAGE, FAILURE = 2, 1
CLOSED = "CLOSED"  # replaced by the URL of a port where nothing listens
BUSY = "BUSY"  # replaced by a port that a socket of this test holds


@dataclass(frozen=True)
class Case:
    id: str
    args: list[str]
    code: int
    words: list[str]  # all must appear in stderr
    one_line: bool = True  # one `error: ...` line, Typer's own usage errors included (lab.cli.usage)
    xfail: str = ""  # a known bug, with its fix in the reason
    extra: dict[str, str] = field(default_factory=dict)


CASES = [
    Case("unknown-command", ["frobnicate"], USAGE, ["No such command", "frobnicate"]),
    Case("missing-argument", ["class", "report"], USAGE, ["missing argument 'directory'", "lab class report --help"]),
    Case("unknown-option", ["list", "--frob"], USAGE, ["no such option", "--frob"]),
    Case("exercise-typo", ["run", "exercise3"], USAGE, ["no exercise 'exercise3'", "did you mean exercise-3?"]),
    Case("exercise-typo-number", ["check", "3x"], USAGE, ["no exercise '3x'", "did you mean exercise-3?"]),
    # lab burst: the URL
    Case("url-without-scheme", ["burst", "127.0.0.1:8000/sleep/async"], USAGE, ["not an http(s) URL", "http://"]),
    Case("url-other-scheme", ["burst", "ftp://127.0.0.1/sleep/async"], USAGE, ["not an http(s) URL"]),
    Case("url-without-host", ["burst", "http:///sleep/async"], USAGE, ["not an http(s) URL"]),
    Case("url-broken-ipv6", ["burst", "http://[::1/sleep/async"], USAGE, ["not an http(s) URL"]),
    Case("url-port-out-of-range", ["burst", "http://127.0.0.1:99999/sleep/async"], USAGE, ["port"]),
    Case("closed-port", ["burst", CLOSED + "/sleep/async"], FAILURE, ["cannot connect", "nothing is listening"]),
    # lab burst: the counts
    Case("n-zero", ["burst", CLOSED, "-n", "0"], USAGE, ["requests must be between 1 and 10000", "got 0"]),
    Case("n-negative", ["burst", CLOSED, "-n", "-3"], USAGE, ["requests must be between 1 and 10000"]),
    Case("n-above-bound", ["burst", CLOSED, "-n", "10001"], USAGE, ["requests must be between 1 and 10000"]),
    Case("n-far-above-bound", ["burst", CLOSED, "-n", "9" * 30], USAGE, ["requests must be between 1 and 10000"]),
    Case("n-not-a-number", ["burst", CLOSED, "-n", "ten"], USAGE, ["'-n'", "valid integer"]),
    Case("c-above-n", ["burst", CLOSED, "-n", "5", "-c", "10"], USAGE, ["concurrency must be between 1 and 5"]),
    Case("c-zero", ["burst", CLOSED, "-c", "0"], USAGE, ["concurrency must be between 1 and"]),
    Case("c-negative", ["burst", CLOSED, "-c", "-5"], USAGE, ["concurrency must be between 1 and"]),
    Case(
        "c-above-bound",
        ["burst", CLOSED, "-n", "10000", "-c", "5000"],
        USAGE,
        ["concurrency must be between 1 and 1000"],
    ),
    # lab burst: timeout, method, body
    Case("timeout-negative", ["burst", CLOSED, "--timeout", "-1"], USAGE, ["timeout must be more than 0"]),
    Case("timeout-zero", ["burst", CLOSED, "--timeout", "0"], USAGE, ["timeout must be more than 0"]),
    Case("timeout-huge", ["burst", CLOSED, "--timeout", "1e9"], USAGE, ["at most 3600 s"]),
    Case("timeout-nan", ["burst", CLOSED, "--timeout", "nan"], USAGE, ["timeout must be"]),
    Case("timeout-inf", ["burst", CLOSED, "--timeout", "inf"], USAGE, ["timeout must be"]),
    Case("method-unknown", ["burst", CLOSED, "-m", "FROB"], USAGE, ["'--method'", "is not one of 'get', 'post'"]),
    Case("json-body-invalid", ["burst", CLOSED, "--json-body", "{"], USAGE, ["--json-body is not valid JSON"]),
    Case("json-body-missing", ["burst", CLOSED, "--json-body"], USAGE, ["requires an argument"]),
    # lab compare
    Case("unknown-scenario", ["compare", "-s", "nope"], USAGE, ["'nope' is not one of 'sleep', 'cpu'"]),
    Case("compare-n-zero", ["compare", "-n", "0"], USAGE, ["requests must be between 2 and 1000", "got 0"]),
    Case("compare-n-one", ["compare", "-n", "1"], USAGE, ["requests must be between 2 and 1000"]),
    Case("compare-n-far-above", ["compare", "-n", "9" * 30], USAGE, ["requests must be between 2 and 1000"]),
    Case("delay-negative", ["compare", "--delay-ms", "-5"], USAGE, ["delay must be between 1 and 10000 ms"]),
    Case("delay-zero", ["compare", "--delay-ms", "0"], USAGE, ["delay must be between 1 and 10000 ms"]),
    Case("delay-huge", ["compare", "--delay-ms", "9" * 30], USAGE, ["delay must be between 1 and 10000 ms"]),
    Case("delay-cpu-bound", ["compare", "-s", "cpu", "--delay-ms", "5001"], USAGE, ["between 1 and 5000 ms for cpu"]),
    Case("delay-not-a-number", ["compare", "--delay-ms", "1.5"], USAGE, ["'--delay-ms'"]),
    Case("compare-closed-port", ["compare", "--url", CLOSED], FAILURE, ["cannot connect", "nothing is listening"]),
    Case("compare-url-without-scheme", ["compare", "--url", "127.0.0.1:8000"], USAGE, ["not an http(s) URL"]),
    Case("compare-url-broken-ipv6", ["compare", "--url", "http://[::1"], USAGE, ["not an http(s) URL"]),
    # lab demo: its output file, then the same bounds as compare
    Case("save-no-such-directory", ["demo", "--save", "/nonexistent/dir/out.svg", "--no-live"], USAGE, ["--save"]),
    Case("save-not-svg-or-html", ["demo", "--save", "/tmp/lab-demo.txt", "--no-live"], USAGE, [".svg or .html"]),
    Case(
        "save-unwritable",
        ["demo", "--save", "/proc/lab-demo.svg", "--no-live", "-n", "2", "--delay-ms", "1"],
        USAGE,
        ["--save", "/proc/lab-demo.svg"],
    ),
    Case("demo-unknown-scenario", ["demo", "nope"], USAGE, ["'nope' is not one of 'sleep', 'cpu'"]),
    Case("demo-n-zero", ["demo", "-n", "0"], USAGE, ["requests must be between 2 and"]),
    Case("demo-n-far-above", ["demo", "-n", "9" * 30], USAGE, ["requests must be between 2 and"]),
    Case("demo-delay-negative", ["demo", "--delay-ms", "-5"], USAGE, ["delay must be between 1 and"]),
    Case("demo-unknown-variant", ["demo", "--variants", "nope"], USAGE, ["--variants", "sync, async, broken"]),
    Case("demo-url-without-scheme", ["demo", "--url", "127.0.0.1:8000"], USAGE, ["--url", "http://"]),
    # lab serve
    Case("serve-port-out-of-range", ["serve", "--port", "70000"], USAGE, ["'--port'", "65535"]),
    Case("serve-workers-zero", ["serve", "--workers", "0"], USAGE, ["'--workers'"]),
    Case("serve-port-in-use", ["serve", "--port", BUSY], FAILURE, ["cannot listen", "Address already in use"]),
    Case(
        "serve-unknown-host", ["serve", "--host", "no-such-host.invalid", "--port", "8123"], FAILURE, ["cannot listen"]
    ),
]


def _closed_url() -> str:
    """A loopback port where nothing listens: bound by the kernel, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run_lab(args: list[str], timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """The `lab` command as a user runs it, bounded in time; colours stripped from what it printed."""
    result = subprocess.run(
        [sys.executable, "-m", "lab", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, ANSI.sub("", result.stdout), ANSI.sub("", result.stderr)
    )


@pytest.fixture(scope="module")
def results() -> Iterator[dict[str, subprocess.CompletedProcess[str]]]:
    closed = _closed_url()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        argv = {
            case.id: [
                closed + a[len(CLOSED) :] if a.startswith(CLOSED) else port if a == BUSY else a for a in case.args
            ]
            for case in CASES
        }
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = {name: pool.submit(run_lab, args) for name, args in argv.items()}
            yield {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=c.xfail)) if c.xfail else c for c in CASES],
    ids=[c.id for c in CASES],
)
def test_bad_command_line(results: dict[str, subprocess.CompletedProcess[str]], case: Case) -> None:
    result = results[case.id]
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-2000:]
    assert result.returncode == case.code, f"exit {result.returncode}: {result.stderr}"
    for word in case.words:
        assert word.lower() in result.stderr.lower(), f"{word!r} not in: {result.stderr}"
    if case.one_line:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("error: ")]
        assert len(errors) == 1 and len(errors[0]) < 200, result.stderr
        assert result.stdout == "", "an error prints nothing on stdout"


def test_cases_have_unique_ids() -> None:
    assert len({c.id for c in CASES}) == len(CASES)


# --- output that cannot be written ----------------------------------------------------------------------------


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "tables"])
@pytest.mark.skipif(sys.platform != "linux", reason="/dev/full is Linux's always-full device")
def test_unwritable_output_is_one_line(lab_url: str, as_json: bool) -> None:
    """`lab burst ... > /dev/full`: the output cannot be written; say so in one line, exit 1."""
    args = ["burst", f"{lab_url}/sleep/async?delay_ms=1", "-n", "3"] + (["--json"] if as_json else [])
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "lab", *args],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    assert "Traceback" not in result.stderr, result.stderr[-1500:]
    assert result.returncode == FAILURE
    assert "No space left on device" in result.stderr


def test_burst_at_a_bad_delay_shows_the_servers_422(lab_url: str) -> None:
    """A delay out of range in the URL: the server refuses every request, and the table says 422."""
    result = run_lab(["burst", f"{lab_url}/sleep/async?delay_ms=-1", "-n", "3", "--json"])
    assert "Traceback" not in result.stderr
    assert result.returncode == FAILURE
    assert '"422": 3' in result.stdout
