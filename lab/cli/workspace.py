"""`lab init [DIR]`, `lab update`, and what a bare `lab` says inside a workspace.

    lab init my-lab      # a learner's workspace: exercises/, .lab/, a README with the next command
    lab update           # after upgrading the lab: new exercises added, untouched ones refreshed, edits kept
    lab                  # inside a workspace: where the learner is and the next command; outside: the help

The work is `lab.course.workspace` (init and update) and `lab.course.course.Course` (where the learner is).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from lab.course.course import Course

app = typer.Typer()


@app.command()
def init(
    directory: Annotated[
        str | None, typer.Argument(help="Where to make the workspace (default: the current folder).")
    ] = None,
) -> None:
    """Make a folder a lab workspace: the exercises, your progress in .lab/, a README with the next command."""
    from lab.course.workspace import init_workspace

    result = init_workspace(Path(directory or "."))
    if result.already:
        typer.echo(f"{result.root} is already a lab workspace: nothing changed (`lab` says where you are)")
        return
    typer.echo(f"made a lab workspace in {result.root}: {', '.join(result.created[-2:])} and exercises/")
    here = "" if directory is None else f"cd {directory} && "
    typer.echo(f"next: {here}lab check exercise-1   (after reading exercises/{_first_file(result.root)})")


def _first_file(root: Path) -> str:
    return min(p.name for p in (root / "exercises").glob("*.py"))


@app.command()
def update() -> None:
    """After upgrading the lab: add new exercises, refresh the ones you never touched, keep your edits."""
    from lab.course.course import find_root
    from lab.course.workspace import update_workspace

    result = update_workspace(find_root())
    for label, names in (("added", result.added), ("refreshed", result.refreshed)):
        for name in names:
            typer.echo(f"{label:9}  {name}")
    for name in result.kept:
        typer.echo(f"kept       {name}  (you edited it; `lab reset` restores the new original, with a backup)")
    changed = len(result.added) + len(result.refreshed)
    typer.echo(
        f"{changed} file(s) updated, {len(result.kept)} of yours kept, {result.unchanged} already current;"
        " your progress is unchanged"
    )


def where(ctx: typer.Context) -> None:
    """A bare `lab`: inside a workspace, where the learner is; outside, the help (on stderr, exit 2, as before)."""
    from lab.course.course import Course, workspace_root

    root = workspace_root()
    if root is None:
        typer.echo(ctx.get_help(), err=True)
        raise typer.Exit(2)
    from lab.cli.output import warn

    typer.echo(status_text(Course.open(root, warn=warn)))


def status_text(course: Course) -> str:
    """Where the learner is: the workspace, what passes, the current exercise and the command to run next."""
    exercises = course.catalog.exercises
    passing = [e.id for e in exercises if course.passed(e)]
    lines = [f"lab workspace {course.catalog.root}: {len(passing)} of {len(exercises)} pass"]
    if passing:
        lines[0] += f" ({', '.join(passing)})"
    from lab.course.progress import current_exercise

    chosen = current_exercise(course.catalog, course.progress)
    if chosen is None:
        lines.append("every exercise passes: well done. `lab list` shows them all")
        return "\n".join(lines)
    lines.append(f"you are on {chosen.id}: {chosen.title}  (exercises/{chosen.file})")
    lines.append(f"next: edit it, then `lab check` (or `lab watch`); `lab hint` when stuck, `lab run {chosen.number}`")
    return "\n".join(lines)
