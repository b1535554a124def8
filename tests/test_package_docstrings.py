"""Each subpackage's docstring is its table of contents: every module listed, and nothing listed that is gone.

A listing line starts at the left margin with the module's file name (`burst.py`) or a subpackage's
folder (`scenarios/`), then what it does, as `lab/load/__init__.py` shows.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parents[1] / "lab"
LISTED = re.compile(r"^([A-Za-z_]\w*(?:\.py|/))\s", re.MULTILINE)
PACKAGES = sorted(init.parent for init in LAB.rglob("__init__.py") if init.parent != LAB)


def contents(package: Path) -> set[str]:
    """What the docstring must list: its module files, and its folders (subpackages, or files it serves)."""
    modules = {p.name for p in package.glob("*.py") if p.name != "__init__.py"}
    folders = {f"{p.name}/" for p in package.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    return modules | folders


def listed(package: Path) -> set[str]:
    docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8"))) or ""
    return set(LISTED.findall(docstring))


@pytest.mark.parametrize("package", [p for p in PACKAGES if contents(p)], ids=lambda p: p.name)
def test_every_module_is_listed(package: Path) -> None:
    assert sorted(contents(package) - listed(package)) == []


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_every_listed_name_exists(package: Path) -> None:
    assert sorted(listed(package) - contents(package)) == []
