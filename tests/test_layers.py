"""The architecture, enforced: imports flow one way down the layers, and each library has its owners.

    cli -> demo -> view -> course -> load -> launch -> server -> base (exercises import it; both sides share it) -> core

A module may import its own layer and the layers below it, never one above. "Import" means every way
a module name can be reached at run time: `import` and `from ... import` statements anywhere (inside
functions too), and module names written as strings (`importlib.import_module("lab.x")`, an
import string `"lab.x:app"` handed to a runner, `[sys.executable, "-m", "lab.x"]`): a child process
started on a module depends on it as much as an import does.

`EXEMPTIONS` below is the whole list of what does not count; the README states the same table.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parents[1] / "lab"

LAYERS = ["cli", "demo", "view", "course", "load", "launch", "server", "base", "core"]
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
    "contain",  # what a server process and the lab that started it agree on: both sides, so below both
    "serving",  # a socket bound here, served in a thread: the launcher's ThreadServer and the server's store
}
CORE = {"protocol", "errors"}

# What does not count, and why. Nothing else is exempt (the README's "Layers" states the same table).
EXEMPTIONS = {
    "the package root `lab` and `lab.__main__`": "the lazy public API and the program's entry name anything",
    "`if TYPE_CHECKING:` (and the `else` of `if not TYPE_CHECKING:`)": "annotations only: it never runs",
    "a view imported inside a display hook (`__rich_console__`, `__rich__`, `_repr_mimebundle_`, `_repr_html_`)": (
        "a result that can draw itself names its view, and imports it only when something shows it"
    ),
}
UNPLACED = {"lab", "lab.__main__"}
DISPLAY_HOOKS = {"__rich_console__", "__rich__", "_repr_mimebundle_", "_repr_html_"}

# Every third-party library lab/ imports, and the only modules (or packages) that may import it at run time.
OWNERS = {
    "httpx2": ("lab.client",),  # the one HTTP client: everyone else imports lab.client
    "aiohttp": ("lab.client",),
    "yarl": ("lab.client",),
    "uvloop": ("lab.client", "lab.load.fire", "lab.server.host"),  # the event loop, where one is made
    "fastapi": ("lab.server", "lab.demo.web"),  # the web view is served by `lab demo` itself
    "starlette": ("lab.server", "lab.demo.web"),
    "anyio": ("lab.server", "lab.instruments"),  # FastAPI's thread pool, as the server and exercises see it
    "pydantic": ("lab.schemas",),
    "uvicorn": ("lab.server.host", "lab.serving"),  # serving: a child process, or a thread
    "prometheus_client": ("lab.server.metrics",),
    "rich": ("lab.view",),
    "matplotlib": ("lab.view.plot",),
    "typer": ("lab.cli",),
    "watchfiles": ("lab.course.watch",),
    "numpy": ("lab.numpy_model", "lab.onnx_model"),
    "onnxruntime": ("lab.onnx_model",),
    "threadpoolctl": ("lab.numpy_model", "lab.instruments"),
    "psutil": ("lab.launch.process", "lab.course.check", "lab.onnx_model"),
    "yaml": ("lab.load.probes",),  # reading Kubernetes manifests for their probes
    "hdrh": ("lab.load.latency",),  # steady load's latency histograms
    "hypothesis": ("lab.load.openapi",),  # `lab scan`: a request body drawn from an operation's JSON Schema
    "hypothesis_jsonschema": ("lab.load.openapi",),
    "ruff": ("lab.course.lint",),  # run on a learner's file (`python -m ruff`)
}

# A module name in a string: `lab.x.y`, or an import string `lab.x.y:attr`.
LAB_NAME = re.compile(r"lab(\.[A-Za-z_]\w*)+(:[A-Za-z_]\w*)?")
IMPORTERS = {"import_module", "__import__", "find_spec"}


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


def _is_type_checking(test: ast.expr) -> bool:
    """`TYPE_CHECKING` or `typing.TYPE_CHECKING` (any module's attribute of that name)."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_branches(node: ast.If) -> list[ast.stmt]:
    """The statements of an `if` that can run: all of them, unless its test is (not) TYPE_CHECKING."""
    if _is_type_checking(node.test):
        return node.orelse
    test = node.test
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and _is_type_checking(test.operand):
        return node.body
    return [*node.body, *node.orelse]


def _string_names(node: ast.AST) -> list[str]:
    """Module names a string can reach: a lab module anywhere, any module passed to an importer or after `-m`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and LAB_NAME.fullmatch(node.value):
        return [node.value.partition(":")[0]]
    names: list[str] = []
    if isinstance(node, ast.Call):
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        first = node.args[0] if node.args else None
        if called in IMPORTERS and isinstance(first, ast.Constant) and not LAB_NAME.fullmatch(str(first.value)):
            names.append(str(first.value))  # a lab name is found as the string it is
    if isinstance(node, ast.List | ast.Tuple):
        items = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
        after_m = [str(after) for before, after in zip(items, items[1:], strict=False) if before == "-m" and after]
        names.extend(name for name in after_m if not LAB_NAME.fullmatch(name))
    return names


def runtime_imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, module, inside a display hook) for every import, and every module named in a string, that can run."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str, bool]] = []

    def visit(node: ast.AST, in_hook: bool) -> None:
        children = _runtime_branches(node) if isinstance(node, ast.If) else ast.iter_child_nodes(node)
        if isinstance(node, ast.If):
            visit(node.test, in_hook)
        for child in children:
            function = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            hook = in_hook or (function and child.name in DISPLAY_HOOKS)
            line = getattr(child, "lineno", 0)
            if isinstance(child, ast.Import):
                found.extend((line, alias.name, hook) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((line, child.module, hook))
                # `from lab.view import plot` may import the submodule lab.view.plot
                found.extend((line, f"{child.module}.{alias.name}", hook) for alias in child.names)
            found.extend((line, name, hook) for name in _string_names(child))
            visit(child, hook)

    visit(tree, False)
    return sorted(set(found))


MODULES = sorted(LAB.rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    unplaced = [module_name(p) for p in MODULES if layer_of(module_name(p)) is None]
    assert sorted(unplaced) == sorted(UNPLACED)


def layer_violations(path: Path, importer: str | None = None) -> list[str]:
    importer = importer or module_name(path)
    mine = layer_of(importer)
    if mine is None:
        return []
    wrong = []
    for line, imported, in_hook in runtime_imports(path):
        theirs = layer_of(imported)
        if theirs is None or (in_hook and theirs == "view"):
            continue
        if LAYERS.index(theirs) < LAYERS.index(mine):
            wrong.append(f"{path.name}:{line} imports {imported} ({theirs} is above {mine})")
    return wrong


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_imports_flow_down_the_layers(path: Path) -> None:
    assert layer_violations(path) == []


def owner_violations(path: Path, importer: str | None = None) -> list[str]:
    importer = importer or module_name(path)
    if importer in UNPLACED:
        return []
    wrong = []
    for line, imported, _ in runtime_imports(path):
        library = imported.split(".")[0]
        owners = OWNERS.get(library)
        if owners is None:
            continue
        if not any(importer == owner or importer.startswith(owner + ".") for owner in owners):
            wrong.append(f"{path.name}:{line} imports {library}: only {', '.join(owners)} may")
    return wrong


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_libraries_are_imported_only_by_their_owners(path: Path) -> None:
    assert owner_violations(path) == []


def test_every_library_has_owners() -> None:
    """A new third-party import needs a line in OWNERS: who may import it, and so who may not."""
    libraries = {
        imported.split(".")[0]
        for path in MODULES
        for _, imported, _ in runtime_imports(path)
        if imported.split(".")[0] not in (*sys.stdlib_module_names, "lab", "__future__")
    }
    assert sorted(libraries - OWNERS.keys()) == []


def _violations_of(source: str, tmp_path: Path) -> list[str]:
    """What the checks say of `source` as a module of lab/server/ (below the launcher, owner of neither rich
    nor httpx2)."""
    path = tmp_path / "planted.py"
    path.write_text(source, encoding="utf-8")
    return layer_violations(path, "lab.server.planted") + owner_violations(path, "lab.server.planted")


@pytest.mark.parametrize(
    ("source", "seen"),
    [
        ('import importlib\nimportlib.import_module("lab.launch.warm")\n', "lab.launch.warm"),
        ('import subprocess, sys\nsubprocess.run([sys.executable, "-m", "lab.launch.warm"])\n', "lab.launch.warm"),
        ('TARGET = "lab.launch.process:ServerProcess"\n', "lab.launch.process"),
        ("from typing import TYPE_CHECKING\nif not TYPE_CHECKING:\n    import lab.launch.process\n", "lab.launch"),
        ("import typing\nif typing.TYPE_CHECKING:\n    pass\nelse:\n    import lab.launch.process\n", "lab.launch"),
        ("def f() -> None:\n    import rich\n", "rich"),
        ('import importlib\nimportlib.import_module("httpx2")\n', "httpx2"),
    ],
)
def test_the_test_sees_every_form(source: str, seen: str, tmp_path: Path) -> None:
    assert any(seen in line for line in _violations_of(source, tmp_path))


def test_the_test_skips_only_what_never_runs(tmp_path: Path) -> None:
    source = (
        "import typing\nfrom typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import lab.launch.process\n"
        "if typing.TYPE_CHECKING:\n    import lab.launch.process\n"
        "if not TYPE_CHECKING:\n    pass\nelse:\n    import lab.launch.process\n"
        '"""lab.launch.process is named in prose here, which runs nothing."""\n'
    )
    assert _violations_of(source, tmp_path) == []


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
