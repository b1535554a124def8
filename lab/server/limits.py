"""Limits on what one request may carry, so that no request body can take the server down.

    limit(app)  # in create_app(), before instrument(app)

- `BodyLimit`: a pure ASGI middleware that answers 413 to a body above `MAX_BODY_BYTES`, whether the
  client declares its length or streams it in chunks, before the app has buffered more than the limit.
  Without it, FastAPI reads any body whole into memory before validating it.
- `unprocessable`: FastAPI's 422 handler, made safe for the inputs JSON lets through. Python's
  `json.loads` reads `NaN`, `Infinity` and `1e400` as non-finite floats; the model rejects them, but
  the default handler echoes the input back and cannot encode it: the client got a 500.
- `unreadable_body`: a body that is not UTF-8, or nested too deeply to parse, is a bad request like any
  other: a 422 in the documented shape, instead of FastAPI's bare, undocumented 400.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024  # a /predict body is about 40 bytes
FASTAPI_BODY_ERROR = "There was an error parsing the body"  # FastAPI's 400 when reading the body raised


class BodyTooLarge(HTTPException):
    """An HTTPException, so FastAPI's body reader passes it on and the app answers it as JSON."""

    def __init__(self, max_bytes: int, declared: int | None = None) -> None:
        size = f"{declared} bytes" if declared is not None else f"more than {max_bytes} bytes"
        super().__init__(413, f"request body too large: {size}; at most {max_bytes} bytes allowed")


class BodyLimit:
    """Answer 413 to any request whose body is larger than `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            # Refused before a byte of the body is read (uvicorn discards the rest as it arrives).
            await _answer(scope, receive, send, BodyTooLarge(self.max_bytes, declared))
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge as exc:  # raised where no exception handler answers it
            if started:
                raise
            await _answer(scope, receive, send, exc)


async def unprocessable(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, with non-finite numbers in the echoed input written as strings ("nan", "inf")."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(status_code=422, content={"detail": _finite(jsonable_encoder(exc.errors()))})


async def unreadable_body(request: Request, exc: Exception) -> Response:
    """FastAPI answers 400 when reading the body raised (raised `from` the cause); say why, as a 422."""
    assert isinstance(exc, HTTPException)
    cause = exc.__cause__
    if exc.status_code != 400 or exc.detail != FASTAPI_BODY_ERROR or cause is None:
        return await http_exception_handler(request, exc)  # anyone else's HTTPException, as it was
    reason = "it is nested too deeply" if isinstance(cause, RecursionError) else f"{type(cause).__name__}: {cause}"
    error = {"type": "body_unreadable", "loc": ["body"], "msg": f"the body is not readable JSON: {reason}"}
    return JSONResponse(status_code=422, content={"detail": [error]})


def limit(app: FastAPI, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """Bound `app`'s request bodies and make its 422 safe, once. Keeps a validation handler the app set itself."""
    if getattr(app.state, "lab_limited", False):
        return app
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.state.lab_limited = True
    if app.exception_handlers.get(RequestValidationError) is request_validation_exception_handler:
        app.add_exception_handler(RequestValidationError, unprocessable)
    if app.exception_handlers.get(HTTPException) is http_exception_handler:
        app.add_exception_handler(HTTPException, unreadable_body)
    return app


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server rejects a malformed length before we see it
    return None


async def _answer(scope: Scope, receive: Receive, send: Send, exc: HTTPException) -> None:
    await JSONResponse({"detail": exc.detail}, status_code=exc.status_code)(scope, receive, send)
