"""Fast paths for the most common expressions: a guard that is one comparison of context keys
and literals, and an ``assign`` value that adds or subtracts two of them (``total + 1``).

What lives here: ``fast_compare`` (a one-comparison guard's evaluator), ``fast_explain`` (its
``explain``, which is what the engine calls on an ``expr`` guard) and ``fast_value`` (an
``assign`` value of two ints). Each fast evaluator answers only the plain case (an exact
``dict`` context holding ints, strings or finite floats) and hands every other case to the
checked evaluator it was built with, its plain twin; ``tests/unit/test_hot_path_copies.py``
compares the two.

A speed trick, kept for these benchmark rows:

* ``python -m benchmarks --only unhappy`` row 10b (an ``expr`` guard saying no) and its
  reference, the same call with the guard passing: ``fast_explain``;
* ``python -m benchmarks.expr_bench`` (``fill_qty >= order_qty`` against a named Python
  guard, int and float contexts): ``fast_explain``;
* ``python -m benchmarks.typed_bench``, row "process, assign 1 field": ``fast_value``.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pystator._twins import use_plain_twin
from pystator.engine.expr.compiler import Code
from pystator.engine.expr.limits import MAX_INT_BITS, Context

__all__ = ["FALSE", "fast_compare", "fast_explain", "fast_value"]

_R = TypeVar("_R")
_Fallback = Callable[[Context], bool]
_Explain = Callable[[Context], str | None]

FALSE = "the expression is false"
"""What ``explain`` says of an expression that computed to false."""

# Measuring only (``pystator._twins``): no fast evaluator is made, so every expression runs
# on its checked evaluator, the plain twin.
_PLAIN = use_plain_twin("fast_expr")


def fast_compare(
    op: type[ast.cmpop], left: Code, right: Code, fallback: _Fallback
) -> _Fallback | None:
    """The whole evaluator of ``name OP name``, ``name OP literal`` or ``literal OP name``.

    For a plain ``dict`` context holding two ints, two strings or two finite floats the
    comparison is answered with one call of the operator; every other case (a missing key,
    other types, NaN, another mapping) is handed to ``fallback``, the checked evaluator.
    """
    return _fast(op, left, right, fallback, _OPERATORS)


def fast_explain(
    op: type[ast.cmpop], left: Code, right: Code, fallback: _Explain
) -> _Explain | None:
    """``explain`` of the expressions ``fast_compare`` answers, on the same fast path.

    It answers ``None`` (the comparison holds) or ``FALSE`` after the same reads and checks,
    and hands every other case to ``fallback``, the checked ``explain``. The engine asks an
    ``expr`` guard why not rather than whether (``CompiledGuard.why_not``), so this is both
    the guard's evaluator and its rejection's detail, in one call (benchmark row 10b).
    """
    return _fast(op, left, right, fallback, _VERDICTS)


def _fast(
    op: type[ast.cmpop],
    left: Code,
    right: Code,
    fallback: Callable[[Context], _R],
    operators: Mapping[type[ast.cmpop], Callable[[Any, Any], _R]],
) -> Callable[[Context], _R] | None:
    compare = operators.get(op)
    if compare is None or _PLAIN:
        return None
    if left.key is not None and right.key is not None:
        return _name_name(compare, left.key, right.key, fallback)
    if left.key is not None and right.const and type(right.value) in (int, str, float):
        return _name_const(compare, left.key, right.value, fallback)
    if right.key is not None and left.const and type(left.value) in (int, str, float):
        return _name_const(operators[_MIRROR[op]], right.key, left.value, fallback)
    return None


_OPERATORS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
# ``explain``'s answers: ``None`` when the comparison holds.
_VERDICTS: dict[type[ast.cmpop], Callable[[Any, Any], str | None]] = {
    ast.Lt: lambda a, b: None if a < b else FALSE,
    ast.LtE: lambda a, b: None if a <= b else FALSE,
    ast.Gt: lambda a, b: None if a > b else FALSE,
    ast.GtE: lambda a, b: None if a >= b else FALSE,
    ast.Eq: lambda a, b: None if a == b else FALSE,
    ast.NotEq: lambda a, b: None if a != b else FALSE,
}
_MIRROR: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.Gt,
    ast.LtE: ast.GtE,
    ast.Gt: ast.Lt,
    ast.GtE: ast.LtE,
    ast.Eq: ast.Eq,
    ast.NotEq: ast.NotEq,
}


# Exact ``dict`` only: a subclass may define ``__missing__`` (defaultdict would insert the
# key), so every other mapping takes the fallback, which reads with ``.get``. ``a - a == 0.0``
# is false exactly for NaN and infinities.
def _name_name(
    compare: Callable[[Any, Any], _R], a_key: str, b_key: str, fallback: Callable[[Context], _R]
) -> Callable[[Context], _R]:
    def evaluate(ctx: Context, /) -> _R:
        if type(ctx) is dict:
            try:
                a = ctx[a_key]
                b = ctx[b_key]
            except KeyError:
                return fallback(ctx)
            kind = type(a)
            if kind is type(b) and (
                kind is int or kind is str or (kind is float and a - a == 0.0 and b - b == 0.0)
            ):
                return compare(a, b)
        return fallback(ctx)

    return evaluate


def _name_const(
    compare: Callable[[Any, Any], _R], key: str, b: Any, fallback: Callable[[Context], _R]
) -> Callable[[Context], _R]:
    kind = type(b)
    finite = kind is float

    def evaluate(ctx: Context, /) -> _R:
        if type(ctx) is dict:
            try:
                a = ctx[key]
            except KeyError:
                return fallback(ctx)
            if type(a) is kind and (not finite or a - a == 0.0):
                return compare(a, b)
        return fallback(ctx)

    return evaluate


# ``assign`` values (benchmark ``typed_bench``, row "process, assign 1 field"): ``name + 1``,
# ``name - other``. Only two ints are answered here; a result past the language's integer
# limit, a missing key, floats, strings and every other mapping take the checked evaluator.
_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
}


def fast_value(
    op: type[ast.operator], left: Code, right: Code, fallback: Callable[[Context], Any]
) -> Callable[[Context], Any] | None:
    """The evaluator of ``name +/- name`` or ``name +/- integer`` for two ints in a dict."""
    compute = _ARITHMETIC.get(op)
    if compute is None or _PLAIN:
        return None
    if left.key is not None and right.key is not None:
        a_key, b_key = left.key, right.key

        def names(ctx: Context, /) -> Any:
            if type(ctx) is dict:
                a = ctx.get(a_key)
                b = ctx.get(b_key)
                if type(a) is int and type(b) is int:
                    result = compute(a, b)
                    if (
                        result.bit_length() <= MAX_INT_BITS
                        and a.bit_length() <= MAX_INT_BITS
                        and b.bit_length() <= MAX_INT_BITS
                    ):
                        return result
            return fallback(ctx)

        return names
    if left.key is not None and right.const and type(right.value) is int:
        key, constant = left.key, right.value
        if constant.bit_length() > MAX_INT_BITS:
            return None

        def name_constant(ctx: Context, /) -> Any:
            if type(ctx) is dict:
                a = ctx.get(key)
                if type(a) is int:
                    result = compute(a, constant)
                    if result.bit_length() <= MAX_INT_BITS and a.bit_length() <= MAX_INT_BITS:
                        return result
            return fallback(ctx)

        return name_constant
    return None
