"""Compact JSON encoding without ``json.dumps``'s per-call set-up: a speed trick, fenced here
beside its plain twin.

``json.dumps`` with options, and ``JSONEncoder.encode``, build a new encoder on every call;
``compact_iterencode`` makes the C encoder (``json.encoder.c_make_encoder``, called
positionally) once, and its callers keep it. Rows that justify it (``docs/benchmarks.md``,
"``SQLStateStore``: JSON encoded by calling the C encoder directly"):

* ``python -m benchmarks.stores_bench`` ``sqlite/*`` and ``postgres/*``: every JSON column of
  a commit (``pystator.stores.sql.rows``);
* the "cached" figure (``record_cache=10_000``) of every ``stores_bench`` row: the record
  cache's private copy of each committed context
  (``pystator.runtime.orchestration.record_cache``).

Plain twin: ``plain_iterencode``, ``JSONEncoder(...).iterencode`` with the same options, which
is also what ``compact_iterencode`` returns where there is no C encoder.
``tests/unit/test_compact_json.py`` compares the two.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from pystator._twins import use_plain_twin


def compact_iterencode(
    default: Callable[[Any], Any], *, allow_nan: bool
) -> Callable[..., Iterable[str]]:
    """An ``iterencode(value, 0)`` writing compact JSON (``,`` and ``:``, non-ASCII kept),
    made once.

    It is the C encoder, called directly. It has no markers of circular references: a value
    that contains itself fails with ``RecursionError`` (the plain twin raises ``ValueError``).
    """
    make: Any = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return plain_iterencode(default, allow_nan=allow_nan)
    # c_make_encoder(markers, default, encoder, indent, key_separator, item_separator,
    #                sort_keys, skipkeys, allow_nan), as ``JSONEncoder.iterencode`` calls it.
    encoder: Callable[..., Iterable[str]] = make(
        None, default, json.encoder.encode_basestring, None, ":", ",", False, False, allow_nan
    )
    return encoder


def plain_iterencode(
    default: Callable[[Any], Any], *, allow_nan: bool
) -> Callable[..., Iterable[str]]:
    """``compact_iterencode``'s plain twin: the same JSON through the standard encoder (its
    pure-Python path when called as ``iterencode(value, 0)``)."""
    return json.JSONEncoder(
        separators=(",", ":"), ensure_ascii=False, allow_nan=allow_nan, default=default
    ).iterencode


# Measuring only (``pystator._twins``): the plain twin in place of the trick.
if use_plain_twin("compact_json"):
    compact_iterencode = plain_iterencode
