"""Limits, the safe function names, and the internal signals of the expression language.

Every other module of ``engine.expr`` reads its bounds from here, so one number changes one
limit everywhere. The internal signals (``Missing``, ``Invalid``, ``ABSENT``) are how the
compiled closures report a missing key or a value that cannot be computed; only
``engine.expr``'s evaluators catch them, and no caller outside the package ever sees one.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

__all__ = [
    "ABSENT",
    "ARITY",
    "CONSTANT_NAMES",
    "DECIMAL_CHECK",
    "DECIMAL_CONTEXT",
    "MAX_DECIMAL_DIGITS",
    "MAX_DEPTH",
    "MAX_INT_BITS",
    "MAX_LENGTH",
    "MAX_NODES",
    "MAX_NUMBER_TEXT",
    "MAX_ROUND_DIGITS",
    "MAX_SOURCE_LENGTH",
    "MAX_TOKENS",
    "MAX_VALUE_CHARACTERS",
    "NON_FINITE",
    "SAFE_FUNCTIONS",
    "CompiledExpression",
    "Context",
    "Evaluator",
    "Invalid",
    "Missing",
    "OnMissing",
    "type_name",
]

# ------------------------------------------------------------------------------------ limits
MAX_SOURCE_LENGTH = 2000
"""Characters of an expression (the definition model caps ``expr`` at the same length)."""
MAX_TOKENS = 600
"""Tokens of an expression (names, literals, operators, brackets), counted before parsing."""
MAX_NODES = 200
"""Syntax nodes of an expression (names, literals, operations, calls...)."""
MAX_DEPTH = 32
"""Levels of nesting of an expression."""
MAX_INT_BITS = 256
"""Bits of an integer an operation may read or produce (about 77 decimal digits)."""
MAX_LENGTH = 10_000
"""Characters of a string, items of a list an operation may produce; items a function walks.

A list, tuple or set an operation builds (a display, ``+``, ``*``) holds at most this many
items in all and ``MAX_VALUE_CHARACTERS`` characters of strings, counted as its JSON holds
them: the values nested in it too, each time they appear (``[l, l]`` counts ``l`` twice), so
no number of ``assign`` steps can grow a context exponentially."""
MAX_VALUE_CHARACTERS = 100_000
"""Characters of all the strings in a list, tuple or set an operation builds."""
MAX_NUMBER_TEXT = 100
"""Characters of a string that ``int()`` or ``float()`` converts."""
MAX_ROUND_DIGITS = 100
"""``round(x, n)``: ``abs(n)`` at most this."""
MAX_DECIMAL_DIGITS = 100
"""Significant digits of a ``Decimal`` an operation reads."""

DECIMAL_CONTEXT = decimal.Context(
    prec=28,
    rounding=decimal.ROUND_HALF_EVEN,
    Emax=999,
    Emin=-999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow, decimal.Underflow],
)
"""Arithmetic on ``Decimal`` values always uses this context, never the thread's."""
DECIMAL_CHECK = decimal.Context(
    prec=MAX_DECIMAL_DIGITS,
    Emax=999,
    Emin=-999,
    traps=[
        decimal.Inexact,
        decimal.Rounded,
        decimal.InvalidOperation,
        decimal.Overflow,
        decimal.Underflow,
        decimal.Subnormal,
    ],
)
"""Checks a ``Decimal`` an operation reads: ``plus`` traps past ``MAX_DECIMAL_DIGITS`` digits."""

SAFE_FUNCTIONS = (
    "abs",
    "all",
    "any",
    "bool",
    "float",
    "int",
    "len",
    "max",
    "min",
    "round",
    "str",
    "sum",
)
"""The only names that may be called."""

ARITY: dict[str, tuple[int, int]] = {
    "abs": (1, 1),
    "all": (1, 1),
    "any": (1, 1),
    "bool": (1, 1),
    "float": (1, 1),
    "int": (1, 1),
    "len": (1, 1),
    "max": (1, 64),
    "min": (1, 64),
    "round": (1, 2),
    "str": (1, 1),
    "sum": (1, 2),
}
"""(fewest, most) positional arguments of each safe function, checked at load."""

CONSTANT_NAMES: dict[str, Any] = {"true": True, "false": False, "null": None}
"""The JSON spellings of the constants, read as literals rather than as context keys."""

Context = Mapping[str, Any]
Evaluator = Callable[[Context], Any]
OnMissing = Literal["false", "error"]


class CompiledExpression(Protocol):
    """What ``compile_expression`` returns: call it with the context to get a ``bool``."""

    source: str
    """The expression text."""
    names: tuple[str, ...]
    """The context paths the expression reads (``"fill_qty"``, ``"order.qty"``)."""
    on_missing: OnMissing

    explain: Callable[[Context], str | None]
    """``explain(context)``: ``None`` when the guard passes, else why not
    (``"context key 'fill_qty' is missing"``, ``"the expression is false"``, ...)."""

    def __call__(self, context: Context, /) -> bool: ...


# ------------------------------------------------------------------------ internal signals
class Missing(Exception):
    """A context key (or list index) the expression reads is not there."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class Invalid(Exception):
    """A value the expression cannot compute: the guard is false."""


ABSENT: Any = object()
"""What ``Mapping.get`` answers for a key the context does not hold (``None`` is a value)."""
NON_FINITE = "a NaN or infinite number never satisfies a guard"
"""The message of every ``Invalid`` raised for a NaN or an infinity."""


def type_name(value: Any) -> str:
    """The name of ``value``'s type, for messages (reads no attribute of the value itself)."""
    return type(value).__name__
