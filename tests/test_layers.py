"""The architecture, enforced: imports flow one way down the layers, and heavy libraries stay where they belong.

    cli -> demo -> view -> course -> load -> server -> launch -> base (what exercises import) -> core

A module may import its own layer and the layers below it, never one above. Two kinds of import
do not count: those under `if TYPE_CHECKING:` (they never run), and the lazy import of a view
inside a display hook (`__rich_console__`, `_repr_mimebundle_`): a result that can draw itself
must name its view, and it imports it only when something shows it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parents[1] / "lab"

LAYERS = ["cli", "demo", "view", "course", "load", "server", "launch", "base", "core"]
BASE = {
    "model",
    "numpy_model",
    "onnx_model",
    "schemas",
    "workloads",
    "instruments",
    "run_queue",
    "client",
    "scenarios",
    "durations",
    "data",
}
CORE = {"protocol", "errors"}
DISPLAY_HOOKS = {"__rich_console__", "__rich__", "_repr_mimebundle_", "_repr_html_"}

# Third-party libraries and the only layers (or modules) that may import them at run time.
OWNERS = {
    "rich": ("lab.view",),
    "matplotlib": ("lab.view.plot",),
    "fastapi": ("lab.server", "lab.schemas", "lab.demo.web"),  # the web view is served by `lab demo` itself
    "starlette": ("lab.server", "lab.demo.web"),
    "prometheus_client": ("lab.server.metrics",),
    "typer": ("lab.cli",),
    "watchfiles": ("lab.course.watch",),
}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "lab" or len(parts) == 1:
        return None  # the package root is the lazy public API: it may name anything
    if parts[1] in LAYERS[:7]:
        return parts[1]
    if parts[1] in BASE:
        return "base"
    if parts[1] in CORE:
        return "core"
    return None  # __main__


def module_name(path: Path) -> str:
    relative = path.relative_to(LAB.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def runtime_imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, imported module, inside a display hook) for every import that can run."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str, bool]] = []

    def visit(node: ast.AST, in_hook: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other, in_hook)
                continue
            hook = in_hook or (isinstance(child, ast.FunctionDef) and child.name in DISPLAY_HOOKS)
            if isinstance(child, ast.Import):
                found.extend((child.lineno, alias.name, hook) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child.lineno, child.module, hook))
                # `from lab.view import plot` may import the submodule lab.view.plot
                found.extend((child.lineno, f"{child.module}.{alias.name}", hook) for alias in child.names)
            visit(child, hook)

    visit(tree, False)
    return found


MODULES = sorted(LAB.rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    unplaced = [module_name(p) for p in MODULES if layer_of(module_name(p)) is None]
    assert sorted(unplaced) == ["lab", "lab.__main__"]


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_imports_flow_down_the_layers(path: Path) -> None:
    importer = module_name(path)
    mine = layer_of(importer)
    if mine is None:
        return
    wrong = []
    for line, imported, in_hook in runtime_imports(path):
        theirs = layer_of(imported)
        if theirs is None:
            continue
        if in_hook and theirs == "view":
            continue
        if LAYERS.index(theirs) < LAYERS.index(mine):
            wrong.append(f"{path.name}:{line} imports {imported} ({theirs} is above {mine})")
    assert wrong == []


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_heavy_libraries_are_imported_only_where_they_belong(path: Path) -> None:
    importer = module_name(path)
    wrong = []
    for line, imported, _ in runtime_imports(path):
        library = imported.split(".")[0]
        owners = OWNERS.get(library)
        if owners is None or importer in ("lab", "lab.__main__"):
            continue
        if not any(importer == owner or importer.startswith(owner + ".") for owner in owners):
            wrong.append(f"{path.name}:{line} imports {library}: only {', '.join(owners)} may")
    assert wrong == []


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


SERVING = {"fastapi", "starlette", "uvicorn", "prometheus_client"}
CLIENTS = {"httpx2", "aiohttp"}


def test_lab_help_loads_only_the_cli() -> None:
    code = (
        "import contextlib, io\n"
        "from lab.cli import app\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    app(['--help'])\n"
    )
    loaded = loaded_after(code)
    assert SERVING & loaded == set()
    assert CLIENTS & loaded == set()
    assert {"pydantic", "anyio", "rich.live", "rich.progress", "matplotlib"} & loaded == set()
    lab_modules = {m for m in loaded if m.startswith("lab.")}
    assert {m for m in lab_modules if not m.startswith("lab.cli")} <= {"lab.errors"}


def test_the_load_side_never_imports_the_server() -> None:
    # `lab compare` and `lab demo` start the server in another process: the client needs none of FastAPI.
    loaded = loaded_after("import lab.load.compare, lab.load.burst, lab.demo.race, lab.cli.compare, lab.cli.demo")
    assert {"fastapi", "starlette", "prometheus_client"} & loaded == set()
    assert [m for m in loaded if m.startswith("lab.server")] == []


def test_the_server_does_not_import_the_views() -> None:
    loaded = loaded_after("import lab.server.app")
    assert [m for m in loaded if layer_of(m) in ("cli", "demo", "view", "course")] == []
    assert "rich" not in loaded and "matplotlib" not in loaded
