"""What lab/ imports is what pyproject.toml declares: nothing arrives only through another package's extras.

`uvloop` came in through `uvicorn[standard]`, which skips it on some platforms; `fastapi-cli` was declared and
never imported; matplotlib and ipykernel back the public `lab.plot` but sat in the dev group, which a wheel
does not carry.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def _imported_distributions() -> dict[str, set[str]]:
    """Distribution name -> the lab/ files importing it (top-level modules of third parties only)."""
    owners = packages_distributions()
    found: dict[str, set[str]] = {}
    for file in (ROOT / "lab").rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top == "lab" or top in sys.stdlib_module_names:
                    continue
                for dist in owners.get(top, [top]):
                    found.setdefault(dist.lower().replace("_", "-"), set()).add(str(file.relative_to(ROOT)))
    return found


def test_every_import_is_declared() -> None:
    declared = _names(PYPROJECT["project"]["dependencies"])
    extra = set().union(*map(_names, PYPROJECT["project"]["optional-dependencies"].values()))
    missing = {d: files for d, files in _imported_distributions().items() if d not in declared | extra}
    assert missing == {}, f"imported by lab/ but not declared: {missing}"


def test_the_plotting_stack_is_the_notebooks_extra_and_fastapi_cli_is_dev_only() -> None:
    assert {"matplotlib", "ipykernel"} <= _names(PYPROJECT["project"]["optional-dependencies"]["notebooks"])
    runtime = _names(PYPROJECT["project"]["dependencies"])
    assert {"matplotlib", "ipykernel", "fastapi-cli"} & runtime == set()
    dev = _names([r for r in PYPROJECT["dependency-groups"]["dev"] if isinstance(r, str)])
    assert "fastapi-cli" in dev
    assert "concurrency-lab" in dev, "plain `uv sync` installs the notebooks extra for the tests"
    assert "fastapi-cli" not in _imported_distributions()


def test_onnx_runtime_is_the_onnx_extra_and_its_build_tool_a_group_lab_never_imports() -> None:
    # A `make demo` install carries neither; lab/onnx_model.py imports onnxruntime only when it loads a model.
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert _names(extras["onnx"]) == {"onnxruntime"}
    assert {"onnxruntime", "onnx"} & _names(PYPROJECT["project"]["dependencies"]) == set()
    assert _names(PYPROJECT["dependency-groups"]["model-build"]) == {"onnx"}
    assert "onnx" not in _imported_distributions()


def test_bursts_run_without_uvloop(lab_url: str) -> None:
    """uvloop has no Windows build: lab.load.fire.run falls back to asyncio's own loop."""
    probe = (
        "import sys; sys.modules['uvloop'] = None\n"
        "from lab.load.burst import run_burst\n"
        f"result = run_burst({lab_url + '/sleep/async?delay_ms=20'!r}, requests=3)\n"
        "print(result.summary.ok)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["3"], done.stderr[-2000:]
