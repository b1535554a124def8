"""Start-up: what a command or a server costs before it does anything, beside what it must cost at least.

- `import lab.server.app` within 1.2x of `import fastapi` (the served app imports only what serving needs).
- `lab --help` <= 0.2 s; `lab list`, `lab hint`, `lab reset` <= 0.3 s; floor: `import typer`, the CLI's
  framework, which every command must import (a bare `python -c pass` is printed too).

Medians of alternating rounds, each a fresh interpreter (bytecode compiled at install, as `make install` does).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from bench.report import Figure, alternating_medians, python, record, seconds, timed_run

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 15  # 7 rounds once put an app of one route below `import fastapi` itself: too few to compare
IMPORT_RATIO = 1.2
HELP_S = 0.2
READING_S = 0.3


ONE_ROUTE = """
from fastapi import FastAPI
from pydantic import BaseModel
class Out(BaseModel):
    status: str
app = FastAPI()
@app.get("/health")
async def health() -> Out:
    return Out(status="ok")
"""


def _time(args: list[str], env: dict[str, str] | None = None) -> float:
    wall, code, _ = timed_run(args, env)
    if code != 0:
        raise RuntimeError(f"{' '.join(args)} exited {code}")
    return wall


def main() -> float:
    """Print the start-up figures; return the median `import fastapi` time (the floor of later figures)."""
    print(f"\n== start-up: medians of {ROUNDS} alternating rounds ==")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for folder in ("exercises", "solutions"):
            shutil.copytree(ROOT / folder, root / folder)
        env = {**os.environ, "LAB_ROOT": str(root)}
        lab = python("-m", "lab")
        medians = alternating_medians(
            {
                "python": lambda: _time(python("-c", "pass")),
                "typer": lambda: _time(python("-c", "import typer")),
                "fastapi": lambda: _time(python("-c", "import fastapi")),
                "app": lambda: _time(python("-c", "import lab.server.app")),
                "one_route": lambda: _time(python("-c", ONE_ROUTE)),
                "help": lambda: _time([*lab, "--help"]),
                "list": lambda: _time([*lab, "list"], env),
                "hint": lambda: _time([*lab, "hint", "1"], env),
                "reset": lambda: _time([*lab, "reset", "1"], env),
            },
            ROUNDS,
        )
    bare, typer, fastapi = medians["python"], medians["typer"], medians["fastapi"]
    print(f"(a bare interpreter: {seconds(bare)}; `import typer`: {seconds(typer)})")
    ratio = medians["app"] / fastapi
    # What any served app pays beyond the import: FastAPI's first route imports pydantic.v1 (to tell v1
    # models apart) and builds a validator per model. The lab's app has dozens of routes and /metrics.
    print(
        f"(an app of one route: {seconds(medians['one_route'])}, x{medians['one_route'] / fastapi:.2f} import fastapi)"
    )
    record(
        Figure(
            "`import lab.server.app`",
            seconds(medians["app"]),
            f"<= {IMPORT_RATIO}x import fastapi",
            ratio <= IMPORT_RATIO,
            f"import fastapi {seconds(fastapi)}",
            ratio,
        )
    )
    for name, target in (("help", HELP_S), ("list", READING_S), ("hint", READING_S), ("reset", READING_S)):
        command = "lab --help" if name == "help" else f"lab {name}"
        measured = medians[name]
        record(
            Figure(
                f"`{command}`",
                seconds(measured),
                f"<= {seconds(target)}",
                measured <= target,
                f"import typer {seconds(typer)}",
                measured / typer,
            )
        )
    return fastapi


if __name__ == "__main__":
    main()
