"""How often a `lab check exercise-1` crosses from one lab module to another (issue 20's figure).

    uv run --locked python -m bench.crossings            # a scratch copy of the project, exercise-1 solved
    uv run --locked python -m bench.crossings --pairs    # ...and every module pair, most crossed first

A `sys.setprofile` trace (and `threading.setprofile`, for the checker's pool threads) of the whole command,
run in this process as `lab check exercise-1 --json` would be: a crossing is a call event whose frame's
module differs from its caller's, both `lab.*` (module bodies run by an import are not calls). It says how
many hands a check passes through, not how long it takes: the counts do not move on a busy machine, except
for the rounds of loops that wait on the servers (settle, read-outs), which the distinct counts leave out.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _module(frame: FrameType | None) -> str:
    return "" if frame is None else str(frame.f_globals.get("__name__", ""))


def _lab(name: str) -> bool:
    return name == "lab" or name.startswith("lab.")


def trace(argv: list[str]) -> Counter[tuple[str, str, str, str]]:
    """Every cross-module call between lab modules while `lab ARGV` runs: (caller, function, callee, function)."""
    crossings: Counter[tuple[str, str, str, str]] = Counter()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event != "call" or frame.f_code.co_name == "<module>":
            return
        callee, caller = _module(frame), _module(frame.f_back)
        if callee != caller and _lab(callee) and _lab(caller):
            assert frame.f_back is not None
            crossings[(caller, frame.f_back.f_code.co_name, callee, frame.f_code.co_name)] += 1

    sys.argv = ["lab", *argv]  # as the `lab` script would see them
    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        from lab.cli import app

        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            app(argv, prog_name="lab")
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]  # None turns it off, as for sys.setprofile
    return crossings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", action="store_true", help="also list every module pair, most crossed first")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for folder in ("exercises", "solutions"):
            shutil.copytree(ROOT / folder, root / folder)
        shutil.copy(next((root / "solutions").glob("exercise_01_*.py")), root / "exercises")
        os.environ["LAB_ROOT"] = str(root)
        crossings = trace(["check", "exercise-1", "--json"])
    pairs = Counter[tuple[str, str]]()
    for (caller, _, callee, _), n in crossings.items():
        pairs[(caller, callee)] += n
    print(f"cross-module calls (all):      {sum(crossings.values())}")
    print(f"distinct function-to-function: {len(crossings)}")
    print(f"distinct module-to-module:     {len(pairs)}")
    if options.pairs:
        for (caller, callee), n in pairs.most_common():
            print(f"{n:8d}  {caller} -> {callee}")


if __name__ == "__main__":
    main()
