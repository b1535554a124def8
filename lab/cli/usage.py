"""The conventions every `lab` command shares: `-h`, `--version`, one-line usage errors, choices, completion.

    app = typer.Typer(cls=LabGroup, context_settings=CONTEXT_SETTINGS, rich_markup_mode=None)

`LabGroup.main` runs the command itself (`standalone_mode=False`) so that a usage mistake Typer catches
(a missing argument, a value not among the choices) ends like every mistake the lab catches: one
`error: ...` line on stderr and exit 2 (README, "The commands"), never a box or a usage screen.

The choices are written here, not read from `lab.scenarios` or `lab.load.burst`: `lab --help` imports nothing
but the CLI (tests/test_layers.py); tests/cli/test_usage.py proves the copies equal the originals.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, Literal, NoReturn

import typer
from typer._click import exceptions as click_errors  # Typer vendors click and exports only BadParameter
from typer.core import TyperGroup

from lab.cli.output import EXIT_FAILURE, EXIT_USAGE, guard_streams

__all__ = [
    "CONTEXT_SETTINGS",
    "METHODS",
    "SCENARIOS",
    "LabGroup",
    "Method",
    "Scenario",
    "complete_exercise",
    "version",
]

Scenario = Literal["sleep", "cpu", "predict", "pool", "downstream", "numpy", "onnx"]  # = lab.scenarios.SCENARIOS
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]  # = lab.load.burst.METHODS
SCENARIOS: tuple[str, ...] = Scenario.__args__  # type: ignore[attr-defined]
METHODS: tuple[str, ...] = Method.__args__  # type: ignore[attr-defined]
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
DISTRIBUTION = "concurrency-lab"


class LabGroup(TyperGroup):
    """The root `lab` group: Typer's parsing, the lab's way of ending."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:  # a caller that handles the exceptions itself
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        guard_streams()
        try:
            code = super().main(args, prog_name or "lab", complete_var, standalone_mode=False, **extra)
        except click_errors.NoArgsIsHelpError as exc:  # bare `lab`: the help, as before
            typer.echo(exc.format_message(), err=True)
            sys.exit(EXIT_USAGE)
        except click_errors.UsageError as exc:
            _usage_error(exc)
        except click_errors.ClickException as exc:
            typer.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:  # Ctrl-D at a prompt
            typer.echo("error: aborted", err=True)
            sys.exit(EXIT_FAILURE)
        sys.exit(code if isinstance(code, int) else 0)


def _usage_error(exc: click_errors.UsageError) -> NoReturn:
    message = exc.format_message().strip().rstrip(".").replace("Value error, ", "")  # pydantic's prefix: noise
    message = message[:1].lower() + message[1:]  # "Missing argument ..." reads as the rest of "error: ..."
    where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
    typer.echo(f"error: {message}{where}", err=True)
    sys.exit(EXIT_USAGE)


def version(value: bool) -> None:
    """`lab --version`: the installed distribution's version."""
    if value:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as installed

        try:
            typer.echo(f"lab (concurrency-lab) {installed(DISTRIBUTION)}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            typer.echo("lab (concurrency-lab), not installed")
        raise typer.Exit()


def complete_exercise(incomplete: str) -> list[tuple[str, str]]:
    """Shell completion for exercise arguments: the catalog's ids, with their titles."""
    from lab.course.catalog import load_catalog
    from lab.errors import LabError

    try:
        catalog = load_catalog()
    except LabError:
        return []  # outside a project: nothing to offer, and never an error inside the shell
    return [(e.id, e.title) for e in catalog.exercises if e.id.startswith(incomplete) or str(e.number) == incomplete]
