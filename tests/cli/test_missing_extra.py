"""An optional extra that is not installed: one line that names the install command, exit 1, no traceback.

ONNX Runtime is hidden from a real `lab` process by a `sitecustomize` (as if it were not installed),
so this runs whether or not the extra is.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def without_onnxruntime(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['onnxruntime'] = None\n")
    return {**os.environ, "PYTHONPATH": str(tmp_path)}


@pytest.mark.parametrize("command", [["compare", "-s", "onnx"], ["demo", "onnx", "--no-live"]], ids=lambda c: c[0])
def test_the_onnx_scenario_says_which_command_installs_it(
    without_onnxruntime: dict[str, str], command: list[str]
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lab", *command], capture_output=True, text=True, timeout=60, env=without_onnxruntime
    )
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and "uv sync --extra onnx" in lines[0]


@pytest.mark.parametrize("code", ["from lab.cli import app; app(['--help'])", "import lab.server.app"])
def test_nothing_imports_onnx_runtime_before_a_model_is_loaded(code: str) -> None:
    script = (
        "import contextlib, io, sys\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        f"    {code}\n"
        "print('onnxruntime' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.splitlines()[-1] == "False"
