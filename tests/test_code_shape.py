"""No function in lab/ over 60 lines or radon's cyclomatic complexity 15 (`make lint` runs the same check)."""

from __future__ import annotations

from pathlib import Path

from tools.code_shape import MAX_COMPLEXITY, MAX_LINES, offenders, shapes


def test_no_function_is_over_the_limit() -> None:
    assert [str(shape) for shape in offenders()] == []


def _branches(indent: str) -> str:
    """MAX_COMPLEXITY `if`s: one more path than the limit allows."""
    return "".join(f"{indent}if x == {i}:\n{indent}    return {i}\n" for i in range(MAX_COMPLEXITY))


def test_the_check_sees_methods_closures_and_long_functions(tmp_path: Path) -> None:
    long_body = "".join(f"    y{i} = {i}\n" for i in range(MAX_LINES))
    source = (
        f"class C:\n    def branchy(self, x):\n{_branches(' ' * 8)}        return -1\n\n\n"
        f"def long():\n{long_body}    return 0\n\n\n"
        f"def outer():\n    def inner(x):\n{_branches(' ' * 8)}        return -1\n\n    return inner\n"
    )
    (tmp_path / "planted.py").write_text(source, encoding="utf-8")
    assert {shape.name for shape in shapes(tmp_path)} == {"C.branchy", "long", "outer", "outer.inner"}
    assert {shape.name for shape in offenders(tmp_path)} == {"C.branchy", "long", "outer.inner"}
