"""Checks on the values an expression reads and builds: each one runs before the operation.

What lives here: reading a context value as a number, a comparable number or a plain string
(``as_number``, ``as_comparable``, ``as_text``); the size checks of what an operation is about
to build (``check_length``, ``content``, with ``too_many``/``too_long`` for their messages);
the NaN and infinity scan of values about to be compared (``scan``); the truth of a value used
as a condition (``truth``); and the check of a computed number (``checked``). The operators
(``operators``) and the safe functions (``functions``) are written with these, so every bound
of ``limits`` is enforced in one place.

Type tests use ``issubclass(type(v), ...)``, never ``isinstance(v, ...)``: ``isinstance``
falls back to reading ``v.__class__`` through the object's own ``__getattribute__``, and no
attribute of a context value is ever read.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable, Collection, Iterable, Mapping
from decimal import Decimal
from itertools import islice
from typing import Any

from pystator.engine.expr.limits import (
    DECIMAL_CHECK,
    MAX_DECIMAL_DIGITS,
    MAX_INT_BITS,
    MAX_LENGTH,
    MAX_VALUE_CHARACTERS,
    NON_FINITE,
    Invalid,
    type_name,
)

__all__ = [
    "COLLECTIONS",
    "SEQUENCES",
    "TIME_TYPES",
    "as_comparable",
    "as_number",
    "as_text",
    "check_length",
    "checked",
    "content",
    "scan",
    "too_long",
    "too_many",
    "truth",
]

SEQUENCES = (list, tuple)
"""The sequences ``+`` and ``*`` build: a list or a tuple."""
COLLECTIONS = (list, tuple, set, frozenset)
"""The collections ``in``, ``len`` and the functions that walk a list accept."""
TIME_TYPES = (datetime.datetime, datetime.date, datetime.time, datetime.timedelta)
"""Date and time values: ordered among themselves, never mixed with numbers."""
_SCALAR_TYPES = frozenset({int, float, bool, type(None)})
_FLAT_TYPES = _SCALAR_TYPES | {str}
_PLAIN_TYPES = frozenset({int, str, bool, type(None)})
"""What ``scan`` passes by at once: no NaN or infinity can hide in them."""


def _decimal(value: Decimal) -> Decimal:
    """``value`` if finite and within ``MAX_DECIMAL_DIGITS`` digits and the exponent range."""
    if not value.is_finite():
        raise Invalid(NON_FINITE)
    try:
        DECIMAL_CHECK.plus(value)
    except decimal.DecimalException:
        raise Invalid(
            f"Decimal {value:.6E} has more than {MAX_DECIMAL_DIGITS} digits or is out of range"
        ) from None
    return value


def as_number(value: Any) -> Any:
    """``value`` as a checked number (int, float or Decimal), or ``Invalid``."""
    kind = type(value)
    if kind is int:
        if value.bit_length() > MAX_INT_BITS:
            raise Invalid(f"integer larger than {MAX_INT_BITS} bits")
        return value
    if kind is float:
        if value - value != 0.0:
            raise Invalid(NON_FINITE)
        return value
    if kind is bool:
        return int(value)
    if kind is Decimal:
        return _decimal(value)
    # Subclasses (IntEnum, ...): read the plain value through the base class, run no user code.
    if issubclass(type(value), int):
        return as_number(int.__int__(value))
    if issubclass(type(value), float):
        return as_number(float.__float__(value))
    if issubclass(type(value), Decimal):
        return _decimal(Decimal(value))
    raise Invalid(f"expected a number, got {type_name(value)}")


def as_comparable(value: Any) -> Any:
    """A number for ordering: any size (comparing is cheap), but finite."""
    kind = type(value)
    if kind is int or kind is bool:
        return value
    if kind is float:
        if value - value != 0.0:
            raise Invalid(NON_FINITE)
        return value
    if issubclass(type(value), Decimal):
        if not value.is_finite():
            raise Invalid(NON_FINITE)
        return value
    if issubclass(type(value), int):
        return int.__int__(value)
    return as_comparable(float.__float__(value))


def as_text(value: Any) -> str | None:
    """A plain ``str`` for a string (or str subclass), else ``None``."""
    if type(value) is str:
        return value
    if issubclass(type(value), str):
        return str.__str__(value)
    return None


def check_length(n: int, what: str) -> None:
    """Refuse a ``what`` (``"string"``, ``"list"``...) of ``n`` items past ``MAX_LENGTH``."""
    if n > MAX_LENGTH:
        unit = "characters" if what == "string" else "items"
        raise Invalid(f"{what} longer than {MAX_LENGTH} {unit}")


def content(
    items: Collection[Any],
    what: str,
    items_left: int = MAX_LENGTH,
    characters_left: int = MAX_VALUE_CHARACTERS,
) -> tuple[int, int]:
    """(items, characters) of the values of ``items``, which an operation is about to put in
    a new ``what`` (``"list"``...), counted as its JSON would hold them: every value each time
    it appears, the values nested in it included, and the characters of every string.

    Raises ``Invalid`` as soon as the items pass ``items_left`` (``MAX_LENGTH``) or the
    characters ``characters_left`` (``MAX_VALUE_CHARACTERS``): the walk visits at most
    ``items_left`` values, however much structure they share (``[l, l]`` repeated) and even
    if one holds itself. A value of another type (a date, a Decimal, an object) is one item.
    """
    count = len(items)
    if count > items_left:
        raise too_many(what)
    characters = 0
    if count <= 8:  # a display or a short list: a loop is cheaper than a set of types
        for item in items:
            kind = type(item)
            if kind is str:
                characters += len(item)
            elif kind not in _SCALAR_TYPES:
                break
        else:
            if characters > characters_left:
                raise too_long(what)
            return count, characters
    else:
        kinds = set(map(type, items))  # one pass in C
        if kinds <= _SCALAR_TYPES:  # numbers, booleans, None
            return count, 0
        if kinds <= _FLAT_TYPES:  # and strings
            if len(kinds) == 1:
                characters = sum(map(len, items))
            else:
                characters = sum([len(item) for item in items if type(item) is str])
            if characters > characters_left:
                raise too_long(what)
            return count, characters
    count, characters = _walk(list(items), what, items_left)
    if characters > characters_left:
        raise too_long(what)
    return count, characters


def _walk(stack: list[Any], what: str, items_left: int) -> tuple[int, int]:
    """(items, characters) of the values in ``stack`` and of everything nested in them."""
    # Every item is counted when its container is pushed (one subtraction per container,
    # none per scalar), and a container is refused before its items are pushed.
    left = items_left - len(stack)
    characters = 0
    pop, push = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is list or kind is tuple:
            left -= len(item)
            if left < 0:
                raise too_many(what)
            push(item)
        elif kind is str:
            characters += len(item)
        elif kind in _SCALAR_TYPES:
            continue
        elif kind is dict:
            left -= 2 * len(item)
            if left < 0:
                raise too_many(what)
            push(item.keys())
            push(item.values())
        else:
            left, more = _walk_subclass(item, kind, what, left, push)
            characters += more
    return items_left - left, characters


def _walk_subclass(
    item: Any, kind: type, what: str, left: int, push: Callable[[Iterable[Any]], None]
) -> tuple[int, int]:
    """``_walk``'s step for a value of a subclass (of dict, str, a collection or a mapping):
    (the items still allowed, the characters of ``item`` itself). Its parts are read through
    the base class, so no method of the subclass runs; another value is one item."""
    if issubclass(kind, dict):
        left -= 2 * dict.__len__(item)
        if left < 0:
            raise too_many(what)
        push(dict.keys(item))
        push(dict.values(item))
    elif issubclass(kind, str):
        return left, str.__len__(item)
    elif issubclass(kind, COLLECTIONS):
        left -= len(item)
        if left < 0:
            raise too_many(what)
        push(item)
    elif issubclass(kind, Mapping):  # a nested model, read through a mapping view
        size = len(item)
        left -= 2 * size
        if left < 0:
            raise too_many(what)
        keys = list(islice(iter(item), size))
        push(keys)
        push([item[key] for key in keys])
    return left, 0


def too_many(what: str) -> Invalid:
    """The refusal of a ``what`` that would hold more than ``MAX_LENGTH`` items in all."""
    return Invalid(
        f"{what} would hold more than {MAX_LENGTH} items in all "
        "(nested items count each time they appear)"
    )


def too_long(what: str) -> Invalid:
    """The refusal of a ``what`` past ``MAX_VALUE_CHARACTERS`` characters of strings."""
    return Invalid(
        f"{what} would hold more than {MAX_VALUE_CHARACTERS} characters of strings in all "
        "(nested strings count each time they appear)"
    )


def scan(value: Any) -> None:
    """Refuse NaN/infinity anywhere inside ``value`` (containers walked, at most MAX_LENGTH)."""
    kind = type(value)
    if kind is int or kind is str or kind is bool or value is None:
        return
    if kind is float:
        if value - value != 0.0:
            raise Invalid(NON_FINITE)
        return
    budget = MAX_LENGTH
    stack: list[Any] = [value]
    pop, push = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind in _PLAIN_TYPES:
            continue
        if kind is float:
            if item - item != 0.0:
                raise Invalid(NON_FINITE)
        elif kind is list or kind is tuple:
            budget -= len(item)
            if budget < 0:
                raise _too_many_compared()
            push(item)
        else:
            budget = _scan_other(item, kind, budget, push)


def _scan_other(item: Any, kind: type, budget: int, push: Callable[[Iterable[Any]], None]) -> int:
    """``scan``'s step for a value that is not a plain scalar, float, list or tuple: a dict or
    set is walked, a float or Decimal (or subclass) checked, any other object left alone
    (only ever compared). Returns the items still allowed."""
    if kind is dict:
        budget -= 2 * len(item)
    elif issubclass(kind, (float, Decimal)):
        if not _finite(item):
            raise Invalid(NON_FINITE)
        return budget
    elif not issubclass(kind, (*COLLECTIONS, dict)):
        return budget  # an opaque object: only ever compared, never walked
    else:
        budget -= len(item)
    if budget < 0:
        raise _too_many_compared()
    if issubclass(kind, dict):
        push(item.keys())
        push(item.values())
    else:
        push(item)
    return budget


def _too_many_compared() -> Invalid:
    """The refusal of values to compare that hold more than ``MAX_LENGTH`` items in all."""
    return Invalid(f"containers compared hold more than {MAX_LENGTH} items")


def _finite(value: Any) -> bool:
    """A float or Decimal (or a subclass) that is neither NaN nor infinite."""
    if issubclass(type(value), Decimal):
        return bool(Decimal.is_finite(value))
    number = float.__float__(value)
    return number - number == 0.0


def truth(value: Any) -> bool:
    """Truth of a value of a known, safe type; anything else cannot be a condition."""
    if value is True:
        return True
    if value is False or value is None:
        return False
    kind = type(value)
    if kind is int:
        return bool(value != 0)
    if kind is float:
        if value - value != 0.0:
            raise Invalid(NON_FINITE)
        return bool(value != 0.0)
    if kind is str or kind is list or kind is tuple or kind is dict:
        return len(value) != 0
    if issubclass(type(value), (int, float, Decimal)):
        return bool(as_number(value) != 0)
    if issubclass(type(value), (str, *COLLECTIONS, dict, Mapping)):
        return len(value) != 0
    raise Invalid(f"a {type_name(value)} value cannot be used as a condition")


def checked(result: Any) -> Any:
    """``result`` of an arithmetic operation, refused past the bounds of its type."""
    kind = type(result)
    if kind is int:
        if result.bit_length() > MAX_INT_BITS:
            raise Invalid(f"integer larger than {MAX_INT_BITS} bits")
    elif kind is float:
        if result - result != 0.0:
            raise Invalid(NON_FINITE)
    elif kind is Decimal:
        _decimal(result)
    return result
