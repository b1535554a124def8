"""The report files: what `lab check --junit/--gradescope` writes, and what `lab class report DIR` reads back.

    check_writable(junit, gradescope)          # before any check runs: a usage error now, not after 30 s
    write_reports(rows, junit, gradescope)     # each file whole or not at all
    summary = read_class(directory, warn)      # every learner's results.json under `directory`

The builders and the summary are pure, in `lab.course.report`; this is their file side. Every problem is a
`LabError` naming the file (`usage=True` where the command line named something that cannot work); a file
that is not a report is skipped and passed to `warn`, five by name at most.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.errors import LabError

if TYPE_CHECKING:
    from lab.course.report import ClassSummary

__all__ = ["MAX_FILES", "MAX_FILE_BYTES", "check_writable", "read_class", "write_reports"]

MAX_FILES = 10_000  # a class, not a file system: say so instead of reading forever
MAX_FILE_BYTES = 5_000_000
NAMED_SKIPS = 5


def check_writable(*paths: Path | None) -> None:
    """Raise a usage error for a report path that could not be written (a directory, a missing folder)."""
    for path in paths:
        if path is None:
            continue
        if path.is_dir():
            raise LabError(f"cannot write the report {str(path)!r}: it is a directory", usage=True)
        if not path.parent.is_dir():
            raise LabError(
                f"cannot write the report {str(path)!r}: there is no directory {str(path.parent)!r}", usage=True
            )


def write_reports(rows: list[dict[str, Any]], junit: Path | None, gradescope: Path | None) -> None:
    """The JUnit XML and Gradescope files asked for, from `lab check`'s JSON rows."""
    from lab.course.report import gradescope_results, junit_xml

    if junit is not None:
        stamp = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "")
        _write(junit, junit_xml(rows, timestamp=stamp, hostname=socket.gethostname()))
    if gradescope is not None:
        _write(gradescope, json.dumps(gradescope_results(rows), indent=2) + "\n")


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a grader must never read half a report."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise LabError(f"cannot write the report {str(path)!r}: {exc.strerror or exc}") from None


def read_class(directory: Path, warn: Callable[[str], None]) -> ClassSummary:
    """Every learner's results.json under `directory` (any names, any depth), summed up."""
    from lab.course.report import class_summary, read_results

    files = _report_files(directory)
    learners = []
    skipped: list[tuple[str, str]] = []
    for path in files:
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ValueError(f"larger than {MAX_FILE_BYTES:,} bytes")
            learners.append(read_results(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
            why = str(exc.strerror if isinstance(exc, OSError) else exc).splitlines()[0]
            skipped.append((str(path.relative_to(directory)), why))
    for name, why in skipped[:NAMED_SKIPS]:
        warn(f"skipped {name}: {why}")
    if len(skipped) > NAMED_SKIPS:
        warn(f"skipped {len(skipped) - NAMED_SKIPS} more files that are not results.json reports")
    if not learners:
        raise LabError(f"none of the {len(files)} .json files in {str(directory)!r} is a results.json report")
    return class_summary(learners, skipped)


def _report_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise LabError(f"{str(directory)!r} is not a folder of results.json files", usage=True)
    files = sorted(p for p in directory.rglob("*.json") if p.is_file())
    if not files:
        raise LabError(f"{str(directory)!r} has no .json reports (write them with `lab check --all --gradescope FILE`)")
    if len(files) > MAX_FILES:
        raise LabError(f"{str(directory)!r} has {len(files):,} .json files: at most {MAX_FILES:,}", usage=True)
    return files
