"""`lab serve [APP]`: the lab's inference server, or any FastAPI app, with the lab's instruments.

Ctrl-C, SIGTERM and SIGHUP stop it cleanly, with its process-pool workers; even a SIGKILL takes the
workers with it (`lab.contain`).
"""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer

from lab.cli.output import warn

app = typer.Typer()

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@app.command()
def serve(
    target: Annotated[
        str,
        typer.Argument(
            metavar="[APP]",
            help="What to serve: an import string as uvicorn takes it (`main:app`, found from the current "
            "directory) or a .py file defining `app`. Default: the lab's own inference server.",
            show_default=False,
        ),
    ] = "lab.server.app:app",
    host: Annotated[
        str, typer.Option(help="Address to bind. Anything but loopback exposes slow, open endpoints.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="uvicorn worker processes.")] = 1,
) -> None:
    """Serve the lab's inference server, or your own FastAPI app, measuring itself (Ctrl-C stops it).

    Every app gets the lab's instruments: `/lab/stats` (requests in a handler, loop lag, the line that
    blocks the event loop), `/metrics`, and the `X-Lab-*` headers that `lab burst` reads.
    """
    from lab.launch.process import LAB_APP, bind_socket, url_of
    from lab.server.host import load_app
    from lab.server.host import serve as serve_app

    if host not in LOOPBACK:
        warn(
            f"binding {host}: the lab's endpoints are deliberately slow and unauthenticated; "
            "anyone who can reach this address can tie the server up."
        )
    sock = bind_socket(host, port)  # bound here, so the banner names the real port (also for --port 0)
    app_ = load_app(target)
    url = url_of(sock)
    what = "lab server" if target == LAB_APP else f"{target}, measured by the lab,"
    # Two short lines: one long line wrapped mid-URL at 120 columns.
    typer.echo(f"{what} on {url}  (Ctrl-C stops it)", err=True)
    typer.echo(f"  stats: {url}/lab/stats  metrics: {url}/metrics  docs: {url}/docs", err=True)
    code = 0
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it handled, once stopped
        code = serve_app(app_, target, sock, workers)
    typer.echo("lab server stopped", err=True)
    if code:  # a worker could not load what this process loaded (it printed why): say so in the exit code
        raise typer.Exit(code)
