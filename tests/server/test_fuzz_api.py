"""Fuzz the lab's API against its own OpenAPI schema: no 5xx, and every response matches its schema.

Schemathesis reads `/openapi.json` from the app itself and generates requests for every operation, both
valid ones and invalid ones (which must be refused with a 4xx). The app runs in a real uvicorn of this
module's own on 127.0.0.1: in-process (ASGI) loading would start the app's lifespan, with its process
pool and heartbeat, inside the test process for the rest of the session.

The scenario endpoints wait `delay_ms` (up to 10 s, by design). A valid delay is cut down to a few
milliseconds just before the request is sent, so their handlers still run; an invalid one is sent as
generated, so their validation is fuzzed in full.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from lab.launch.process import ServerProcess
from lab.scenarios import MAX_CPU_MS, MAX_DELAY_MS
from lab.server.app import create_app

MAX_EXAMPLES = 25
FAST_DELAY_MS = 3


# The schema comes from the app object (building it runs no lifespan); the requests go to a real server.
# (`schemathesis.pytest.from_fixture` would load it from the server, but fails under pytest 9: no `_nodeid`.)
schema = schemathesis.openapi.from_dict(create_app().openapi())
schema.config.generation.update(max_examples=MAX_EXAMPLES)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with ServerProcess("lab.server.app:app") as server:
        yield server.url


def make_fast(case: schemathesis.Case) -> None:
    """A valid `delay_ms` becomes 0-3 ms; anything out of range or of the wrong type is left as generated."""
    if not case.query or "delay_ms" not in case.query:
        return
    value = case.query["delay_ms"]
    limit_ms = MAX_CPU_MS if case.path.startswith("/cpu/") else MAX_DELAY_MS
    if type(value) is int and 0 <= value <= limit_ms:
        case.query["delay_ms"] = value % (FAST_DELAY_MS + 1)
    elif isinstance(value, str) and re.fullmatch(r"\d{1,6}", value) and int(value) <= limit_ms:
        case.query["delay_ms"] = str(int(value) % (FAST_DELAY_MS + 1))


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.timeout(180)
def test_api_conforms_to_its_schema(case: schemathesis.Case, server_url: str) -> None:
    """Every check schemathesis has: no 5xx, documented status codes and content types, responses that match
    their schema, invalid requests refused (this one found `false` accepted as a number, before strict=True)."""
    make_fast(case)
    case.call_and_validate(base_url=server_url, timeout=30)
