"""The conventions a user expects of a command line (lab.cli.usage): -h, --version, completion, choices,
one-line usage errors. The real `lab` in a subprocess where the shell's view matters."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from lab.cli import app
from lab.cli.usage import METHODS, SCENARIOS
from lab.load.burst import METHODS as BURST_METHODS
from lab.scenarios import SCENARIOS as SCENARIO_TABLE

runner = CliRunner()


def _lab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def test_version() -> None:
    done = _lab("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"lab (concurrency-lab) {version('concurrency-lab')}"


@pytest.mark.parametrize("command", [[], ["check"], ["compare"]])
def test_dash_h_is_help(command: list[str]) -> None:
    short, long = runner.invoke(app, [*command, "-h"]), runner.invoke(app, [*command, "--help"])
    assert short.exit_code == long.exit_code == 0
    assert short.stdout == long.stdout and "Usage: lab" in short.stdout


def test_choices_are_listed_in_help_and_are_the_labs_own() -> None:
    # lab.cli.usage keeps copies (`lab --help` must not import lab.scenarios): they must not drift.
    assert set(SCENARIOS) == set(SCENARIO_TABLE)
    assert METHODS == BURST_METHODS
    assert "<sleep|cpu|predict|pool|downstream|numpy|onnx>" in runner.invoke(app, ["compare", "--help"]).stdout
    assert "<get|post|put|patch|delete|head|options>" in runner.invoke(app, ["burst", "--help"]).stdout  # any case
    assert "sleep|cpu|predict|pool|downstream|numpy|onnx" in runner.invoke(app, ["demo", "--help"]).stdout


def test_method_choices_ignore_case(lab_url: str) -> None:
    result = runner.invoke(app, ["burst", f"{lab_url}/sleep/async?delay_ms=1", "-n", "2", "-m", "get", "--json"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("lab check exer", {"exercise-1", "exercise-3", "exercise-14"}),
        (
            "lab reset exercise-1",
            {f"exercise-{n}" for n in (1, *range(10, 17))},
        ),
        ("lab compare -s p", {"predict", "pool"}),
        ("lab demo d", {"downstream"}),
        ("lab burst http://x -m P", {"POST", "PUT", "PATCH"}),
    ],
)
def test_shell_completion_offers_ids_and_choices(words: str, expected: set[str]) -> None:
    """What bash asks for at each <TAB> (the protocol `lab --install-completion` sets up)."""
    done = _lab(env={"_LAB_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)})
    assert done.returncode == 0, done.stderr
    offered = set(done.stdout.split())
    assert expected <= offered, offered
    assert offered <= expected | {f"exercise-{n}" for n in range(1, 17)}


def test_completion_can_be_installed() -> None:
    done = _lab("--show-completion", "bash")
    assert done.returncode == 0 and "_LAB_COMPLETE=complete_bash" in done.stdout


def test_help_imports_no_rich() -> None:
    """Plain help: `lab --help` neither imports nor pays for rich (it did, ~0.1 s)."""
    probe = (
        "import sys, contextlib, io\nfrom lab.cli import app\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n    app(['--help'])\n"
        "print(sorted(m for m in sys.modules if m == 'rich' or m.startswith('rich.')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["class", "report"], "missing argument 'directory'"),  # `lab reset` alone resets the current exercise
        (["burst"], "missing argument 'url'"),
        (["compare", "-n"], "option '-n' requires an argument"),
        (["frobnicate"], "no such command 'frobnicate'"),
    ],
)
def test_typers_own_usage_errors_are_one_line(args: list[str], words: str) -> None:
    done = _lab(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert words in lines[0].lower()


@pytest.mark.parametrize(("command", "name"), [(["hint"], "exercise"), (["reset"], "exercise"), (["list"], "as_json")])
@pytest.mark.parametrize("value", ["3", " exercise-3 ", "", True, False, None])
def test_strings_and_flags_passed_through_come_out_as_typer_would_make_them(
    command: list[str], name: str, value: object
) -> None:
    """lab.cli.usage gives `str` and `bool` parameters a step that skips pydantic: the same values result."""
    import typer.main
    from typer._coercion import build_runtime_param

    from lab.cli.usage import _pass_plain_values_through

    root = typer.main.get_command(app)
    ctx = root.make_context("lab", ["--help"], resilient_parsing=True)
    sub = root.commands[command[0]]  # type: ignore[attr-defined]
    _pass_plain_values_through(sub, ctx)
    param = next(p for p in sub.params if p.name == name)
    given = param.get_runtime_param()
    assert type(given).__name__ == "AsGiven"
    if isinstance(value, str) and name == "as_json":
        value = value == "3"  # a flag's value is a bool
    typer_made = build_runtime_param(param.type_descriptor).coerce(value, param=param, ctx=ctx)
    assert given.coerce(value, param=param, ctx=ctx) == typer_made


def test_a_lab_error_from_any_command_is_one_line_caught_once(capfd: pytest.CaptureFixture[str]) -> None:
    """`LabGroup.main` is where a LabError becomes `error: ...` and exit 2 (usage) or 1: a command needs no
    `try` of its own, and a new command group gets the same ending for free."""
    import typer

    from lab.cli.usage import CONTEXT_SETTINGS, LabGroup
    from lab.errors import LabError, UnknownExercise

    probe = typer.Typer(cls=LabGroup, context_settings=CONTEXT_SETTINGS, rich_markup_mode=None)

    @probe.command()
    def usage() -> None:
        raise UnknownExercise("no exercise 'x': valid ids are exercise-1")

    @probe.command()
    def failure() -> None:
        raise LabError("nothing listening on http://127.0.0.1:9")

    for command, code, line in [
        ("usage", 2, "error: no exercise 'x': valid ids are exercise-1"),
        ("failure", 1, "error: nothing listening on http://127.0.0.1:9"),
    ]:
        with pytest.raises(SystemExit) as ended:
            probe([command])
        out, err = capfd.readouterr()
        assert (ended.value.code, err.splitlines(), out) == (code, [line], "")


def test_no_command_catches_lab_errors_itself() -> None:
    """Errors are caught once, in `LabGroup.main`: no `reporting()` or `except LabError` in the commands.
    (`lab.cli.demo` is still being thinned: its orchestration moves to `lab.demo.session`.)"""
    import ast
    from pathlib import Path

    import lab.cli

    folder = Path(lab.cli.__file__).parent
    catches = []
    for path in sorted(folder.glob("*.py")):
        if path.name == "usage.py":  # the catch itself
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Name) and node.id in ("reporting", "LabError"):
                catches.append(f"{path.name}:{node.lineno}: {node.id}")
    assert catches == []
