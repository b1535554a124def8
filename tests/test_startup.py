"""What starting a command costs, as the modules a fresh interpreter holds afterwards (which does not move on
a busy machine, unlike a start-up time): commands that only read files import neither the server side nor an
HTTP client, the served app imports only what serving needs, and starting a warm host early costs nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

FIXTURE_ROOT = Path(__file__).resolve().parent / "fixtures" / "exercises"
SERVING = {"fastapi", "starlette", "uvicorn", "prometheus_client"}
CLIENTS = {"httpx2", "aiohttp", "httpcore", "h11"}
PYTHON_ITSELF = set(sys.stdlib_module_names) | {"__main__", "__mp_main__"}


def loaded_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """The top-level packages a fresh interpreter holds after running `code` (as tests/test_layers.py does)."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def tops(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


# What the interpreter loads before any code runs, beyond the standard library: the `.pth` files of
# site-packages (setuptools' `_distutils_hack`, which hdrhistogram's dependencies install). The lab
# does not import them and cannot avoid them, so they are part of "Python itself" here.
PYTHON_ITSELF |= tops(loaded_after("pass"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FIXTURE_ROOT, root)
    return root


@pytest.mark.parametrize("command", [["list"], ["hint", "1"], ["reset", "1"]], ids=lambda c: c[0])
def test_reading_commands_import_neither_the_server_nor_a_client(project: Path, command: list[str]) -> None:
    code = (
        "import contextlib, io\n"
        "from lab.cli import app\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        f"        app({command!r})\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code in (0, None), f'exit {exc.code}'  # the command ran, and succeeded\n"
    )
    loaded = tops(loaded_after(code, {"LAB_ROOT": str(project)}))
    assert "lab" in loaded
    assert SERVING & loaded == set()
    assert CLIENTS & loaded == set()
    assert {"uvloop", "watchfiles", "matplotlib"} & loaded == set()
    # Typer coerces values through pydantic (~0.1 s), the lint pulls in asyncio and anyio: none needed here
    # (lab.cli.usage passes strings and flags through; the views name lint's `Finding` for types only).
    assert {"pydantic", "anyio", "asyncio", "numpy"} & loaded == set()


def test_a_check_parses_its_command_line_without_pydantic(project: Path) -> None:
    # `--junit` and `--gradescope` are paths: left unset, Typer would still build their pydantic adapters
    # (~0.1 s of the checker's start, before its servers can be measured).
    code = (
        "import lab.course.check\n"
        "def stop(*args, **kwargs):\n"
        "    raise SystemExit(0)\n"
        "lab.course.check.check_exercise = stop  # what the command line cost, up to the check itself\n"
        "from lab.cli import app\n"
        "try:\n"
        "    app(['check', '1'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), f'exit {exc.code}'\n"
    )
    assert "pydantic" not in tops(loaded_after(code, {"LAB_ROOT": str(project), "LAB_WARM_HOSTS": "0"}))


def test_the_served_app_imports_only_what_serving_needs() -> None:
    # The lifespan imports the store's client; the app module itself needs neither a client nor uvicorn.
    loaded = tops(loaded_after("import lab.server.app"))
    assert CLIENTS & loaded == set()
    assert "uvicorn" not in loaded
    beyond_fastapi = loaded - tops(loaded_after("import fastapi")) - PYTHON_ITSELF
    assert beyond_fastapi <= {
        "lab",
        "prometheus_client",
        "numpy",
        "threadpoolctl",
    }  # the /numpy twins serve a NumPy model


def test_starting_a_warm_host_early_imports_nothing_heavy() -> None:
    loaded = tops(loaded_after("import lab.launch.warm"))
    assert loaded - PYTHON_ITSELF == {"lab"}


@pytest.mark.parametrize(
    ("argv", "starts"),
    [
        (["lab", "check", "1"], True),
        (["lab", "watch"], True),
        (["lab", "check", "--help"], False),
        (["lab", "list"], False),
    ],
)
def test_checking_commands_start_the_warm_host_before_typer_parses(argv: list[str], starts: bool) -> None:
    code = (
        "import json, sys\n"
        f"sys.argv = {argv!r}\n"
        "import lab.cli\n"
        "import lab.launch.warm as warm\n"
        "imported = warm._host is not None\n"  # importing the CLI starts nothing: `main` does, explicitly
        "lab.cli.start_warm_host_for(sys.argv)\n"
        "print(json.dumps([imported, warm._host is not None and warm._host.alive, 'pydantic' in sys.modules]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "LAB_WARM_HOSTS"}  # on by default
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, env=env)
    imported, started, parsed = json.loads(out.stdout.splitlines()[-1])
    assert imported is False
    assert started is starts
    assert parsed is False  # typer's argument adapters (pydantic) have not run yet: the host starts first


def test_the_lab_script_and_python_m_lab_go_through_main() -> None:
    """`main` is where the warm host starts: both ways of running `lab` must call it."""
    scripts = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["lab"] == "lab.cli:main"
    source = (Path(__file__).parents[1] / "lab" / "__main__.py").read_text()
    assert "main()" in source and "app(" not in source
