"""The configuration string's syntax, read in one place: its tokens, and a parallel
configuration's state and regions.

A configuration string is one of::

    NAME                                  a state (no parallel state active)
    NAME(region=CONFIG, region=CONFIG)    a parallel state and each region's configuration

where ``NAME`` is ``[A-Za-z][A-Za-z0-9_]*``, ``CONFIG`` is again either form, and whitespace
between tokens is ignored (``pystator.engine.config`` says what the string means).

Two readers share ``scan``: the engine (``pystator.engine.config.parse``) walks the tokens
against a machine and refuses any string outside the grammar; the model
(``ParallelStateConfig.from_string``, through ``split_parallel``) knows no machine and only
splits the top level, keeping each region's value as written. The model's reading is
deliberately lenient (decision D7, issue 15): a region value it keeps may still be refused by
the engine, which is the judge of legality, and its messages are the ones it always gave.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import NamedTuple

_TOKEN = re.compile(r"\s*(?:([A-Za-z][A-Za-z0-9_]*|[(),=])|(\S))")
_SHAPE = "'P(r1=A, r2=B)'"


class Scanned(NamedTuple):
    """The tokens of a configuration string, read left to right."""

    tokens: list[str]
    """Names and the one-character tokens ``( ) = ,``; any other character is a token of
    its own, which makes the string unreadable (``unexpected``)."""
    starts: list[int]
    """Where each token starts in the text."""
    unexpected: int
    """``-1``, or where the text stops being readable: the end of the last good token
    before the first character outside the grammar."""


def scan(text: str) -> Scanned:
    """The tokens of ``text``, in one linear pass (never raises)."""
    tokens: list[str] = []
    starts: list[int] = []
    unexpected = -1
    for match in _TOKEN.finditer(text):
        token = match.group(1)
        if token is None:
            token = match.group(2)
            if unexpected < 0:
                # Matches are contiguous: this one starts where the last good one ended.
                unexpected = match.start()
            starts.append(match.start(2))
        else:
            starts.append(match.start(1))
        tokens.append(token)
    return Scanned(tokens, starts, unexpected)


def unexpected_text(text: str, pos: int) -> str:
    """What to say about the unreadable text at ``pos`` (``Scanned.unexpected``)."""
    return f"unexpected {text[pos : pos + 10]!r} at position {pos}"


def split_parallel(text: str) -> tuple[str, dict[str, str]]:
    """``"P(r1=A, r2=Q(x=B, y=C))"`` -> ``("P", {"r1": "A", "r2": "Q(x=B, y=C)"})``.

    Syntax only, and lenient: the text before the first ``(`` is the state, the text up to
    the last ``)`` is split at its top-level commas, each part at its first ``=``, and every
    piece is stripped of surrounding whitespace. A region given twice keeps its first
    place and its last value. Raises ``ValueError``."""
    tokens, starts, _ = scan(text)
    first = tokens.index("(") if "(" in tokens else -1
    last = len(tokens) - 1
    if first < 0 or tokens[last] != ")" or not text[: starts[first]].strip():
        raise ValueError(f"{text.strip()!r} is not a parallel configuration like {_SHAPE}")
    cuts = _top_level_cuts(tokens, starts, first, last)
    regions: dict[str, str] = {}
    for start, end in pairwise(cuts):
        part = text[start + 1 : end].strip()
        name, eq, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name or not value:
            raise ValueError(f"{part!r} in {text.strip()!r} is not 'region=state'")
        regions[name] = value
    return text[: starts[first]].strip(), regions


def _top_level_cuts(tokens: list[str], starts: list[int], first: int, last: int) -> list[int]:
    """Cut points of the parts of ``tokens[first:last + 1]``, a parenthesised list: after the
    ``(``, at each top-level ``,``, at the last ``)``. Raises ``ValueError`` when the
    parentheses in between are unbalanced."""
    cuts = [starts[first]]
    depth = 0
    for i in range(first + 1, last):
        token = tokens[i]
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced ')'")
        elif token == "," and depth == 0:
            cuts.append(starts[i])
    if depth != 0:
        raise ValueError("unbalanced '('")
    cuts.append(starts[last])
    return cuts
