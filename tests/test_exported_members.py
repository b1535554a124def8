"""The package root is a curated API: `__all__` must not drift, and `import lab` must stay light."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
import types

import lab
from lab.client import httpx

# Loaded only when a name that needs them is first used (PEP 562), never by `import lab` itself.
HEAVY_MODULES = ("fastapi", "starlette", "uvicorn", "rich", "httpx2", "pydantic", "matplotlib")


def isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions and modules."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_unique() -> None:
    assert lab.__all__ == sorted(set(lab.__all__), key=isort_key)


def test_all_lists_exactly_the_public_names() -> None:
    defined_here = {
        name
        for name, value in vars(lab).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == "lab"
    }
    assert set(lab.__all__) == set(lab._LAZY) | defined_here


def test_every_exported_name_resolves() -> None:
    for name in lab.__all__:
        assert getattr(lab, name) is not None, name
    assert set(lab.__all__) <= set(dir(lab))
    namespace: dict[str, object] = {}
    exec("from lab import *", namespace)
    assert set(lab.__all__) <= set(namespace)


def test_burst_is_the_function_even_after_its_module_is_imported() -> None:
    # Importing a submodule sets it on its package: `lab.burst` must stay the function regardless.
    importlib.import_module("lab.load.burst")
    assert inspect.iscoroutinefunction(lab.burst)
    assert isinstance(lab.plot, types.ModuleType)  # a submodule that is exported as one


def test_unknown_names_raise_attribute_error() -> None:
    try:
        lab.no_such_name  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_lab_loads_no_heavy_module() -> None:
    code = (
        "import json, sys, lab\n"
        "lab.serve, lab.Serving, lab.plot  # defined in lab, or loaded without matplotlib\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    loaded = set(json.loads(out.stdout))
    assert "lab.view.plot" in loaded
    assert [m for m in HEAVY_MODULES if m in loaded] == []


def test_serve_runs_an_app_object_in_a_thread_and_stops_it() -> None:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    with lab.serve(app) as server:
        assert server.running and server.url.startswith("http://127.0.0.1:")
        assert httpx.get(server.url + "/ping", timeout=10).json() == {"pong": "yes"}
    assert not server.running
    assert "stopped" in repr(server)
    server.stop()  # twice is harmless
