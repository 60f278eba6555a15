"""The cap on an entity's stored context (``Orchestrator(max_context_bytes=...)``).

Each request to the API is capped, but an entity's context grows by merging: without a cap,
40 events of 1 MB each make a 40 MB entity, read and served on every later request. The size
is the context's compact JSON (``,`` and ``:``, non-ASCII kept) in UTF-8 bytes, what the SQL
and Redis stores write. A value JSON does not know (a datetime, a UUID...) is measured in the
JSON form the SQL store gives it.

An event whose context would pass the cap is refused (a failed result, reason
``context_too_large``, nothing written), unless it does not grow the context: an entity
stored before the cap was lowered can still take events that leave its context as large as it
was. A new entity whose context passes the cap is refused with ``ContextTooLargeError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic_core import to_jsonable_python

from pystator._json import compact_iterencode
from pystator.engine.outcomes import failure
from pystator.errors import ContextTooLargeError
from pystator.models.result import TransitionResult

_encode: Callable[..., Iterable[str]] = compact_iterencode(to_jsonable_python, allow_nan=True)


def context_size(context: Mapping[str, Any]) -> int | None:
    """The size of ``context`` as compact JSON, in UTF-8 bytes; ``None`` when it has no JSON
    form at all (a value that contains itself, say: the store refuses it then, as before)."""
    try:
        text = "".join(_encode(context, 0))
    except (TypeError, ValueError, RecursionError):
        return None
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def check_limit(
    limit: int, context: Mapping[str, Any], before: Mapping[str, Any] | None
) -> int | None:
    """The size of ``context`` if it passes ``limit`` and is larger than ``before`` (the
    context it replaces, ``None`` for a new entity); else ``None`` (the context may be kept).

    ``before`` is measured only when ``context`` is over the limit: the common case costs
    one encoding of the new context.
    """
    size = context_size(context)
    if size is None or size <= limit:
        return None
    if before is not None:
        previous = context_size(before)
        if previous is not None and size <= previous:
            return None
    return size


def too_large_error(entity_id: str, size: int, limit: int) -> ContextTooLargeError:
    message = (
        f"the context of entity '{entity_id}' would be {size:,} bytes of JSON, over the "
        f"limit of {limit:,} bytes: nothing was stored"
    )
    return ContextTooLargeError(message, size=size, limit=limit)


def too_large(state: str, trigger: str, entity_id: str, size: int, limit: int) -> TransitionResult:
    """The failed result of an event refused by the cap (reason ``context_too_large``)."""
    error = too_large_error(entity_id, size, limit)
    metadata = {"reason": "context_too_large", "size": size, "limit": limit, "errors": error.errors}
    return failure(state, trigger, error, metadata)


__all__ = ["check_limit", "context_size", "too_large", "too_large_error"]
