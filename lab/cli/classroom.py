"""`lab class report DIR`: many learners' results.json, summed up for the instructor (the files are read by
`lab.course.report_files`, the summary is built by the pure `lab.course.report`).

    lab check --all --junit report.xml --gradescope results.json    # each learner, e.g. on a CI runner
    lab class report reports/                                      # the instructor, over every learner's file
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lab.cli.output import print_json, show, warn

app = typer.Typer(name="class", help="For instructors: what a whole class's reports say.", no_args_is_help=True)


@app.command()
def report(
    directory: Annotated[Path, typer.Argument(help="A folder of results.json files, one per learner (any names).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Which exercises the class passes, by how many, and the most common reasons for failing each."""
    from lab.course.report_files import read_class

    summary = read_class(directory, warn)
    if as_json:
        print_json(summary.to_json())
        return
    from lab.view.classroom import class_table

    show(class_table(summary))
