"""`lab serve`: the lab's self-measuring inference server on 127.0.0.1 (Ctrl-C stops it).

Ctrl-C, SIGTERM and SIGHUP stop it cleanly, with its process-pool workers; even a SIGKILL takes the
workers with it (`lab.launch.contain`).
"""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer

from lab.cli.output import reporting, warn

app = typer.Typer()

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind. Anything but loopback exposes slow, open endpoints.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="uvicorn worker processes.")] = 1,
) -> None:
    """Run the lab's self-measuring inference server (Ctrl-C stops it)."""
    from lab.launch.process import LAB_APP, bind_socket, url_of
    from lab.server.host import load_app
    from lab.server.host import serve as serve_app

    if host not in LOOPBACK:
        warn(
            f"binding {host}: the lab's endpoints are deliberately slow and unauthenticated; "
            "anyone who can reach this address can tie the server up."
        )
    with reporting():
        sock = bind_socket(host, port)  # bound here, so the banner names the real port (also for --port 0)
        app_ = load_app(LAB_APP)
    url = url_of(sock)
    typer.echo(f"lab server on {url}  (stats: {url}/lab/stats, metrics: {url}/metrics, docs: {url}/docs)", err=True)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it handled, once stopped
        serve_app(app_, LAB_APP, sock, workers)
    typer.echo("lab server stopped", err=True)
