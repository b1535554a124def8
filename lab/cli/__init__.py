"""The `lab` command: the root app, and one module per command group. Thin on purpose.

Each module (`serve`, `burst`, `compare`, `demo`, `exercises`, `classroom`) owns a `typer.Typer()` and imports
only typer and `lab.cli.output` at the top; heavy modules (FastAPI, uvicorn, the HTTP client,
rich) are imported inside the commands, so that `lab --help` starts fast. Nothing imports back
into this module.
"""

from __future__ import annotations

import typer

from lab.cli import burst, classroom, compare, demo, exercises, serve

__all__ = ["app"]

app = typer.Typer(
    help="How FastAPI runs `def` and `async def` code, and why `async def` + a blocking call freezes everything.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for group in (serve, burst, compare, exercises, demo, classroom):
    app.add_typer(group.app)
