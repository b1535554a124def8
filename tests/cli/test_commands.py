"""The core commands, through Typer's runner: exit codes, one-line errors, JSON shapes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from lab.cli import app

runner = CliRunner()


def test_burst_json(lab_url: str) -> None:
    result = runner.invoke(app, ["burst", f"{lab_url}/sleep/async?delay_ms=50", "-n", "4", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["requests"] == 4 and data["concurrency"] == 4 and data["ok"] == 4
    assert data["verdict"] == "concurrent"
    assert len(data["samples"]) == 4


def test_burst_table_names_the_verdict(lab_url: str) -> None:
    result = runner.invoke(app, ["burst", f"{lab_url}/sleep/broken?delay_ms=50", "-n", "4"])
    assert result.exit_code == 0, result.output
    assert "verdict: serialized" in result.stdout
    assert "Server: in a handler" in result.stdout


def test_compare_json_against_a_running_server(lab_url: str) -> None:
    result = runner.invoke(app, ["compare", "--url", lab_url, "-n", "4", "--delay-ms", "100", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["requests"], data["delay_ms"], data["scenario"]) == (4, 100, "sleep")
    variants = data["variants"]
    assert set(variants) == {"sync", "async", "broken"}
    assert variants["broken"]["server"]["peak_in_flight"] == 1
    assert variants["async"]["server"]["peak_in_flight"] >= 3
    assert data["speedup_over_broken"]["async"] > 2  # ideal 4x


def test_compare_starts_and_stops_its_own_server() -> None:
    result = runner.invoke(app, ["compare", "-n", "3", "--delay-ms", "50"])
    assert result.exit_code == 0, result.output
    assert "serialized" in result.stdout
    assert "Why:" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["burst", "not-a-url"], 2, "error: not an http(s) URL"),
        (["burst", "http://127.0.0.1:8000/", "-n", "0"], 2, "error: requests must be between 1 and 10000"),
        (["burst", "http://127.0.0.1:8000/", "-n", "5", "-c", "9"], 2, "error: concurrency must be between 1 and 5"),
        (["burst", "http://127.0.0.1:8000/", "--json-body", "{nope"], 2, "error: --json-body is not valid JSON"),
        (["compare", "-s", "teleport"], 2, "error: invalid value for '-s' / '--scenario': 'teleport' is not one of"),
        (["class", "report"], 2, "error: missing argument 'directory' (see `lab class report --help`)"),
        (["compare", "-n", "1"], 2, "error: requests must be between 2 and 1000"),
        (["compare", "--delay-ms", "-5"], 2, "error: delay must be between 1 and 10000 ms"),
    ],
)
def test_mistakes_get_one_line_and_exit_code(args: list[str], code: int, message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == code
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_help_does_not_import_heavy_modules() -> None:
    probe = (
        "import sys; from lab.cli import app; "
        "heavy = [m for m in ('fastapi', 'uvicorn', 'httpx2', 'rich.table', 'aiohttp') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_the_serve_banner_fits_in_120_columns() -> None:
    """Two short lines: one long line wrapped mid-URL in a 120-column terminal."""
    command = [sys.executable, "-m", "lab", "serve", "--port", "0"]
    with subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True) as proc:
        assert proc.stderr is not None
        try:
            lines = [proc.stderr.readline() for _ in range(2)]
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=60)
    assert lines[0].startswith("lab server on http://127.0.0.1:"), lines
    url = lines[0].split()[3]
    assert f"{url}/lab/stats" in lines[1] and f"{url}/metrics" in lines[1] and f"{url}/docs" in lines[1]
    assert all(len(line.rstrip("\n")) <= 120 for line in lines), [len(line) for line in lines]
