"""Compact JSON encoding without ``json.dumps``'s per-call set-up (hot paths of the stores and
of the orchestrator's record cache)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any


def compact_iterencode(
    default: Callable[[Any], Any], *, allow_nan: bool
) -> Callable[..., Iterable[str]]:
    """An ``iterencode(value, 0)`` writing compact JSON (``,`` and ``:``, non-ASCII kept),
    made once.

    ``json.dumps`` with options, and ``JSONEncoder.encode``, build a new encoder on every
    call; this is the C encoder, made here and called directly. It has no markers of
    circular references: a value that contains itself fails with ``RecursionError`` (the
    pure-Python fallback raises ``ValueError``).
    """
    make: Any = getattr(json.encoder, "c_make_encoder", None)
    if make is not None:
        encoder: Callable[..., Iterable[str]] = make(
            None, default, json.encoder.encode_basestring, None, ":", ",", False, False, allow_nan
        )
        return encoder
    return json.JSONEncoder(
        separators=(",", ":"), ensure_ascii=False, allow_nan=allow_nan, default=default
    ).iterencode
