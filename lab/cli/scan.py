"""`lab scan APP`: every route of your FastAPI app under a short burst, the ones that block its event loop named
with their line, fix and lesson; `lab lint PATH...`: the exercises' lint on any files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lab.cli.output import EXIT_FAILURE, print_json, show

if TYPE_CHECKING:
    from lab.load.scan import ScanReport

app = typer.Typer()


@app.command()
def scan(
    target: Annotated[
        str,
        typer.Argument(
            metavar="APP",
            help="Your app as uvicorn takes it (`main:app`, found from the current directory) or a .py file "
            "defining `app`.",
        ),
    ],
    methods: Annotated[
        str,
        typer.Option(
            help="Methods to send, comma-separated. GET and HEAD by default: others (POST, PUT, PATCH, DELETE) may "
            "change data, so add them only for an app whose data you may change.",
        ),
    ] = "GET,HEAD",
    only: Annotated[list[str] | None, typer.Option(help="Scan only paths matching this pattern (repeatable).")] = None,
    skip: Annotated[list[str] | None, typer.Option(help="Leave out paths matching this pattern (repeatable).")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(help="name=value for a path, query or header parameter, over the schema's (repeatable)."),
    ] = None,
    body: Annotated[
        list[str] | None,
        typer.Option(help='A JSON body for one route: --body \'POST /items {"name": "x"}\' (repeatable).'),
    ] = None,
    header: Annotated[
        list[str] | None, typer.Option("-H", "--header", help="A header on every request, 'Name: value' (repeatable).")
    ] = None,
    requests: Annotated[int, typer.Option("-n", "--requests", help="Requests at once per route (2-100).")] = 10,
    max_lag_ms: Annotated[
        float, typer.Option("--max-lag-ms", help="Exit 1 when a route held the event loop longer than this.")
    ] = 100.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write JUnit XML here, a test case per route.")
    ] = None,
) -> None:
    """Serve APP with the lab's instruments and burst each route of its OpenAPI schema, one after another.

    Values for path parameters and bodies come from --param/--body, else the schema's examples, else a small
    valid instance drawn from the schema. Routes answering 401/403/404/422 are listed as not scanned.
    Exit 1 when a route held the event loop past --max-lag-ms, 2 for a usage mistake.
    """
    from lab.load.scan import run_scan, scan_options

    lists = (only or [], skip or [], param or [], body or [], header or [])
    report = run_scan(scan_options(target, methods, *lists, requests=requests, max_lag_ms=max_lag_ms))
    _emit(report, as_json, junit)
    if report.blocking:
        raise typer.Exit(EXIT_FAILURE)


def _emit(report: ScanReport, as_json: bool, junit: Path | None) -> None:
    """The report with the lint of each route's code beside it: as tables or JSON, and as JUnit XML if asked."""
    from lab.course.scan_lint import route_lint
    from lab.load.scan_report import scan_json, write_junit

    lint = route_lint(report)
    if junit is not None:
        write_junit(junit, report, lint)
    if as_json:
        print_json(scan_json(report, lint))
    else:
        from lab.view.scan import scan_report

        show(scan_report(report, lint))


@app.command()
def lint(
    paths: Annotated[list[Path], typer.Argument(help="Python files or folders to lint.", show_default=False)],
) -> None:
    """The exercises' lint on any files: ruff's ASYNC rules and the lab's own (exit 1 when it finds something)."""
    from lab.course.scan_lint import lint_paths
    from lab.view.scan import lint_report

    results = lint_paths(paths)
    show(lint_report(results))
    if any(findings for _, findings in results):
        raise typer.Exit(EXIT_FAILURE)
