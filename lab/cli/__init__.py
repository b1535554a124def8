"""The `lab` command: the root app, and one module per command group. Thin on purpose.

serve.py      `lab serve [APP]`: the lab's inference server, or any FastAPI app, with the lab's instruments
burst.py      `lab burst URL`: N concurrent requests at any HTTP server, and how they overlapped
load.py       `lab load URL`: steady open-loop traffic, latency from each scheduled send
compare.py    `lab compare`: the same burst at a scenario's sync, async and broken twins
scan.py       `lab scan APP`: every route of an app under a short burst, the blocking ones named; `lab lint`
demo.py       `lab demo`: the live race, in the terminal or a browser, live or replayed
exercises.py  the exercise commands: list, run, check, hint, solution, reset, watch
workspace.py  `lab init [DIR]`, `lab update`, and what a bare `lab` says inside a workspace
classroom.py  `lab class report DIR`: many learners' results summed up for the instructor
output.py     how every command ends and prints: one line on stderr, exit 2 (usage) or 1 (failure)
usage.py      the conventions every command shares: `-h`, `--version`, `LabGroup` (every `LabError` one line), choices

Each module in `GROUPS` (`lab/cli/<name>.py`) owns a `typer.Typer()` named `app`, parses its arguments and
makes one call into the layer that does the work (`lab.course.course.Course` for the exercises); adding a
command group is adding its name to `GROUPS`. Each imports only typer and `lab.cli.output` /
`lab.cli.usage` at the top; heavy modules (FastAPI, uvicorn, the HTTP client, rich) are imported inside
the commands, so that `lab --help` starts fast. Nothing imports back into this module. `lab.cli.usage`
holds the conventions: `-h`, `--version`, and `LabGroup`, where every `LabError` becomes one line.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Annotated

import typer

from lab.cli.usage import CONTEXT_SETTINGS, LabGroup, version

__all__ = ["app", "main"]

app = typer.Typer(
    name="lab",
    cls=LabGroup,
    help="How FastAPI runs `def` and `async def` code, and why `async def` + a blocking call freezes everything.",
    # A bare `lab` runs the callback: inside a workspace, where the learner is; outside, the help (lab.cli.workspace).
    invoke_without_command=True,
    context_settings=CONTEXT_SETTINGS,
    # Plain help: no rich import, no box around errors (LabGroup makes them one line); also faster.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    # A plain flag (bool, not `bool | None`): Typer coerces every other annotation through pydantic,
    # which every command would then import (~0.1 s) just to read a root option nobody gave.
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=version, is_eager=True, help="Show the lab's version and exit."),
    ] = False,
) -> None:
    """How FastAPI runs `def` and `async def` code, and why `async def` + a blocking call freezes everything."""
    if ctx.invoked_subcommand is None:
        from lab.cli.workspace import where

        where(ctx)


# The modules of lab/cli/ with commands.
GROUPS = ("serve", "burst", "load", "compare", "scan", "exercises", "workspace", "demo", "classroom")

for group in GROUPS:
    app.add_typer(import_module(f"lab.cli.{group}").app)

SERVES_CHECKS = ("check", "run", "watch", "scan")  # the commands that start servers of a user's code


def start_warm_host_for(argv: list[str]) -> None:
    """`lab check`, `lab run`, `lab watch`, `lab scan`: start the warm server host before anything else.

    The one place the host is started ahead of need, called by `main` before typer even parses the
    arguments (its pydantic-based adapters, then rich and the checker, cost this process ~0.3-0.5 s), so
    that the host imports FastAPI beside those imports rather than after them (lab.launch.warm). An
    `app([...])` call from Python, or `check_exercise` itself, skips this: the host then starts with the
    first server.
    """
    if len(argv) > 1 and argv[1] in SERVES_CHECKS and "--help" not in argv:
        from lab.launch.warm import prestart

        prestart()


def main() -> None:
    """The `lab` command and `python -m lab`: the warm host first where a command serves checks, then typer."""
    start_warm_host_for(sys.argv)
    app(prog_name="lab")  # lab.cli.usage.LabGroup: one-line errors, the same exit codes
