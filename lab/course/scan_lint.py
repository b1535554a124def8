"""The exercises' lint beside `lab scan`'s runtime findings: which lint findings sit in each route's code.

    notes = route_lint(report)   # {("GET", "/items/{id}"): ["main.py:27 ASYNC251 ..."], ...}

A route's code, as far as it can be told without importing the app: its endpoint function in the app's own
file (found by name: FastAPI's operation id starts with it), and the function the watchdog found holding
the loop, wherever it is (a dependency, a middleware, a helper module). Each file is linted once.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from lab.course.lint import Finding, lint_file
from lab.errors import LabError
from lab.load.scan import RouteResult, ScanReport

__all__ = ["describe", "function_lines", "lint_paths", "route_lint"]


def function_lines(source: str) -> dict[str, tuple[int, int]]:
    """Every function's (first line, last line) by name, decorators included; a later definition wins."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    spans = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            spans[node.name] = (first, node.end_lineno or node.lineno)
    return spans


def describe(path: Path, finding: Finding) -> str:
    return f"{path.name}:{finding.line} {finding.code} {finding.message}"


def route_lint(report: ScanReport) -> dict[tuple[str, str], list[str]]:
    """The lint findings inside each scanned route's endpoint and blocking function, worded for the report."""
    cache: dict[Path, tuple[list[Finding], dict[str, tuple[int, int]]]] = {}
    notes: dict[tuple[str, str], list[str]] = {}
    for result in report.routes:
        places = list(_places(report, result.planned.endpoint, result))
        found: list[str] = []
        for path, function in places:
            if path not in cache:
                cache[path] = _lint_one(path)
            findings, spans = cache[path]
            first, last = spans.get(function, (0, -1))
            found += [describe(path, f) for f in findings if first <= f.line <= last and describe(path, f) not in found]
        if found:
            notes[(result.planned.method, result.planned.path)] = found
    return notes


def _places(report: ScanReport, endpoint: str, result: RouteResult) -> Iterator[tuple[Path, str]]:
    if report.source is not None and endpoint:
        yield report.source, endpoint
    line = None if result.finding is None else result.finding.line
    if line is not None and line.file:
        yield Path(line.file), line.function


def _lint_one(path: Path) -> tuple[list[Finding], dict[str, tuple[int, int]]]:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return [], {}
    return lint_file(path), function_lines(source)


def lint_paths(paths: list[Path]) -> list[tuple[Path, list[Finding]]]:
    """`lab lint PATH...`: every .py file under the paths (folders walked), with its findings."""
    files: list[Path] = []
    for path in paths:
        if not path.exists():
            raise LabError(f"{path}: no such file or folder", usage=True)
        if path.is_dir():  # hidden folders (.venv, .git) are not the project's code
            files += sorted(
                f for f in path.rglob("*.py") if not any(p.startswith(".") for p in f.relative_to(path).parts)
            )
        else:
            files.append(path)
    return [(file, lint_file(file)) for file in files]
