"""The exercise views (lab.view.course), rendered to plain text at a fixed width."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from lab.course.catalog import load_catalog
from lab.view.course import fit_pipe, hint_text

FIXTURE_ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "exercises"


def render(renderable: object, width: int) -> str:
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_a_wrapped_hint_keeps_its_indent() -> None:
    exercise = load_catalog(FIXTURE_ROOT).exercises[0]
    lines = render(hint_text(exercise, 2), width=45).splitlines()  # not the last hint: no closing sentence
    indent = lines[1].index(":") + 2  # where a hint's own text starts, after "  hint 1/3: "
    continuations = [line for line in lines[1:] if line.strip() and not line.startswith("  hint ")]
    assert continuations, "some hint of the fixture must wrap at 45 columns"
    for line in continuations:
        assert line[:indent].strip() == "" and line[indent] != " ", lines


def test_fit_pipe_widens_only_consoles_that_are_not_terminals() -> None:
    wide = "x" * 150
    piped = Console(width=80, force_terminal=False)
    fit_pipe(piped, wide)
    assert piped.width >= 150
    terminal = Console(width=80, force_terminal=True)
    fit_pipe(terminal, wide)
    assert terminal.width == 80
