"""The operators of the expression language: arithmetic, ``not`` and the comparisons.

What lives here: one bounded function per operator (``+`` is ``add``, ``<`` is ``_lt``...),
each checking its operands with ``values`` before it computes, and the tables the compiler
picks them from by node type (``BINARY``, ``UNARY``, ``COMPARE``), with the message of each
operator the language refuses (``REFUSED_OPERATORS``: ``**``, the bit operators, ``@``).
``add`` is public because ``sum()`` (``functions``) adds item by item with it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from pystator.engine.expr.limits import (
    DECIMAL_CONTEXT,
    MAX_INT_BITS,
    MAX_LENGTH,
    MAX_VALUE_CHARACTERS,
    Invalid,
    type_name,
)
from pystator.engine.expr.values import (
    COLLECTIONS,
    SEQUENCES,
    TIME_TYPES,
    as_comparable,
    as_number,
    as_text,
    check_length,
    checked,
    content,
    scan,
    too_long,
    too_many,
    truth,
)

__all__ = ["BINARY", "COMPARE", "REFUSED_OPERATORS", "UNARY", "add"]


# ------------------------------------------------------------------------------ arithmetic
def _decimal_pair(a: Any, b: Any) -> None:
    """Refuse a float beside a Decimal: the result would be exact in neither."""
    if type(a) is float or type(b) is float:
        raise Invalid("cannot mix Decimal and float; convert with float() first")


def add(a: Any, b: Any) -> Any:
    """``a + b``: two numbers, two strings, or two lists (or two tuples) within the limits."""
    if type(a) is int and type(b) is int:
        if a.bit_length() > MAX_INT_BITS or b.bit_length() > MAX_INT_BITS:
            raise Invalid(f"integer larger than {MAX_INT_BITS} bits")
        return checked(a + b)
    sa, sb = as_text(a), as_text(b)
    if sa is not None and sb is not None:
        check_length(len(sa) + len(sb), "string")
        return sa + sb
    if issubclass(type(a), SEQUENCES) and issubclass(type(b), SEQUENCES):
        if issubclass(type(a), list) != issubclass(type(b), list):
            raise Invalid("cannot add a list and a tuple")
        check_length(len(a) + len(b), "list")
        count, characters = content(a, "list")
        content(b, "list", MAX_LENGTH - count, MAX_VALUE_CHARACTERS - characters)
        return [*a, *b] if issubclass(type(a), list) else (*a, *b)
    a, b = as_number(a), as_number(b)
    if type(a) is Decimal or type(b) is Decimal:
        _decimal_pair(a, b)
        return checked(DECIMAL_CONTEXT.add(a, b))
    return checked(a + b)


def _sub(a: Any, b: Any) -> Any:
    a, b = as_number(a), as_number(b)
    if type(a) is Decimal or type(b) is Decimal:
        _decimal_pair(a, b)
        return checked(DECIMAL_CONTEXT.subtract(a, b))
    return checked(a - b)


def _repeat(seq: Any, times: Any) -> Any:
    if issubclass(type(times), bool) or not issubclass(type(times), int):
        raise Invalid("a string or list can only be repeated an integer number of times")
    times = as_number(times)
    text = as_text(seq)
    size = len(seq) * max(times, 0)
    check_length(size, "string" if text is not None else "list")
    if text is not None:
        return text * times
    if times <= 0:
        return [] if issubclass(type(seq), list) else ()
    count, characters = content(seq, "list")
    if count * times > MAX_LENGTH:
        raise too_many("list")
    if characters * times > MAX_VALUE_CHARACTERS:
        raise too_long("list")
    return list(seq) * times if issubclass(type(seq), list) else tuple(seq) * times


def _mul(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        if a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
            raise Invalid(f"integer larger than {MAX_INT_BITS} bits")
        return checked(a * b)
    if issubclass(type(a), (str, *SEQUENCES)):
        return _repeat(a, b)
    if issubclass(type(b), (str, *SEQUENCES)):
        return _repeat(b, a)
    a, b = as_number(a), as_number(b)
    if type(a) is Decimal or type(b) is Decimal:
        _decimal_pair(a, b)
        return checked(DECIMAL_CONTEXT.multiply(a, b))
    return checked(a * b)


def _divisor(a: Any, b: Any) -> tuple[Any, Any]:
    if issubclass(type(a), str):
        raise Invalid("string formatting with % is not allowed")
    a, b = as_number(a), as_number(b)
    if b == 0:
        raise Invalid("division by zero")
    if type(a) is Decimal or type(b) is Decimal:
        _decimal_pair(a, b)
    return a, b


def _truediv(a: Any, b: Any) -> Any:
    a, b = _divisor(a, b)
    if type(a) is Decimal or type(b) is Decimal:
        return checked(DECIMAL_CONTEXT.divide(a, b))
    return checked(a / b)


def _floordiv(a: Any, b: Any) -> Any:
    a, b = _divisor(a, b)
    if type(a) is Decimal or type(b) is Decimal:
        return checked(DECIMAL_CONTEXT.divide_int(a, b))
    return checked(a // b)


def _mod(a: Any, b: Any) -> Any:
    a, b = _divisor(a, b)
    if type(a) is Decimal or type(b) is Decimal:
        return checked(DECIMAL_CONTEXT.remainder(a, b))
    return checked(a % b)


def _neg(a: Any) -> Any:
    a = as_number(a)
    if type(a) is Decimal:
        return checked(DECIMAL_CONTEXT.minus(a))
    return checked(-a)


def _pos(a: Any) -> Any:
    a = as_number(a)
    if type(a) is Decimal:
        return checked(DECIMAL_CONTEXT.plus(a))
    return a


def _not(a: Any) -> bool:
    return not truth(a)


BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: add,
    ast.Sub: _sub,
    ast.Mult: _mul,
    ast.Div: _truediv,
    ast.FloorDiv: _floordiv,
    ast.Mod: _mod,
}
"""The function of each binary operator the language allows, by node type."""
UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: _neg,
    ast.UAdd: _pos,
    ast.Not: _not,
}
"""The function of each unary operator the language allows (``-``, ``+``, ``not``)."""
REFUSED_OPERATORS: dict[type[ast.AST], str] = {
    ast.Pow: "the exponent operator ** is not allowed; multiply explicitly (x * x)",
    ast.LShift: "bit shifts (<<) are not allowed",
    ast.RShift: "bit shifts (>>) are not allowed",
    ast.BitAnd: "bitwise operators (&) are not allowed; use 'and'",
    ast.BitOr: "bitwise operators (|) are not allowed; use 'or'",
    ast.BitXor: "bitwise operators (^) are not allowed",
    ast.MatMult: "the matrix operator @ is not allowed",
    ast.Invert: "the bitwise operator ~ is not allowed; use 'not'",
}
"""Why each operator Python parses but the language refuses is refused (quoted at load)."""


# ------------------------------------------------------------------------------ comparison
def _ordered(a: Any, b: Any) -> tuple[Any, Any]:
    """Operands of <, <=, >, >=: two numbers, two strings or two date/time values."""
    sa, sb = as_text(a), as_text(b)
    if sa is not None and sb is not None:
        return sa, sb
    if issubclass(type(a), (int, float, Decimal)) and issubclass(type(b), (int, float, Decimal)):
        return as_comparable(a), as_comparable(b)
    if issubclass(type(a), TIME_TYPES) and issubclass(type(b), TIME_TYPES):
        return a, b
    raise Invalid(f"cannot order {type_name(a)} and {type_name(b)}")


def _lt(a: Any, b: Any) -> bool:
    if type(a) is int and type(b) is int:
        return a < b
    a, b = _ordered(a, b)
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    if type(a) is int and type(b) is int:
        return a <= b
    a, b = _ordered(a, b)
    return bool(a <= b)


def _gt(a: Any, b: Any) -> bool:
    if type(a) is int and type(b) is int:
        return a > b
    a, b = _ordered(a, b)
    return bool(a > b)


def _ge(a: Any, b: Any) -> bool:
    if type(a) is int and type(b) is int:
        return a >= b
    a, b = _ordered(a, b)
    return bool(a >= b)


def _eq(a: Any, b: Any) -> bool:
    kind = type(a)
    if kind is type(b) and (kind is int or kind is str):
        return bool(a == b)
    scan(a)
    scan(b)
    result = a == b
    if result is True or result is False:
        return result
    raise Invalid(f"comparing {type_name(a)} with {type_name(b)} did not give a boolean")


def _ne(a: Any, b: Any) -> bool:
    return not _eq(a, b)


def _in(item: Any, container: Any) -> bool:
    text = as_text(container)
    if text is not None:
        needle = as_text(item)
        if needle is None:
            raise Invalid(f"'in <string>' needs a string on the left, got {type_name(item)}")
        return needle in text
    if issubclass(type(container), (*COLLECTIONS, dict, Mapping)):
        scan(item)
        result = item in container
        if result is True or result is False:
            return result
        raise Invalid("membership test did not give a boolean")
    raise Invalid(f"'in' needs a string, list, tuple, set or mapping, got {type_name(container)}")


def _not_in(item: Any, container: Any) -> bool:
    return not _in(item, container)


def _is_none(a: Any, _b: Any) -> bool:
    return a is None


def _is_not_none(a: Any, _b: Any) -> bool:
    return a is not None


COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: _eq,
    ast.NotEq: _ne,
    ast.Lt: _lt,
    ast.LtE: _le,
    ast.Gt: _gt,
    ast.GtE: _ge,
    ast.In: _in,
    ast.NotIn: _not_in,
    ast.Is: _is_none,
    ast.IsNot: _is_not_none,
}
"""The function of each comparison; ``is``/``is not`` only ever compare with ``None``."""
