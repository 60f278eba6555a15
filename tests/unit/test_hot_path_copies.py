"""The expression language's fast paths answer as the checked ways they replace: the fast
``explain`` and value of a one-comparison expression (``engine.expr.fast``)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from pystator.engine.expr import ExpressionError, compile_expression, compile_value

# ``explain`` of a one-comparison expression has a fast twin (``engine.expr.fast``), which is
# what the sync driver calls to evaluate an ``expr`` guard and name why it said no. It must
# answer exactly as the checked ``explain`` does; a read-only mapping always takes the checked
# path, so each answer on a plain dict is compared with the answer on the same data behind a
# ``MappingProxyType``.
FAST_FORMS = [
    "qty >= limit",
    "qty < limit",
    "qty == limit",
    "qty != limit",
    "qty > 10",
    "qty <= 2.5",
    "10 < qty",
    "'b' > qty",
    "qty == 'open'",
]
CONTEXTS: list[dict[str, Any]] = [
    {},
    {"qty": 1},
    {"limit": 1},
    {"qty": 1, "limit": 2},
    {"qty": 2, "limit": 2},
    {"qty": 3, "limit": 2},
    {"qty": 11},
    {"qty": 2.5, "limit": 2.5},
    {"qty": 1.0, "limit": 1},
    {"qty": True, "limit": 1},
    {"qty": float("nan"), "limit": 1.0},
    {"qty": float("inf"), "limit": 1.0},
    {"qty": "a", "limit": "b"},
    {"qty": "open"},
    {"qty": "a", "limit": 1},
    {"qty": None, "limit": None},
    {"qty": [1], "limit": [1]},
    {"qty": 2**70, "limit": 2**70 + 1},
]


@pytest.mark.parametrize("source", FAST_FORMS)
def test_fast_explain_answers_as_the_checked_explain(source: str) -> None:
    fn = compile_expression(source)
    assert fn.explain.__qualname__.startswith("_name_"), "not on the fast path"
    for ctx in CONTEXTS:
        fast = fn.explain(ctx)
        assert fast == fn.explain(MappingProxyType(ctx)), ctx
        assert (fast is None) is fn(ctx), ctx  # and it agrees with the evaluator


# An ``assign`` value that adds or subtracts two ints has a fast twin too; it must compute
# what the checked evaluator computes, and fail where it fails (compared on a read-only
# mapping, which always takes the checked path).
VALUE_FORMS = ["qty + 1", "qty - 1", "qty + limit", "qty - limit", "qty + -3"]
VALUE_CONTEXTS: list[dict[str, Any]] = [
    *CONTEXTS,
    {"qty": 2**256 - 1, "limit": 1},
    {"qty": -(2**256) + 1, "limit": 1},
    {"qty": 2**257, "limit": -(2**257)},
    {"qty": 5, "limit": 2**300},
]


def _value_or_error(fn: Any, ctx: Any) -> Any:
    try:
        return ("value", fn(ctx))
    except ExpressionError as exc:
        return ("error", str(exc))


@pytest.mark.parametrize("source", VALUE_FORMS)
def test_fast_value_computes_as_the_checked_value(source: str) -> None:
    fn = compile_value(source)
    assert fn.__qualname__.startswith("fast_value."), "not on the fast path"
    for ctx in VALUE_CONTEXTS:
        fast = _value_or_error(fn, ctx)
        checked = _value_or_error(fn, MappingProxyType(ctx))
        assert fast == checked, ctx
        if fast[0] == "value":
            assert type(fast[1]) is type(checked[1]), ctx
