"""The conventions every `lab` command shares: `-h`, `--version`, one-line usage errors, choices, completion.

    app = typer.Typer(cls=LabGroup, context_settings=CONTEXT_SETTINGS, rich_markup_mode=None)

`LabGroup.main` runs the command itself (`standalone_mode=False`) and is where every command ends: a
`LabError` raised anywhere below a command is caught here, once, and becomes one `error: ...` line on
stderr with exit 2 (`usage=True`) or 1; a usage mistake Typer catches (a missing argument, a value not
among the choices) ends the same way, exit 2 (README, "The commands"), never a box, a usage screen or a
traceback. Commands therefore just call the layer that does the work and let its errors rise.

The choices are written here, not read from `lab.scenarios` or `lab.load.burst`: `lab --help` imports nothing
but the CLI (tests/test_layers.py); tests/cli/test_usage.py proves the copies equal the originals.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, NoReturn

import typer
from typer._click import exceptions as click_errors  # Typer vendors click and exports only BadParameter
from typer.core import TyperGroup

from lab.cli.output import EXIT_FAILURE, EXIT_USAGE, guard_streams
from lab.errors import LabError

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
        except LabError as exc:  # raised by the layer a command called: the one line, the one place
            typer.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USAGE if exc.usage else EXIT_FAILURE)
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

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        _pass_plain_values_through(self, ctx, deep=False)  # before the root's own options are coerced
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None:  # only the command about to run (and its own subcommands): `--help` pays nothing
            _pass_plain_values_through(command, ctx)
        return name, command, rest


def _pass_plain_values_through(command: Any, ctx: Any, *, deep: bool = True) -> None:
    """Strings and flags reach the commands as Typer would give them, without importing pydantic.

    Typer (0.26+) coerces every value through a pydantic `TypeAdapter`, built on first use (flags
    that are already a bool excepted, but not `--help` or `--install-completion` left unset), so
    `lab list`, `lab hint 3` and `lab reset 3` imported pydantic (~0.1 s on a 2-core machine) to turn
    the string "3" into the string "3". A `str` read from the command line, or a `bool` flag, needs no
    coercion: those parameters get a runtime step that returns such a value as it is and hands
    anything else to Typer's own. So does an optional path left unset (`lab check`'s `--junit`): None is
    None; a path given goes to Typer's own. Choices, numbers and parsers keep Typer's. If Typer's private
    names change, this does nothing and Typer coerces as before (tests/test_startup.py would say so).
    """
    try:
        from typer._coercion import RuntimeParam, build_runtime_param
        from typer.core import _TyperParameter
    except ImportError:
        return

    class AsGiven(RuntimeParam):
        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if isinstance(value, _PLAIN.get(self.annotation, ())):
                return value
            return build_runtime_param(param.type_descriptor)._coerce_value(value, param=param, ctx=ctx)

    todo = [command]
    while todo:
        current = todo.pop()
        if deep:
            todo.extend(getattr(current, "commands", {}).values())
        for param in _params(current, command, ctx):
            if isinstance(param, _TyperParameter) and _needs_no_coercion(param):
                descriptor = param.type_descriptor
                param._runtime_param = AsGiven(
                    parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
                )


_PLAIN: dict[Any, type] = {str: str, str | None: str, bool: bool, bool | None: bool}
_UNSET_ONLY = {Path, Path | None}  # None reaches the command without a coercion step (RuntimeParam.coerce)


def _params(current: Any, command: Any, ctx: Any) -> list[Any]:
    """The parameters of `current`, with its `--help`.

    `--help` is made on first use, from the names of the context (the root's here), which every
    subcommand inherits unless it names its own.
    """
    params = list(current.params)
    if current is command or "help_option_names" not in current.context_settings:
        params.append(current.get_help_option(ctx))
    return params


def _needs_no_coercion(param: Any) -> bool:
    """A plain string or flag (or a path left unset) that Typer has not yet given a runtime step."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or getattr(param, "_runtime_param", False) is not None:
        return False
    annotation = descriptor.annotation
    return (
        (annotation in _PLAIN or annotation in _UNSET_ONLY)
        and descriptor.parameter_info.parser is None
        and not (descriptor.is_choice or descriptor.is_file)
        and (annotation in _UNSET_ONLY or not descriptor.is_path)
    )


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
    from lab.course.course import find_root

    try:
        catalog = load_catalog(find_root())  # the catalog alone: completing a word saves no state
    except LabError:
        return []  # outside a project: nothing to offer, and never an error inside the shell
    return [(e.id, e.title) for e in catalog.exercises if e.id.startswith(incomplete) or str(e.number) == incomplete]
