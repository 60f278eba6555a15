"""How failures become HTTP answers: always ``ErrorBody`` JSON, 4xx for the caller's mistakes.

=============================================  ======
malformed JSON, NaN, duplicate keys, too deep   400
no or bad bearer token                          401
remote client while auth is off                 403
unknown machine or entity                       404
version conflict past the retries, idempotency
key reused for another event, entity exists     409
body over the limit, or an entity's context
that would pass PYSTATOR_MAX_CONTEXT_BYTES      413
wrong types, unknown fields, invalid
definition, missing guard outcome, bad state,
a context that breaks the machine's contract    422
too many failed logins (with Retry-After)       429
the database (a store) is down, frozen or
past its timeout (with Retry-After)             503
=============================================  ======

A store that is unavailable is not a bug: its ``StoreUnavailableError`` is answered 503 with
``Retry-After`` (``PYSTATOR_STORE_RETRY_AFTER``) and its one-line message, and logged once per
outage by the store, not once per request. Anything else is a bug: it is logged with its
traceback and answered with a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pystator.api.schemas import ErrorBody, ErrorItem
from pystator.api.supplied_guards import MissingGuardOutcome
from pystator.errors import (
    ConfigIssue,
    ConfigurationError,
    ContextTooLargeError,
    ContextValidationError,
    EntityNotFoundError,
    FSMError,
    IdempotencyConflictError,
    IncompatibleSnapshotError,
    StaleVersionError,
    StoreUnavailableError,
)

logger = logging.getLogger("pystator.api")

DEFAULT_RETRY_AFTER = 5
"""Retry-After of a 503 when the app has no settings (``ApiSettings.store_retry_after``)."""


class ApiError(StarletteHTTPException):
    """An HTTP error with a readable ``detail`` and, optionally, individual problems."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        errors: Sequence[ErrorItem] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code, detail, headers=headers)
        self.errors = list(errors)


def error_response(
    status: int,
    detail: str,
    errors: Iterable[ErrorItem] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(detail=detail, errors=list(errors))
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def issue_items(issues: Iterable[ConfigIssue], prefix: str) -> list[ErrorItem]:
    """Definition problems as error items, their paths under ``prefix``."""
    items = []
    for issue in issues:
        path = prefix if not issue.path else f"{prefix}.{issue.path}" if prefix else issue.path
        items.append(ErrorItem(path=path, message=issue.message))
    return items


def context_items(errors: Iterable[str], prefix: str = "body.context") -> list[ErrorItem]:
    """A context's problems (``"field: message"``, as ``ContextValidationError.errors``)
    as error items under ``prefix``."""
    items = []
    for error in errors:
        field, sep, message = str(error).partition(": ")
        if not sep:
            items.append(ErrorItem(path=prefix, message=field))
        elif field in ("", "context"):
            items.append(ErrorItem(path=prefix, message=message))
        else:
            items.append(ErrorItem(path=f"{prefix}.{field}", message=message))
    return items


def context_error(message: str, errors: Iterable[str]) -> ApiError:
    """The 422 for a context that breaks the machine's context contract, field by field."""
    return ApiError(422, message, context_items(errors))


def _location(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_UNION_MEMBERS = {"ConfigInput", "AnyConfigInput", "YamlInput"}
_MESSAGES = {
    "missing": "field required",
    "extra_forbidden": "unknown field (check its spelling)",
}


def _validation_items(errors: Sequence[Any]) -> list[ErrorItem]:
    items: list[ErrorItem] = []
    for error in errors:
        kind = str(error.get("type", ""))
        message = _MESSAGES.get(kind, str(error.get("msg", "invalid value")))
        message = message.removeprefix("Value error, ")
        # Union branches ('ConfigInput', 'function-after[...]', ...) say nothing to a caller.
        loc = [
            p
            for p in error.get("loc", ())
            if not (isinstance(p, str) and ("[" in p or p in _UNION_MEMBERS))
        ]
        items.append(ErrorItem(path=_location(loc), message=message))
    unique: dict[tuple[str, str], ErrorItem] = {}
    for item in items:
        unique.setdefault((item.path, item.message), item)
    return list(unique.values())


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "malformed JSON in the request body")
    items = _validation_items(errors)
    head = items[0] if items else None
    detail = "the request is invalid"
    if head is not None:
        detail += f": {head.path}: {head.message}" if head.path else f": {head.message}"
        if len(items) > 1:
            detail += f" (and {len(items) - 1} more)"
    return error_response(422, detail, items)


def allowed_methods(request: Request) -> str:
    """Every method some route of this path answers (routes are per method)."""
    path = request.scope.get("path", "")
    methods: set[str] = set()
    for route in request.app.router.routes:
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            methods.update(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    errors = exc.errors if isinstance(exc, ApiError) else []
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 405:
        # Starlette names only the methods of the first route of the path.
        headers = {**(headers or {}), "Allow": allowed_methods(request)}
    return error_response(exc.status_code, detail, errors, headers)


def fsm_error_status(exc: FSMError) -> int:
    if isinstance(exc, EntityNotFoundError):
        return 404
    if isinstance(exc, StoreUnavailableError):
        return 503
    if isinstance(exc, ContextTooLargeError):
        return 413
    if isinstance(exc, StaleVersionError | IdempotencyConflictError | IncompatibleSnapshotError):
        return 409
    return 422


async def _on_fsm_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FSMError)
    status = fsm_error_status(exc)
    if isinstance(exc, ConfigurationError):
        items = issue_items(exc.issues, "body.config")
        return error_response(status, f"invalid machine definition: {exc.issues[0]}", items)
    if isinstance(exc, ContextValidationError) and not isinstance(exc, ContextTooLargeError):
        return error_response(status, exc.message, context_items(exc.errors))
    return error_response(status, exc.message)


async def _on_store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # Logged by the store, once per outage: nothing to log per request.
    assert isinstance(exc, StoreUnavailableError)
    settings = getattr(request.app.state, "settings", None)
    seconds = getattr(settings, "store_retry_after", DEFAULT_RETRY_AFTER)
    return error_response(503, exc.message, headers={"Retry-After": str(seconds)})


async def _on_missing_guard(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MissingGuardOutcome)
    detail = (
        f"the transition needs the outcome of guard '{exc.name}': add it to 'guards' "
        f'(e.g. "guards": {{"{exc.name}": true}})'
    )
    return error_response(422, detail, [ErrorItem(path=f"body.guards.{exc.name}", message=detail)])


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error")


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(FSMError, _on_fsm_error)
    app.add_exception_handler(StoreUnavailableError, _on_store_unavailable)
    app.add_exception_handler(MissingGuardOutcome, _on_missing_guard)
    app.add_exception_handler(Exception, _on_unexpected)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries: every listed status answers with ``ErrorBody``."""
    words = {
        400: "Malformed request body (not JSON, NaN, duplicate keys, nested too deeply).",
        401: "Missing, malformed, expired or forged bearer token.",
        403: "Authentication is off and the client is not on this host.",
        404: "No such machine or entity.",
        409: "Conflict: the entity changed under every retry, exists already, or the "
        "idempotency key was used for another event.",
        413: "Request body larger than the configured limit, or an entity's context that "
        "would pass PYSTATOR_MAX_CONTEXT_BYTES.",
        422: "Well-formed but invalid: wrong types, unknown fields, invalid definition, "
        "missing guard outcome, undefined state, a context that breaks the machine's "
        "context contract.",
        429: "Too many failed logins from this client or for this user name: wait for "
        "the Retry-After header's seconds.",
        503: "The database (or Redis) is unavailable, frozen or past its timeout: the "
        "detail says which and why; retry after the Retry-After header's seconds. An event "
        "whose write may or may not have been applied says so: retry it with the same "
        "Idempotency-Key.",
    }
    return {status: {"model": ErrorBody, "description": words[status]} for status in statuses}
