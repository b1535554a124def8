"""The `lab` command. Thin on purpose: parse arguments, call the lab's modules, print, set the exit code.

Heavy modules (FastAPI, uvicorn, the HTTP client, rich) are imported inside the commands, so that
`lab --help` starts fast.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer

app = typer.Typer(
    help="How FastAPI runs `def` and `async def` code, and why `async def` + a blocking call freezes everything.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_USAGE = 2
EXIT_FAILURE = 1
DEFAULT_URL_HELP = "Use a running lab server (e.g. http://127.0.0.1:8000) instead of starting one."


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """One line on stderr, a non-zero exit: how every mistake ends."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    with writable_stdout():
        sys.stdout.write(json.dumps(data, indent=2) + "\n")


def print_rich(renderable: Any) -> None:
    from rich.console import Console

    with writable_stdout():
        Console().print(renderable)


@contextmanager
def writable_stdout() -> Iterator[None]:
    """Output that cannot be written (a full disk, a closed pipe) ends in one line, not a traceback."""
    try:
        yield
        sys.stdout.flush()  # now, not at exit, where the error could no longer be reported well
    except OSError as exc:
        # Point fd 1 at /dev/null so that the interpreter's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        fail(f"cannot write the output: {exc.strerror or exc}")


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind. Anything but loopback exposes slow, open endpoints.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="uvicorn worker processes.")] = 1,
) -> None:
    """Run the lab's self-measuring inference server (Ctrl-C stops it)."""
    from lab.host import LoadError, load_app
    from lab.host import serve as serve_app
    from lab.server import ServerError, bind_socket, url_of

    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(
            f"warning: binding {host}: the lab's endpoints are deliberately slow and unauthenticated; "
            "anyone who can reach this address can tie the server up.",
            err=True,
        )
    try:
        sock = bind_socket(host, port)  # bound here, so the banner names the real port (also for --port 0)
        app_ = load_app("lab.app:app")
    except (ServerError, LoadError) as exc:
        fail(str(exc))
    url = url_of(sock)
    typer.echo(f"lab server on {url}  (stats: {url}/lab/stats, metrics: {url}/metrics, docs: {url}/docs)", err=True)
    serve_app(app_, "lab.app:app", sock, workers)


@app.command()
def burst(
    url: Annotated[str, typer.Argument(help="The URL to load, e.g. http://127.0.0.1:8000/sleep/async")],
    requests: Annotated[int, typer.Option("-n", "--requests", help="Requests to send (1-10000).")] = 10,
    concurrency: Annotated[
        int | None, typer.Option("-c", "--concurrency", help="At most this many at a time (default: all).")
    ] = None,
    method: Annotated[str, typer.Option("-m", "--method", help="HTTP method.")] = "GET",
    json_body: Annotated[str | None, typer.Option("--json-body", help="A JSON request body.")] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Per-request timeout in seconds (default: sized to the burst).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Fire a burst of concurrent requests at URL and show how they overlapped."""
    from lab.burst import BurstError, run_burst

    body: Any = None
    if json_body is not None:
        try:
            body = json.loads(json_body)
        except json.JSONDecodeError as exc:
            fail(f"--json-body is not valid JSON: {exc.msg} at character {exc.pos}", EXIT_USAGE)
    try:
        result = run_burst(
            url, requests=requests, concurrency=concurrency, method=method, json_body=body, timeout=timeout
        )
    except BurstError as exc:
        fail(str(exc), EXIT_USAGE if exc.usage else EXIT_FAILURE)
    if as_json:
        print_json(result.to_json())
    else:
        print_rich(result)
    if result.summary.ok < result.requests:
        raise typer.Exit(EXIT_FAILURE)


@app.command()
def compare(
    scenario: Annotated[
        str, typer.Option("-s", "--scenario", help="sleep, cpu, predict, pool or downstream.")
    ] = "sleep",
    requests: Annotated[int, typer.Option("-n", "--requests", help="Requests in each burst (2-1000).")] = 10,
    delay_ms: Annotated[int, typer.Option("--delay-ms", help="How long each request waits or computes.")] = 100,
    url: Annotated[str | None, typer.Option(help=DEFAULT_URL_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Fire the same burst at the sync, async and broken twins of a scenario and compare them side by side."""
    from lab.burst import BurstError, check_url, run
    from lab.compare import check_compare_arguments, compare, lab_server
    from lab.server import ServerError

    try:
        chosen = check_compare_arguments(scenario, requests, delay_ms)
        if url is not None:
            check_url(url)
    except (ValueError, BurstError) as exc:
        fail(str(exc), EXIT_USAGE)
    with interrupt_on_sigterm():
        try:
            with lab_server(url) as base_url:
                comparison = run(compare(base_url, chosen, requests, delay_ms))
        except (ServerError, BurstError) as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted" if url else "interrupted: the server this command started has been stopped", 130)
    if as_json:
        print_json(comparison.to_json())
    else:
        print_rich(comparison)


@contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt, so `with` blocks unwind and stop the servers they started."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


from lab.commands import demo, exercises  # noqa: E402 - after `app`, `fail` and `print_json` exist

for _commands in (exercises, demo):
    _commands.register(app)

if __name__ == "__main__":  # pragma: no cover
    app()
