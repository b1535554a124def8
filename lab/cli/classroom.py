"""`lab class report DIR`: many learners' results.json, summed up for the instructor; and the report files
`lab check --junit/--gradescope` writes (the builders are pure, in `lab.course.report`).

    lab check --all --junit report.xml --gradescope results.json    # each learner, e.g. on a CI runner
    lab class report reports/                                      # the instructor, over every learner's file
"""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from lab.cli.output import EXIT_USAGE, fail, print_json, show, warn

app = typer.Typer(name="class", help="For instructors: what a whole class's reports say.", no_args_is_help=True)

MAX_FILES = 10_000  # a class, not a file system: say so instead of reading forever
MAX_FILE_BYTES = 5_000_000


def check_report_paths(*paths: Path | None) -> None:
    """Before any check runs: a report that could not be written is a usage error now, not after 30 s."""
    for path in paths:
        if path is None:
            continue
        if path.is_dir():
            fail(f"cannot write the report {str(path)!r}: it is a directory", EXIT_USAGE)
        if not path.parent.is_dir():
            fail(f"cannot write the report {str(path)!r}: there is no directory {str(path.parent)!r}", EXIT_USAGE)


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a grader must never read half a report."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        fail(f"cannot write the report {str(path)!r}: {exc.strerror or exc}")


def write_reports(rows: list[dict[str, Any]], junit: Path | None, gradescope: Path | None) -> None:
    from lab.course.report import gradescope_results, junit_xml

    if junit is not None:
        stamp = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "")
        _write(junit, junit_xml(rows, timestamp=stamp, hostname=socket.gethostname()))
    if gradescope is not None:
        _write(gradescope, json.dumps(gradescope_results(rows), indent=2) + "\n")


@app.command()
def report(
    directory: Annotated[Path, typer.Argument(help="A folder of results.json files, one per learner (any names).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Which exercises the class passes, by how many, and the most common reasons for failing each."""
    from lab.course.report import class_summary, read_results

    if not directory.is_dir():
        fail(f"{str(directory)!r} is not a folder of results.json files", EXIT_USAGE)
    files = sorted(p for p in directory.rglob("*.json") if p.is_file())
    if not files:
        fail(f"{str(directory)!r} has no .json reports (write them with `lab check --all --gradescope FILE`)")
    if len(files) > MAX_FILES:
        fail(f"{str(directory)!r} has {len(files):,} .json files: at most {MAX_FILES:,}", EXIT_USAGE)
    learners = []
    skipped: list[tuple[str, str]] = []
    for path in files:
        name = str(path.relative_to(directory))
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ValueError(f"larger than {MAX_FILE_BYTES:,} bytes")
            learners.append(read_results(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
            skipped.append((name, str(exc.strerror if isinstance(exc, OSError) else exc).splitlines()[0]))
    for name, why in skipped[:5]:
        warn(f"skipped {name}: {why}")
    if len(skipped) > 5:
        warn(f"skipped {len(skipped) - 5} more files that are not results.json reports")
    if not learners:
        fail(f"none of the {len(files)} .json files in {str(directory)!r} is a results.json report")
    summary = class_summary(learners, skipped)
    if as_json:
        print_json(summary.to_json())
        return
    from lab.view.classroom import class_table

    show(class_table(summary))
