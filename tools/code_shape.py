"""The project's limit on a function's size: at most 60 lines and a cyclomatic complexity of 15 (radon's count).

    python -m tools.code_shape          # every offender in lab/, one line each; exit 1 if there is one

Run by `make lint` and by tests/test_code_shape.py. No exemptions: a function over the limit is split.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from radon.complexity import cc_visit
from radon.visitors import Class, Function

MAX_LINES = 60
MAX_COMPLEXITY = 15
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Shape:
    path: str
    name: str
    lines: int
    complexity: int

    def __str__(self) -> str:
        return f"{self.path}:{self.name}: {self.lines} lines, complexity {self.complexity}"


def _functions(blocks: list[Function | Class]) -> Iterator[tuple[str, Function]]:
    """Every function, method and closure, named as radon names them (`Class.method`, `outer.inner`)."""
    for block in blocks:
        if isinstance(block, Function):  # radon lists methods beside their class, already
            yield block.fullname, block
            yield from ((f"{block.fullname}.{name}", inner) for name, inner in _functions(list(block.closures)))


def shapes(package: Path = ROOT / "lab") -> list[Shape]:
    found = []
    for path in sorted(package.rglob("*.py")):
        blocks = cc_visit(path.read_text(encoding="utf-8"))
        for name, function in _functions(blocks):
            lines = function.endline - function.lineno + 1
            found.append(Shape(str(path.relative_to(package.parent)), name, lines, function.complexity))
    return found


def offenders(package: Path = ROOT / "lab") -> list[Shape]:
    return [s for s in shapes(package) if s.lines > MAX_LINES or s.complexity > MAX_COMPLEXITY]


def main() -> int:
    found = offenders()
    for shape in found:
        print(shape)
    if found:
        limit = f"over {MAX_LINES} lines or complexity {MAX_COMPLEXITY}"
        print(f"{len(found)} functions {limit}: split them", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
