"""Fuzzing the expression compiler and evaluator with Hypothesis.

Inputs: arbitrary text, text over the characters expressions are made of, and random
expression trees written out as text (allowed and forbidden constructs mixed). Properties:

* compiling raises nothing but ``ConfigurationError``;
* evaluating returns ``True`` or ``False`` and raises nothing (``GuardEvaluationError`` only
  with ``on_missing="error"``), on plain, hostile and generated contexts;
* no single compilation or evaluation takes more than 50 ms of CPU time, and the context is
  unchanged;
* the fast path (plain ``dict``) and the checked path (any other mapping) agree, and simple
  comparisons agree with Python wherever Python's answer is defined and finite.
"""

from __future__ import annotations

import copy
import gc
import math
import operator
import time
from collections.abc import Callable
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pystator.engine.expr import compile_expression
from pystator.errors import ConfigurationError, GuardEvaluationError

TIME_LIMIT = 0.050
FUZZ = settings(
    max_examples=300,
    deadline=None,  # time is checked by the test itself, per call
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def timed(fn: Callable[[], Any]) -> Any:
    """Run ``fn``; fail when it takes longer than TIME_LIMIT on each of three attempts.

    The time is the calling thread's CPU time (``time.thread_time``): other processes on a
    busy machine do not count; retrying absorbs what remains (caches, a page fault), and a
    real hang fails every attempt. The garbage collector is paused during the call (its work
    is not the expression's).
    """
    best = float("inf")
    for _ in range(3):
        enabled = gc.isenabled()
        gc.disable()
        start = time.thread_time()
        try:
            result = fn()
        finally:
            best = min(best, time.thread_time() - start)
            if enabled:
                gc.enable()
        if best < TIME_LIMIT:
            return result
    raise AssertionError(f"took {best * 1000:.1f} ms")


# --------------------------------------------------------------------------- strategies
NAMES = [
    "x",
    "y",
    "s",
    "items",
    "order",
    "qty",
    "missing",
    "nan",
    "inf",
    "big",
    "d",
    "obj",
    "true",
    "null",
    "None",
    "True",
    "len",
    "eval",
    "__class__",
    "__import__",
    "_private",
]
FUNCTIONS = [
    "len",
    "min",
    "max",
    "abs",
    "round",
    "int",
    "float",
    "str",
    "bool",
    "any",
    "all",
    "sum",
    "eval",
    "getattr",
    "open",
    "type",
    "print",
    "sorted",
]
BINARY = [
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "**",
    "<<",
    ">>",
    "&",
    "|",
    "^",
    "@",
    " and ",
    " or ",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    " in ",
    " not in ",
    " is ",
    " is not ",
]
UNARY = ["-", "+", "not ", "~"]

literals = st.one_of(
    st.integers(min_value=-(10**80), max_value=10**80).map(str),
    st.sampled_from(["0", "1", "-1", "10**9", "1e308", "1e999", "0.5", "2**64", "1j", "..."]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(max_size=12).map(repr),
    st.sampled_from(["[]", "()", "{}", "[1, 2]", "'a' * 100", "b'x'", "None", "True"]),
)
leaves = st.one_of(st.sampled_from(NAMES), literals)


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    two = st.tuples(inner, inner)
    return st.one_of(
        st.tuples(inner, st.sampled_from(BINARY), inner).map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
        st.tuples(st.sampled_from(UNARY), inner).map(lambda t: f"({t[0]}{t[1]})"),
        st.tuples(st.sampled_from(FUNCTIONS), st.lists(inner, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"
        ),
        st.tuples(inner, st.sampled_from(["qty", "b", "__class__", "upper", "clear"])).map(
            lambda t: f"{t[0]}.{t[1]}"
        ),
        two.map(lambda t: f"{t[0]}[{t[1]}]"),
        two.map(lambda t: f"{t[0]}[{t[1]}:]"),
        st.lists(inner, max_size=4).map(lambda xs: f"[{', '.join(xs)}]"),
        st.lists(inner, max_size=4).map(lambda xs: f"({', '.join(xs)},)"),
        st.lists(inner, min_size=1, max_size=4).map(lambda xs: f"{{{', '.join(xs)}}}"),
        two.map(lambda t: f"{{{t[0]}: {t[1]}}}"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        inner.map(lambda e: f"(lambda: {e})()"),
        two.map(lambda t: f"[{t[0]} for v in {t[1]}]"),
        inner.map(lambda e: f"(w := {e})"),
        inner.map(lambda e: f"f'{{{e}}}'"),
        inner.map(lambda e: f"max(*{e})"),
        two.map(lambda t: f"min({t[0]}, key={t[1]})"),
        inner.map(lambda e: f"{e}.format(x)"),
        st.tuples(inner, st.sampled_from(["<", "<=", "=="]), inner, inner).map(
            lambda t: f"{t[0]} {t[1]} {t[2]} {t[1]} {t[3]}"
        ),
    )


expressions = st.recursive(leaves, _extend, max_leaves=25)
"""Allowed and forbidden constructs mixed: mostly refused, exercises the compiler."""

SAFE_NAMES = [n for n in NAMES if not n.startswith("__") and n not in {"len", "eval"}]
SAFE_FUNCTIONS = FUNCTIONS[:12]
SAFE_BINARY = [op for op in BINARY if op not in {"**", "<<", ">>", "&", "|", "^", "@"}]
SAFE_BINARY = [op for op in SAFE_BINARY if op not in {" is ", " is not "}]
safe_literals = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["0", "1", "-1", "2", "0.5", "1e308", "-1e308", "None", "true", "null"]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(alphabet="abc%{}_", max_size=6).map(repr),
    st.sampled_from(["[]", "()", "[1, 2]", "['a', 'b']", "(1.5, 2)", "'a' * 100"]),
)


def _extend_safe(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    two = st.tuples(inner, inner)
    return st.one_of(
        st.tuples(inner, st.sampled_from(SAFE_BINARY), inner).map(
            lambda t: f"({t[0]}{t[1]}{t[2]})"
        ),
        st.tuples(st.sampled_from(["-", "+", "not "]), inner).map(lambda t: f"({t[0]}{t[1]})"),
        st.tuples(st.sampled_from(SAFE_FUNCTIONS), inner).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(["min", "max", "round", "sum"]), two).map(
            lambda t: f"{t[0]}({t[1][0]}, {t[1][1]})"
        ),
        st.tuples(st.sampled_from(SAFE_NAMES), st.sampled_from(["qty", "b", "clear"])).map(
            lambda t: f"{t[0]}.{t[1]}"
        ),
        st.tuples(inner, st.sampled_from(["0", "-1", "'qty'", "x"])).map(
            lambda t: f"{t[0]}[{t[1]}]"
        ),
        st.lists(inner, max_size=4).map(lambda xs: f"[{', '.join(xs)}]"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(inner, st.sampled_from(["<", "<=", "=="]), inner, inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]} {t[1]} {t[3]})"
        ),
        inner.map(lambda e: f"({e} is None)"),
    )


safe_expressions = st.recursive(
    st.one_of(st.sampled_from(SAFE_NAMES), safe_literals), _extend_safe, max_leaves=20
)
"""Only the language's own constructs: mostly accepted, exercises the evaluator."""
expression_text = st.text(
    alphabet=st.sampled_from(list("xyzs01279 ._()[]{}'\"+-*/%<>=!&|^~,:;@#\\\n\tabnotdilf")),
    max_size=120,
)


class Opaque:
    """An object that must never be introspected."""

    def __getattribute__(self, name: str) -> Any:
        raise AssertionError(f"attribute {name!r} of a context object was read")


def _hostile() -> dict[str, Any]:
    nested: list[Any] = []
    for _ in range(200):  # deeper nesting is in test_expression_attacks (deepcopy recurses)
        nested = [nested]
    return {
        "x": 3,
        "y": 2.5,
        "s": "spam" * 1000,
        "items": list(range(50)),
        "order": {"qty": 2, "b": {"qty": 1}, "clear": 1},
        "qty": Decimal("1.5"),
        "nan": float("nan"),
        "inf": float("-inf"),
        "big": 10**3000,
        "d": nested,
        "obj": Opaque(),
        "_private": "_",
    }


HOSTILE = _hostile()
HOSTILE_SNAPSHOT = copy.deepcopy({k: v for k, v in HOSTILE.items() if k != "obj"})

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=20),
        st.decimals(allow_nan=True, allow_infinity=True),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(NAMES), inner, max_size=3)
    ),
    max_leaves=10,
)
contexts = st.dictionaries(st.sampled_from(NAMES), json_values, max_size=8)


# --------------------------------------------------------------------------- helpers
def _same(a: Any, b: Any) -> bool:
    """Structural equality where NaN equals NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, Decimal) and isinstance(b, Decimal) and a.is_nan() and b.is_nan():
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def check(source: str, context: dict[str, Any], snapshot: dict[str, Any] | None = None) -> None:
    """``snapshot``: the context as it must stay (without ``obj``, which cannot be copied)."""
    opaque = snapshot is not None
    if snapshot is None:
        snapshot = copy.deepcopy(context)
    try:
        evaluate = timed(lambda: compile_expression(source))
        strict = compile_expression(source, on_missing="error")
    except ConfigurationError:
        return
    result = timed(lambda: evaluate(context))
    assert result is True or result is False
    assert timed(lambda: evaluate(MappingProxyType(context))) is result
    explanation = evaluate.explain(context)
    assert (explanation is None) is result
    try:
        strict_result: bool | None = timed(lambda: strict(context))
        error = ""
    except GuardEvaluationError as exc:
        strict_result, error = None, str(exc)
    if strict_result is None:
        # Only a missing key raises, and a missing key is a false guard in the default mode.
        assert "is missing" in error
        assert result is False
    else:
        assert strict_result is result
    compared = {k: v for k, v in context.items() if not (opaque and k == "obj")}
    assert _same(compared, snapshot)


# --------------------------------------------------------------------------- properties
@FUZZ
@given(source=st.text(max_size=300))
def test_arbitrary_text(source: str) -> None:
    check(source, HOSTILE, HOSTILE_SNAPSHOT)


@FUZZ
@given(source=expression_text)
def test_expression_characters(source: str) -> None:
    check(source, HOSTILE, HOSTILE_SNAPSHOT)


@FUZZ
@given(source=expressions)
def test_random_expression_trees_on_a_hostile_context(source: str) -> None:
    check(source, HOSTILE, HOSTILE_SNAPSHOT)


@FUZZ
@given(source=safe_expressions)
def test_allowed_expression_trees_on_a_hostile_context(source: str) -> None:
    check(source, HOSTILE, HOSTILE_SNAPSHOT)


@FUZZ
@given(source=st.one_of(safe_expressions, expressions), context=contexts)
def test_random_expression_trees_on_random_contexts(source: str, context: dict[str, Any]) -> None:
    check(source, context)


OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
scalars = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=3),
    st.booleans(),
    st.none(),
)


def _python_answer(op: str, a: Any, b: Any) -> bool:
    """What the expression must answer: Python's, where defined and finite; else False."""
    for value in (a, b):
        if isinstance(value, float) and not math.isfinite(value):
            return False
    try:
        return bool(OPERATORS[op](a, b))
    except TypeError:
        return False


@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from(sorted(OPERATORS)), a=scalars, b=scalars, literal=st.booleans())
def test_simple_comparisons_agree_with_python(op: str, a: Any, b: Any, literal: bool) -> None:
    if literal and isinstance(b, int | str) and not isinstance(b, bool):
        source, context = f"a {op} {b!r}", {"a": a}
    else:
        source, context = f"a {op} b", {"a": a, "b": b}
    fn = compile_expression(source)
    expected = _python_answer(op, a, b)
    if op in {"<", "<=", ">", ">="} and (a is None or b is None):
        expected = False
    assert fn(context) is expected
    assert fn(MappingProxyType(context)) is expected
