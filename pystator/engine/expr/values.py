"""Bounded operations on context values: every check runs before the operation."""

from __future__ import annotations

import ast
import datetime
import decimal
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from itertools import islice
from typing import Any

from pystator.engine.expr.limits import (
    _DECIMAL_CHECK,
    _NON_FINITE,
    DECIMAL_CONTEXT,
    MAX_DECIMAL_DIGITS,
    MAX_INT_BITS,
    MAX_LENGTH,
    MAX_VALUE_CHARACTERS,
    _Invalid,
    _type_name,
)


# --------------------------------------------------------------------------- value checks
def _decimal(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise _Invalid(_NON_FINITE)
    try:
        _DECIMAL_CHECK.plus(value)
    except decimal.DecimalException:
        raise _Invalid(
            f"Decimal {value:.6E} has more than {MAX_DECIMAL_DIGITS} digits or is out of range"
        ) from None
    return value


# Type tests use ``issubclass(type(v), ...)``, never ``isinstance(v, ...)``: ``isinstance``
# falls back to reading ``v.__class__`` through the object's own ``__getattribute__``, and no
# attribute of a context value is ever read.


def _number(value: Any) -> Any:
    """``value`` as a checked number (int, float or Decimal), or ``_Invalid``."""
    kind = type(value)
    if kind is int:
        if value.bit_length() > MAX_INT_BITS:
            raise _Invalid(f"integer larger than {MAX_INT_BITS} bits")
        return value
    if kind is float:
        if value - value != 0.0:
            raise _Invalid(_NON_FINITE)
        return value
    if kind is bool:
        return int(value)
    if kind is Decimal:
        return _decimal(value)
    # Subclasses (IntEnum, ...): read the plain value through the base class, run no user code.
    if issubclass(type(value), int):
        return _number(int.__int__(value))
    if issubclass(type(value), float):
        return _number(float.__float__(value))
    if issubclass(type(value), Decimal):
        return _decimal(Decimal(value))
    raise _Invalid(f"expected a number, got {_type_name(value)}")


def _comparable(value: Any) -> Any:
    """A number for ordering: any size (comparing is cheap), but finite."""
    kind = type(value)
    if kind is int or kind is bool:
        return value
    if kind is float:
        if value - value != 0.0:
            raise _Invalid(_NON_FINITE)
        return value
    if issubclass(type(value), Decimal):
        if not value.is_finite():
            raise _Invalid(_NON_FINITE)
        return value
    if issubclass(type(value), int):
        return int.__int__(value)
    return _comparable(float.__float__(value))


def _text(value: Any) -> str | None:
    """A plain ``str`` for a string (or str subclass), else ``None``."""
    if type(value) is str:
        return value
    if issubclass(type(value), str):
        return str.__str__(value)
    return None


def _length_ok(n: int, what: str) -> None:
    if n > MAX_LENGTH:
        unit = "characters" if what == "string" else "items"
        raise _Invalid(f"{what} longer than {MAX_LENGTH} {unit}")


_SEQUENCES = (list, tuple)
_COLLECTIONS = (list, tuple, set, frozenset)
_TIME_TYPES = (datetime.datetime, datetime.date, datetime.time, datetime.timedelta)
_SCALAR_TYPES = frozenset({int, float, bool, type(None)})
_FLAT_TYPES = _SCALAR_TYPES | {str}


def _content(
    items: Collection[Any],
    what: str,
    items_left: int = MAX_LENGTH,
    characters_left: int = MAX_VALUE_CHARACTERS,
) -> tuple[int, int]:
    """(items, characters) of the values of ``items``, which an operation is about to put in
    a new ``what`` (``"list"``...), counted as its JSON would hold them: every value each time
    it appears, the values nested in it included, and the characters of every string.

    Raises ``_Invalid`` as soon as the items pass ``items_left`` (``MAX_LENGTH``) or the
    characters ``characters_left`` (``MAX_VALUE_CHARACTERS``): the walk visits at most
    ``items_left`` values, however much structure they share (``[l, l]`` repeated) and even
    if one holds itself. A value of another type (a date, a Decimal, an object) is one item.
    """
    count = len(items)
    if count > items_left:
        raise _too_many(what)
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
                raise _too_long(what)
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
                raise _too_long(what)
            return count, characters
    count, characters = _walk(list(items), what, items_left)
    if characters > characters_left:
        raise _too_long(what)
    return count, characters


def _walk(stack: list[Any], what: str, items_left: int) -> tuple[int, int]:
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
                raise _too_many(what)
            push(item)
        elif kind is str:
            characters += len(item)
        elif kind in _SCALAR_TYPES:
            continue
        elif kind is dict or issubclass(kind, dict):
            left -= 2 * dict.__len__(item)
            if left < 0:
                raise _too_many(what)
            push(dict.keys(item))
            push(dict.values(item))
        elif issubclass(kind, str):
            characters += str.__len__(item)
        elif issubclass(kind, _COLLECTIONS):
            left -= len(item)
            if left < 0:
                raise _too_many(what)
            push(item)
        elif issubclass(kind, Mapping):  # a nested model, read through a mapping view
            size = len(item)
            left -= 2 * size
            if left < 0:
                raise _too_many(what)
            keys = list(islice(iter(item), size))
            push(keys)
            push([item[key] for key in keys])
    return items_left - left, characters


def _too_many(what: str) -> _Invalid:
    return _Invalid(
        f"{what} would hold more than {MAX_LENGTH} items in all "
        "(nested items count each time they appear)"
    )


def _too_long(what: str) -> _Invalid:
    return _Invalid(
        f"{what} would hold more than {MAX_VALUE_CHARACTERS} characters of strings in all "
        "(nested strings count each time they appear)"
    )


def _scan(value: Any) -> None:
    """Refuse NaN/infinity anywhere inside ``value`` (containers walked, at most MAX_LENGTH)."""
    kind = type(value)
    if kind is int or kind is str or kind is bool or value is None:
        return
    if kind is float:
        if value - value != 0.0:
            raise _Invalid(_NON_FINITE)
        return
    budget = MAX_LENGTH
    stack: list[Any] = [value]
    pop, push = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is int or kind is str or kind is bool or item is None:
            continue
        if kind is float:
            if item - item != 0.0:
                raise _Invalid(_NON_FINITE)
            continue
        if kind is list or kind is tuple:
            budget -= len(item)
        elif kind is dict:
            budget -= 2 * len(item)
        elif issubclass(kind, (float, Decimal)):
            if not _finite(item):
                raise _Invalid(_NON_FINITE)
            continue
        elif not issubclass(kind, (*_COLLECTIONS, dict)):
            continue  # an opaque object: only ever compared, never walked
        else:
            budget -= len(item)
        if budget < 0:
            raise _Invalid(f"containers compared hold more than {MAX_LENGTH} items")
        if issubclass(kind, dict):
            push(item.keys())
            push(item.values())
        else:
            push(item)


def _finite(value: Any) -> bool:
    """A float or Decimal (or a subclass) that is neither NaN nor infinite."""
    if issubclass(type(value), Decimal):
        return bool(Decimal.is_finite(value))
    number = float.__float__(value)
    return number - number == 0.0


def _truth(value: Any) -> bool:
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
            raise _Invalid(_NON_FINITE)
        return bool(value != 0.0)
    if kind is str or kind is list or kind is tuple or kind is dict:
        return len(value) != 0
    if issubclass(type(value), (int, float, Decimal)):
        return bool(_number(value) != 0)
    if issubclass(type(value), (str, *_COLLECTIONS, dict, Mapping)):
        return len(value) != 0
    raise _Invalid(f"a {_type_name(value)} value cannot be used as a condition")


# ------------------------------------------------------------------------------ arithmetic
def _decimal_pair(a: Any, b: Any) -> None:
    if type(a) is float or type(b) is float:
        raise _Invalid("cannot mix Decimal and float; convert with float() first")


def _checked(result: Any) -> Any:
    kind = type(result)
    if kind is int:
        if result.bit_length() > MAX_INT_BITS:
            raise _Invalid(f"integer larger than {MAX_INT_BITS} bits")
    elif kind is float:
        if result - result != 0.0:
            raise _Invalid(_NON_FINITE)
    elif kind is Decimal:
        _decimal(result)
    return result


def _add(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        if a.bit_length() > MAX_INT_BITS or b.bit_length() > MAX_INT_BITS:
            raise _Invalid(f"integer larger than {MAX_INT_BITS} bits")
        return _checked(a + b)
    sa, sb = _text(a), _text(b)
    if sa is not None and sb is not None:
        _length_ok(len(sa) + len(sb), "string")
        return sa + sb
    if issubclass(type(a), _SEQUENCES) and issubclass(type(b), _SEQUENCES):
        if issubclass(type(a), list) != issubclass(type(b), list):
            raise _Invalid("cannot add a list and a tuple")
        _length_ok(len(a) + len(b), "list")
        count, characters = _content(a, "list")
        _content(b, "list", MAX_LENGTH - count, MAX_VALUE_CHARACTERS - characters)
        return [*a, *b] if issubclass(type(a), list) else (*a, *b)
    a, b = _number(a), _number(b)
    if type(a) is Decimal or type(b) is Decimal:
        _decimal_pair(a, b)
        return _checked(DECIMAL_CONTEXT.add(a, b))
    return _checked(a + b)


def _sub(a: Any, b: Any) -> Any:
    a, b = _number(a), _number(b)
    if type(a) is Decimal or type(b) is Decimal:
        _decimal_pair(a, b)
        return _checked(DECIMAL_CONTEXT.subtract(a, b))
    return _checked(a - b)


def _repeat(seq: Any, times: Any) -> Any:
    if issubclass(type(times), bool) or not issubclass(type(times), int):
        raise _Invalid("a string or list can only be repeated an integer number of times")
    times = _number(times)
    text = _text(seq)
    size = len(seq) * max(times, 0)
    _length_ok(size, "string" if text is not None else "list")
    if text is not None:
        return text * times
    if times <= 0:
        return [] if issubclass(type(seq), list) else ()
    count, characters = _content(seq, "list")
    if count * times > MAX_LENGTH:
        raise _too_many("list")
    if characters * times > MAX_VALUE_CHARACTERS:
        raise _too_long("list")
    return list(seq) * times if issubclass(type(seq), list) else tuple(seq) * times


def _mul(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        if a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
            raise _Invalid(f"integer larger than {MAX_INT_BITS} bits")
        return _checked(a * b)
    if issubclass(type(a), (str, *_SEQUENCES)):
        return _repeat(a, b)
    if issubclass(type(b), (str, *_SEQUENCES)):
        return _repeat(b, a)
    a, b = _number(a), _number(b)
    if type(a) is Decimal or type(b) is Decimal:
        _decimal_pair(a, b)
        return _checked(DECIMAL_CONTEXT.multiply(a, b))
    return _checked(a * b)


def _divisor(a: Any, b: Any) -> tuple[Any, Any]:
    if issubclass(type(a), str):
        raise _Invalid("string formatting with % is not allowed")
    a, b = _number(a), _number(b)
    if b == 0:
        raise _Invalid("division by zero")
    if type(a) is Decimal or type(b) is Decimal:
        _decimal_pair(a, b)
    return a, b


def _truediv(a: Any, b: Any) -> Any:
    a, b = _divisor(a, b)
    if type(a) is Decimal or type(b) is Decimal:
        return _checked(DECIMAL_CONTEXT.divide(a, b))
    return _checked(a / b)


def _floordiv(a: Any, b: Any) -> Any:
    a, b = _divisor(a, b)
    if type(a) is Decimal or type(b) is Decimal:
        return _checked(DECIMAL_CONTEXT.divide_int(a, b))
    return _checked(a // b)


def _mod(a: Any, b: Any) -> Any:
    a, b = _divisor(a, b)
    if type(a) is Decimal or type(b) is Decimal:
        return _checked(DECIMAL_CONTEXT.remainder(a, b))
    return _checked(a % b)


def _neg(a: Any) -> Any:
    a = _number(a)
    if type(a) is Decimal:
        return _checked(DECIMAL_CONTEXT.minus(a))
    return _checked(-a)


def _pos(a: Any) -> Any:
    a = _number(a)
    if type(a) is Decimal:
        return _checked(DECIMAL_CONTEXT.plus(a))
    return a


def _not(a: Any) -> bool:
    return not _truth(a)


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: _add,
    ast.Sub: _sub,
    ast.Mult: _mul,
    ast.Div: _truediv,
    ast.FloorDiv: _floordiv,
    ast.Mod: _mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: _neg,
    ast.UAdd: _pos,
    ast.Not: _not,
}
_REFUSED_OPERATORS: dict[type[ast.AST], str] = {
    ast.Pow: "the exponent operator ** is not allowed; multiply explicitly (x * x)",
    ast.LShift: "bit shifts (<<) are not allowed",
    ast.RShift: "bit shifts (>>) are not allowed",
    ast.BitAnd: "bitwise operators (&) are not allowed; use 'and'",
    ast.BitOr: "bitwise operators (|) are not allowed; use 'or'",
    ast.BitXor: "bitwise operators (^) are not allowed",
    ast.MatMult: "the matrix operator @ is not allowed",
    ast.Invert: "the bitwise operator ~ is not allowed; use 'not'",
}


# ------------------------------------------------------------------------------ comparison
def _ordered(a: Any, b: Any) -> tuple[Any, Any]:
    """Operands of <, <=, >, >=: two numbers, two strings or two date/time values."""
    sa, sb = _text(a), _text(b)
    if sa is not None and sb is not None:
        return sa, sb
    if issubclass(type(a), (int, float, Decimal)) and issubclass(type(b), (int, float, Decimal)):
        return _comparable(a), _comparable(b)
    if issubclass(type(a), _TIME_TYPES) and issubclass(type(b), _TIME_TYPES):
        return a, b
    raise _Invalid(f"cannot order {_type_name(a)} and {_type_name(b)}")


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
    _scan(a)
    _scan(b)
    result = a == b
    if result is True or result is False:
        return result
    raise _Invalid(f"comparing {_type_name(a)} with {_type_name(b)} did not give a boolean")


def _ne(a: Any, b: Any) -> bool:
    return not _eq(a, b)


def _in(item: Any, container: Any) -> bool:
    text = _text(container)
    if text is not None:
        needle = _text(item)
        if needle is None:
            raise _Invalid(f"'in <string>' needs a string on the left, got {_type_name(item)}")
        return needle in text
    if issubclass(type(container), (*_COLLECTIONS, dict, Mapping)):
        _scan(item)
        result = item in container
        if result is True or result is False:
            return result
        raise _Invalid("membership test did not give a boolean")
    raise _Invalid(f"'in' needs a string, list, tuple, set or mapping, got {_type_name(container)}")


def _not_in(item: Any, container: Any) -> bool:
    return not _in(item, container)


def _is_none(a: Any, _b: Any) -> bool:
    return a is None


def _is_not_none(a: Any, _b: Any) -> bool:
    return a is not None


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
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
