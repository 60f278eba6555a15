"""Guards at the edge of the service: body size, strict JSON, and loopback-only without auth.

``BodyLimitMiddleware`` refuses a body over the limit while it streams: a ``Content-Length``
over the limit is refused before a byte is read, and a chunked body is counted message by
message and refused as soon as the count passes the limit, never after buffering it whole.

``StrictJSONRoute`` parses JSON bodies strictly: no ``NaN``/``Infinity`` (they have no JSON
form and would break responses), no duplicate keys, bounded nesting depth, no NUL characters
or lone surrogates in strings (databases and UTF-8 encoders refuse them later, as a 500).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pystator.api.settings import is_loopback


class BodyTooLargeError(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than the limit of {limit} bytes")


async def _send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail, "errors": []}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """413 for request bodies larger than ``limit`` bytes, decided while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(send, 400, "Content-Length is not a number")
                    return
                if declared > limit:
                    await _send_json(send, 413, BodyTooLargeError(limit).detail)
                    return
        received = 0
        started = exceeded = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLargeError(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if exceeded:
                    # Close the connection after the 413, or the server would go on
                    # reading (and discarding) the rest of the body to keep it alive.
                    headers = [h for h in message.get("headers", ()) if h[0] != b"connection"]
                    message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLargeError as exc:
            if started:
                raise
            await _send_json(send, 413, exc.detail)


class LoopbackOnlyMiddleware:
    """403 for clients that are not on this host (used when authentication is off)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in {"http", "websocket"}:
            client = scope.get("client")
            host = client[0] if client else None
            # Starlette's TestClient reports the host "testclient": in-process, not remote.
            if host is not None and host != "testclient" and not is_loopback(host):
                if scope["type"] == "http":
                    await _send_json(
                        send,
                        403,
                        "authentication is off (no PYSTATOR_AUTH_SECRET): "
                        "only clients on this host are served",
                    )
                return
        await self.app(scope, receive, send)


class JSONBodyError(HTTPException):
    """A JSON body that parses but is not acceptable, or does not parse."""

    def __init__(self, detail: str) -> None:
        super().__init__(400, detail)


def _reject_constant(name: str) -> Any:
    raise JSONBodyError(f"malformed JSON: {name} is not a JSON value")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JSONBodyError(f"malformed JSON: duplicate key {key[:80]!r}")
            seen.add(key)
    return out


def _check_string(text: str) -> None:
    if "\x00" in text:
        raise JSONBodyError("malformed JSON: strings may not contain NUL characters")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise JSONBodyError("malformed JSON: a string holds a lone surrogate") from None


def check_json_strings(value: Any) -> None:
    """Raise ``JSONBodyError`` for a key or string with NUL or a lone surrogate; iterative."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                _check_string(key)
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            _check_string(item)


_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # "unrolled": no backtracking
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENERS = frozenset(b"[{")
# Escapes that can produce NUL or half of a surrogate pair; only then are strings walked.
_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def json_depth(body: bytes, limit: int) -> int:
    """Nesting depth of a JSON text, counted on its brackets outside strings; stops counting
    past ``limit``. Runs before parsing, so a deep body never reaches the recursive parser."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in _OPENERS:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        else:
            depth -= 1
    return deepest


def parse_json_body(body: bytes, max_depth: int) -> Any:
    """Parse a request body strictly (see the module docstring)."""
    if json_depth(body, max_depth) > max_depth:
        raise JSONBodyError(f"JSON nests deeper than {max_depth} levels")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise JSONBodyError("malformed JSON: the body is not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_pairs)
    except json.JSONDecodeError as exc:
        raise JSONBodyError(
            f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise JSONBodyError(f"JSON nests deeper than {max_depth} levels") from None
    if _SUSPECT.search(body):
        check_json_strings(value)
    return value


class _StrictJSONRequest(Request):
    max_depth = 32

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json_body(await self.body(), self.max_depth)
        return self._json


def strict_json_route(max_depth: int) -> type[APIRoute]:
    """An ``APIRoute`` class whose JSON bodies are parsed by ``parse_json_body``."""

    class StrictRequest(_StrictJSONRequest):
        pass

    StrictRequest.max_depth = max_depth

    class StrictJSONRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def strict_handler(request: Request) -> Response:
                strict = StrictRequest(request.scope, request.receive)
                return await handler(strict)

            return strict_handler

    return StrictJSONRoute


__all__ = [
    "BodyLimitMiddleware",
    "BodyTooLargeError",
    "JSONBodyError",
    "LoopbackOnlyMiddleware",
    "check_json_strings",
    "json_depth",
    "parse_json_body",
    "strict_json_route",
]
