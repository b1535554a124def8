"""Why a burst could not start, told apart: a closed port, a name that does not resolve, TLS to plain HTTP.

And `-n` above the concurrency bound without `-c`: the user gave no `-c`, so the message must not blame it.
"""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from lab.cli import app
from lab.errors import BurstError
from lab.load.burst import MAX_CONCURRENCY, run_burst


def test_https_to_a_plain_http_port_is_not_a_closed_port(lab_url: str) -> None:
    url = lab_url.replace("http://", "https://") + "/health"
    with pytest.raises(BurstError, match=r"the TLS handshake with https://.* failed: is it a plain http server\?"):
        run_burst(url, requests=2)


def test_a_name_that_does_not_resolve_is_not_a_closed_port() -> None:
    with pytest.raises(BurstError, match=r"^cannot resolve no-such-host\.invalid: no such host"):
        run_burst("http://no-such-host.invalid/", requests=2)


def test_a_closed_port_is_nothing_listening() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(BurstError, match=r"nothing is listening there"):
        run_burst(f"http://127.0.0.1:{port}/", requests=2)


def test_many_requests_without_c_says_to_add_c() -> None:
    result = CliRunner().invoke(app, ["burst", "http://127.0.0.1:9/", "-n", str(2 * MAX_CONCURRENCY)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {2 * MAX_CONCURRENCY} requests would all be in flight at once, and at most {MAX_CONCURRENCY} can: "
        f"add -c N (N up to {MAX_CONCURRENCY}) to fire them N at a time"
    ]


def test_an_explicit_c_above_the_bound_is_still_blamed() -> None:
    result = CliRunner().invoke(app, ["burst", "http://127.0.0.1:9/", "-n", "5000", "-c", "3000"])
    assert result.exit_code == 2 and "concurrency must be between 1 and 1000" in result.stderr


@pytest.mark.parametrize(
    ("url", "suggested"),
    [
        ("127.0.0.1:8788/me", "http://127.0.0.1:8788/me"),  # the user's own URL, with the scheme it lacked
        ("localhost:8000/predict?delay_ms=5", "http://localhost:8000/predict?delay_ms=5"),
        ("ftp://127.0.0.1:8788/me", "http://127.0.0.1:8788/me"),
        ("", "http://127.0.0.1:8000/sleep/async"),  # nothing of the user's to keep: the lab's example
        ("http://", "http://127.0.0.1:8000/sleep/async"),
    ],
)
def test_a_url_without_a_scheme_suggests_the_users_own_url_with_it(url: str, suggested: str) -> None:
    result = CliRunner().invoke(app, ["burst", url, "-n", "2"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: not an http(s) URL: {url!r} (try {suggested})"]
