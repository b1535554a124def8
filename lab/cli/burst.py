"""`lab burst URL`: fire N concurrent requests at any HTTP server and show how they overlapped."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from lab.cli.output import EXIT_FAILURE, EXIT_USAGE, fail, print_json, show
from lab.cli.usage import Method

app = typer.Typer()


@app.command()
def burst(
    url: Annotated[str, typer.Argument(help="The URL to load, e.g. http://127.0.0.1:8000/sleep/async")],
    requests: Annotated[int, typer.Option("-n", "--requests", help="Requests to send (1-10000).")] = 10,
    concurrency: Annotated[
        int | None, typer.Option("-c", "--concurrency", help="At most this many at a time (default: all).")
    ] = None,
    method: Annotated[Method, typer.Option("-m", "--method", help="HTTP method.", case_sensitive=False)] = "GET",
    json_body: Annotated[str | None, typer.Option("--json-body", help="A JSON request body.")] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Per-request timeout in seconds (default: sized to the burst).")
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option("-H", "--header", help="A request header, 'Name: value' (repeatable), e.g. for auth."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Fire a burst of concurrent requests at URL and show how they overlapped."""
    from lab.load.burst import parse_headers, run_burst

    headers = parse_headers(header or [])

    body: Any = None
    if json_body is not None:
        try:
            body = json.loads(json_body)
        except json.JSONDecodeError as exc:
            fail(f"--json-body is not valid JSON: {exc.msg} at character {exc.pos}", EXIT_USAGE)
    result = run_burst(
        url,
        requests=requests,
        concurrency=concurrency,
        method=method,
        json_body=body,
        timeout=timeout,
        headers=headers,
    )
    if as_json:
        print_json(result.to_json())
    else:
        show(result)
    if result.summary.ok < result.requests:
        raise typer.Exit(EXIT_FAILURE)
