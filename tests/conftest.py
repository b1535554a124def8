"""Shared fixtures: one real lab server per test session, on 127.0.0.1 and a free port.

Concurrency is only visible through a real socket and a real uvicorn: in-process transports share
the client's event loop, so they can neither block nor overlap the way a server does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from lab.launch.process import ServerProcess

# Stable rendering in tests: a fixed width, plain text (output is not a terminal), no live refresh.
os.environ.setdefault("COLUMNS", "100")
os.environ["TTY_INTERACTIVE"] = "0"


@pytest.fixture(scope="session")
def lab_url() -> Iterator[str]:
    """The base URL of a lab server shared by the session (its stats are reset by every burst)."""
    with ServerProcess("lab.server.app:app") as server:
        yield server.url
