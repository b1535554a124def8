"""Every notebook runs top to bottom (nbmake, the `python3` kernel), and is committed stripped.

`make test` collects the notebooks directly (`pytest tests notebooks --nbmake ...`). A plain
`pytest` (or `pytest tests`) does not, so here each notebook not already collected in this session
is run by its own `pytest --nbmake` in a subprocess: one test per notebook, never twice.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
NBMAKE_TIMEOUT_S = 240  # per notebook; each takes 10-30 s on a busy 2-core machine
KERNEL = "python3"  # ipykernel's own spec: the interpreter running pytest, i.e. the project's venv


def kernel_env() -> dict[str, str]:
    """This interpreter's directory first on PATH: the kernelspec's `python` must be the project's."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_the_python3_kernel_runs_in_the_project_environment() -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    argv = KernelSpecManager().get_kernel_spec(KERNEL).argv
    env = kernel_env()
    executable = argv[0] if os.path.isabs(argv[0]) else shutil.which(argv[0], path=env["PATH"])
    assert executable, f"the {KERNEL} kernel's interpreter {argv[0]!r} is not on PATH"
    code = "import sys, lab; print(sys.prefix)"
    run = subprocess.run([executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == sys.prefix


def test_the_curriculum_has_its_notebooks() -> None:
    names = [path.name for path in NOTEBOOKS]
    assert names == [
        "01_sync_async_broken.ipynb",
        "02_threads_pools_gil.ipynb",
        "03_cpu_inference_at_scale.ipynb",
        "04_latency_monitoring.ipynb",
        "05_real_model_runtimes.ipynb",
        "06_production_probes_restarts.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_stripped_with_stable_ids(path: Path) -> None:
    notebook = load(path)
    assert notebook["metadata"]["kernelspec"]["name"] == KERNEL
    cells = notebook["cells"]
    ids = [cell.get("id") for cell in cells]
    assert all(ids), "every cell needs an id (nbformat 4.5)"
    assert len(set(ids)) == len(ids), "cell ids must be unique"
    for cell in cells:
        assert cell["metadata"] == {}, f"cell {cell['id']}: metadata left in"
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"cell {cell['id']}: outputs left in (run nbstripout --keep-id)"
            assert cell["execution_count"] is None, f"cell {cell['id']}: execution count left in"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_uses_the_lab_api_and_stops_its_servers(path: Path) -> None:
    code = "\n".join("".join(c["source"]) for c in load(path)["cells"] if c["cell_type"] == "code")
    assert "import lab" in code
    assert "await lab.burst(" in code  # top-level await with the burst engine
    assert "plot." in code  # at least one matplotlib timeline
    # No lab logic in a notebook: no app, no server, no HTTP load loop of its own.
    for forbidden in ("FastAPI(", "uvicorn", "asyncio.run(", "nest_asyncio", "run_burst("):
        assert forbidden not in code, f"{path.name} uses {forbidden!r}: call the lab package instead"
    started = code.count("lab.serve(")
    assert started >= 1
    # A server is stopped by a `with` block or an explicit stop().
    assert code.count("with lab.serve(") + code.count("server.stop()") >= started


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, request: pytest.FixtureRequest) -> None:
    if any(Path(str(item.path)).resolve() == path for item in request.session.items if item.path.suffix == ".ipynb"):
        pytest.skip("nbmake runs this notebook directly in this session")
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--nbmake",
        f"--nbmake-kernel={KERNEL}",
        f"--nbmake-timeout={NBMAKE_TIMEOUT_S}",
        "-p",
        "no:cacheprovider",
        "-q",
        str(path),
    ]
    run = subprocess.run(
        command,
        cwd=NOTEBOOKS_DIR.parent,
        env=kernel_env(),
        capture_output=True,
        text=True,
        timeout=NBMAKE_TIMEOUT_S + 30,
    )
    assert run.returncode == 0, f"{path.name} failed:\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
