"""The safe functions an expression may call (len, min, max, ...), each bounded.

What lives here: one function per name of ``limits.SAFE_FUNCTIONS`` (``_fn_len``...), each
checking its arguments with ``values`` before it runs, and ``FUNCTIONS``, the table the
compiler calls them from. Their arity is checked at load (``limits.ARITY``), not here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, cast

from pystator.engine.expr.limits import (
    DECIMAL_CONTEXT,
    MAX_INT_BITS,
    MAX_NUMBER_TEXT,
    MAX_ROUND_DIGITS,
    NON_FINITE,
    Invalid,
    type_name,
)
from pystator.engine.expr.operators import add
from pystator.engine.expr.values import (
    COLLECTIONS,
    TIME_TYPES,
    as_comparable,
    as_number,
    as_text,
    check_length,
    checked,
    truth,
)

__all__ = ["BOOLEAN_FUNCTIONS", "FUNCTIONS"]


def _items(value: Any, function: str) -> list[Any]:
    if issubclass(type(value), COLLECTIONS):
        check_length(len(value), f"{function}() argument")
        return list(value)
    raise Invalid(f"{function}() needs a list, tuple or set, got {type_name(value)}")


def _fn_len(value: Any) -> int:
    if issubclass(type(value), (str, *COLLECTIONS, dict, Mapping)):
        return len(value)
    raise Invalid(f"len() of a {type_name(value)} value")


def _fn_abs(value: Any) -> Any:
    value = as_number(value)
    if type(value) is Decimal:
        return checked(DECIMAL_CONTEXT.abs(value))
    return checked(abs(value))


def _fn_round(value: Any, digits: Any = None) -> Any:
    value = as_number(value)
    if digits is not None:
        if type(digits) is not int:
            raise Invalid("round() digits must be an integer")
        if abs(digits) > MAX_ROUND_DIGITS:
            raise Invalid(f"round() digits beyond {MAX_ROUND_DIGITS}")
    if type(value) is Decimal:
        if digits is None:
            if value.adjusted() > MAX_INT_BITS // 4:
                raise Invalid(f"integer larger than {MAX_INT_BITS} bits")
            return checked(int(DECIMAL_CONTEXT.to_integral_value(value)))
        exponent = Decimal(1).scaleb(-digits, context=DECIMAL_CONTEXT)
        return checked(value.quantize(exponent, context=DECIMAL_CONTEXT))
    if type(value) is float and digits is None and abs(value) >= 2.0**MAX_INT_BITS:
        raise Invalid(f"integer larger than {MAX_INT_BITS} bits")
    return checked(round(value) if digits is None else round(value, digits))


def _fn_int(value: Any) -> int:
    text = as_text(value)
    if text is not None:
        if len(text) > MAX_NUMBER_TEXT:
            raise Invalid(f"int() of a string longer than {MAX_NUMBER_TEXT} characters")
        return cast(int, checked(int(text)))
    value = as_number(value)
    if type(value) is float and abs(value) >= 2.0**MAX_INT_BITS:
        raise Invalid(f"integer larger than {MAX_INT_BITS} bits")
    if type(value) is Decimal and value.adjusted() > MAX_INT_BITS // 4:
        raise Invalid(f"integer larger than {MAX_INT_BITS} bits")
    return cast(int, checked(int(value)))


def _fn_float(value: Any) -> float:
    text = as_text(value)
    if text is not None:
        if len(text) > MAX_NUMBER_TEXT:
            raise Invalid(f"float() of a string longer than {MAX_NUMBER_TEXT} characters")
        return cast(float, checked(float(text)))
    return cast(float, checked(float(as_number(value))))


def _fn_str(value: Any) -> str:
    text = as_text(value)
    if text is not None:
        return text
    if value is None or issubclass(type(value), bool):
        return str(value)
    if issubclass(type(value), (int, float, Decimal)):
        return str(as_number(value))
    raise Invalid(f"str() of a {type_name(value)} value is not allowed")


def _fn_bool(value: Any) -> bool:
    return truth(value)


# The functions that walk a list first look at the set of its item types (one pass in C): a
# list of plain ints, floats or strings takes the builtin directly, with the same checks made
# in bulk; anything else goes item by item.
_PLAIN_TRUTH = frozenset({bool, int, str, type(None)})


def _truths(value: Any, function: str) -> list[Any]:
    """Every item is read (no short cut): a NaN anywhere in the list fails the guard."""
    items = _items(value, function)
    if set(map(type, items)) <= _PLAIN_TRUTH:
        return items
    return [truth(item) for item in items]


def _fn_any(value: Any) -> bool:
    return any(_truths(value, "any"))


def _fn_all(value: Any) -> bool:
    return all(_truths(value, "all"))


def _int_items_ok(items: list[int]) -> None:
    if items and max(map(int.bit_length, items)) > MAX_INT_BITS:
        raise Invalid(f"integer larger than {MAX_INT_BITS} bits")


def _fn_sum(value: Any, start: Any = 0) -> Any:
    items = _items(value, "sum")
    total = as_number(start)
    kinds = set(map(type, items))
    if kinds <= {int} and type(total) is int:
        _int_items_ok(items)  # a sum of 10,000 such ints stays far below any cost
        return checked(sum(items, total))
    if kinds <= {float} and type(total) in (int, float):
        # Any NaN or infinity among the items makes the total NaN or infinite.
        return checked(sum(items, total))
    for item in items:
        total = add(total, as_number(item))
    return total


def _extreme(function: str, args: tuple[Any, ...]) -> Any:
    items = _items(args[0], function) if len(args) == 1 else list(args)
    if not items:
        raise Invalid(f"{function}() of an empty list")
    pick = min if function == "min" else max
    kinds = set(map(type, items))
    if kinds == {int} or kinds == {str}:
        return pick(items)
    if kinds == {float}:
        if not all(map(math.isfinite, items)):
            raise Invalid(NON_FINITE)
        return pick(items)
    return pick(_of_one_kind(function, items))


def _of_one_kind(function: str, items: list[Any]) -> list[Any]:
    """Items of several types as values of one orderable kind: strings (str subclasses
    included), numbers (bool, int subclasses and Decimal included, all finite) or dates."""
    texts = [as_text(item) for item in items]
    if all(t is not None for t in texts):
        return texts
    if all(issubclass(type(item), (int, float, Decimal)) for item in items):
        return [as_comparable(item) for item in items]
    if all(issubclass(type(item), TIME_TYPES) for item in items):
        return items
    raise Invalid(f"{function}() needs numbers, strings or dates of one kind")


def _fn_min(*args: Any) -> Any:
    return _extreme("min", args)


def _fn_max(*args: Any) -> Any:
    return _extreme("max", args)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": _fn_abs,
    "all": _fn_all,
    "any": _fn_any,
    "bool": _fn_bool,
    "float": _fn_float,
    "int": _fn_int,
    "len": _fn_len,
    "max": _fn_max,
    "min": _fn_min,
    "round": _fn_round,
    "str": _fn_str,
    "sum": _fn_sum,
}
"""The function of each safe name, called with the argument values."""
BOOLEAN_FUNCTIONS = frozenset({"all", "any", "bool"})
"""The functions that always return a ``bool`` (the guard needs no truth test of it)."""
