"""Inline guard expressions: the language, its errors, missing keys, NaN rules, limits, and
``expr`` guards in a real machine."""

from __future__ import annotations

import asyncio
import copy
import datetime
import enum
import functools
from collections import defaultdict
from collections.abc import Iterator, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest

from pystator import StateMachine
from pystator.engine.expr import (
    MAX_DEPTH,
    MAX_INT_BITS,
    MAX_LENGTH,
    MAX_NODES,
    MAX_SOURCE_LENGTH,
    MAX_TOKENS,
    SAFE_FUNCTIONS,
    compile_expression,
)
from pystator.engine.index import state_table
from pystator.engine.step import compile_machine
from pystator.errors import ConfigurationError, GuardEvaluationError, GuardRejectedError
from pystator.models.definition import MachineDefinition

NAN = float("nan")
INF = float("inf")


def ev(source: str, context: Mapping[str, Any] | None = None, **kwargs: Any) -> bool:
    return compile_expression(source, **kwargs)(context if context is not None else {})


def refused(source: str) -> str:
    with pytest.raises(ConfigurationError) as info:
        compile_expression(source)
    return str(info.value)


class Side(enum.IntEnum):
    BUY = 1
    SELL = 2


class Status(enum.StrEnum):
    OPEN = "OPEN"
    FILLED = "FILLED"


class ReadOnly(Mapping[str, Any]):
    """A mapping that is not a dict: every read goes through the Mapping protocol."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


# ------------------------------------------------------------------------------ language
class TestLanguage:
    @pytest.mark.parametrize(
        ("source", "context", "expected"),
        [
            ("fill_qty >= order_qty", {"fill_qty": 10, "order_qty": 10}, True),
            ("fill_qty >= order_qty", {"fill_qty": 9, "order_qty": 10}, False),
            ("fill_qty > 0.5", {"fill_qty": 0.75}, True),
            ("0.5 < fill_qty", {"fill_qty": 0.25}, False),
            ("status == 'OPEN'", {"status": "OPEN"}, True),
            ("'OPEN' != status", {"status": "OPEN"}, False),
            ("a < b", {"a": "apple", "b": "banana"}, True),
            ("a <= b", {"a": 1, "b": 1.0}, True),
            ("a == b", {"a": 1, "b": 1.0}, True),
            ("a != b", {"a": [1, 2], "b": [1, 2]}, False),
            ("a == b", {"a": {"k": [1]}, "b": {"k": [1]}}, True),
            # chained comparisons
            ("0 < x <= 10", {"x": 10}, True),
            ("0 < x <= 10", {"x": 11}, False),
            ("0 < x < y < 100", {"x": 5, "y": 4}, False),
            # boolean operators and their Python values
            ("x > 1 and y > 1", {"x": 2, "y": 2}, True),
            ("x > 1 and y > 1", {"x": 2, "y": 0}, False),
            ("x > 1 or y > 1", {"x": 0, "y": 2}, True),
            ("not x", {"x": 0}, True),
            ("not (x > 1 or y > 1)", {"x": 0, "y": 0}, True),
            ("(note or 'default') == 'default'", {"note": ""}, True),
            ("(note and 'set') == 'set'", {"note": "x"}, True),
            # membership
            ("status in ['OPEN', 'PARTIAL']", {"status": "PARTIAL"}, True),
            ("status in ('OPEN', 'PARTIAL')", {"status": "FILLED"}, False),
            ("status not in {'FILLED', 'CANCELLED'}", {"status": "OPEN"}, True),
            ("'vip' in tags", {"tags": ["new", "vip"]}, True),
            ("'ell' in name", {"name": "hello"}, True),
            ("'key' in meta", {"meta": {"key": 1}}, True),
            ("x in [1, y, 3]", {"x": 2, "y": 2}, True),
            # arithmetic
            ("price * qty >= 1000", {"price": 10.5, "qty": 100}, True),
            ("a + b == 7", {"a": 3, "b": 4}, True),
            ("a - b == -1", {"a": 3, "b": 4}, True),
            ("a / b == 0.75", {"a": 3, "b": 4}, True),
            ("a // b == 2", {"a": 9, "b": 4}, True),
            ("a % b == 1", {"a": 9, "b": 4}, True),
            ("-a == -3 and +a == 3", {"a": 3}, True),
            ("first + ' ' + last == 'Ada Lovelace'", {"first": "Ada", "last": "Lovelace"}, True),
            ("[1] + items == [1, 2]", {"items": [2]}, True),
            ("'ab' * 2 == 'abab'", {}, True),
            ("2 * [0] == [0, 0]", {}, True),
            ("(1, 2) + (3,) == (1, 2, 3)", {}, True),
            # literals
            ("true and not false and null is None", {}, True),
            ("True and not False and None is None", {}, True),
            ("x is None", {"x": None}, True),
            ("x is not None", {"x": 0}, True),
            ("x == null", {"x": None}, True),
            ("1_000 == 1000 and 0x10 == 16 and 1e3 == 1000", {}, True),
            ("'caf\\u00e9' == name", {"name": "café"}, True),
            ("name == 'café'", {"name": "café"}, True),
            # conditional expression
            ("(qty if side == 'buy' else -qty) > 0", {"qty": 5, "side": "sell"}, False),
            ("(qty if side == 'buy' else -qty) > 0", {"qty": 5, "side": "buy"}, True),
            # truthiness of a bare value
            ("flag", {"flag": True}, True),
            ("items", {"items": []}, False),
            ("name", {"name": "x"}, True),
            ("count", {"count": 0}, False),
            ("meta", {"meta": {}}, False),
            # several lines inside parentheses; comments
            ("(x > 1\n and y > 1)", {"x": 2, "y": 2}, True),
            ("x > 1  # checked at load", {"x": 2}, True),
        ],
    )
    def test_evaluates(self, source: str, context: dict[str, Any], expected: bool) -> None:
        fn = compile_expression(source)
        result = fn(context)
        assert result is expected
        # The checked evaluator (every other mapping type) agrees with the fast path.
        assert fn(MappingProxyType(context)) is expected
        assert fn(ReadOnly(context)) is expected
        assert fn.explain(context) is None if expected else fn.explain(context) is not None

    @pytest.mark.parametrize(
        ("source", "context", "expected"),
        [
            ("order.qty >= 10", {"order": {"qty": 10}}, True),
            (
                "order.limits.max_qty > order.qty",
                {"order": {"qty": 1, "limits": {"max_qty": 2}}},
                True,
            ),
            ("order['qty'] == 3", {"order": {"qty": 3}}, True),
            ("order['fill-qty'] == 3", {"order": {"fill-qty": 3}}, True),
            ("fills[0] == 5 and fills[-1] == 7", {"fills": [5, 6, 7]}, True),
            ("legs[1].qty == 2", {"legs": [{"qty": 1}, {"qty": 2}]}, True),
            ("name[0] == 'A'", {"name": "Ada"}, True),
            ("matrix[i][j] == 4", {"matrix": [[1, 2], [3, 4]], "i": 1, "j": 1}, True),
            ("codes[2] == 'x'", {"codes": {2: "x"}}, True),
        ],
    )
    def test_nested_keys_and_indexes(
        self, source: str, context: dict[str, Any], expected: bool
    ) -> None:
        assert ev(source, context) is expected

    def test_nested_reads_need_mappings_not_objects(self) -> None:
        class Order:
            qty = 10

        fn = compile_expression("order.qty == 10")
        assert fn({"order": Order()}) is False
        assert fn.explain({"order": Order()}) == "'order' is a Order, not a mapping"
        assert fn({"order": ReadOnly({"qty": 10})}) is True

    def test_names_of_functions_are_context_keys_unless_called(self) -> None:
        assert ev("sum > 10 and max == 'x'", {"sum": 11, "max": "x"}) is True
        assert ev("len(len) == 2", {"len": "ab"}) is True

    def test_names_lists_the_context_paths_read(self) -> None:
        fn = compile_expression("order.qty > 0 and fill_qty >= order.qty and len(tags) > 0")
        assert fn.names == ("order.qty", "fill_qty", "tags")
        assert fn.source == "order.qty > 0 and fill_qty >= order.qty and len(tags) > 0"

    def test_result_is_always_a_bool(self) -> None:
        for source, context in [
            ("x", {"x": 5}),
            ("x or y", {"x": 0, "y": "text"}),
            ("x and y", {"x": [1], "y": {}}),
            ("x if y else z", {"x": 1, "y": True, "z": 0}),
        ]:
            result = ev(source, context)
            assert result is True or result is False

    def test_constant_expressions_are_folded_at_load(self) -> None:
        assert ev("1 + 1 == 2") is True
        assert ev("len('abc') == 3 and max(1, 2) == 2") is True
        assert ev("[1, 2][1] == 2") is True
        assert ev("0") is False
        assert ev("'x'") is True

    def test_enum_and_subclass_values_are_read_as_their_plain_value(self) -> None:
        assert ev("side == 1 and side < 2", {"side": Side.BUY}) is True
        assert ev("side + 1 == 3", {"side": Side.SELL}) is True
        assert ev("status == 'OPEN' and status < 'P'", {"status": Status.OPEN}) is True
        assert ev("str(status) == 'FILLED'", {"status": Status.FILLED}) is True
        assert ev("str(side) == '2'", {"side": Side.SELL}) is True

    def test_decimal_values(self) -> None:
        context = {"qty": Decimal("10.5"), "fill": Decimal("10.50"), "limit": 10}
        assert ev("fill >= qty", context) is True
        assert ev("qty > limit", context) is True
        assert ev("qty * 2 == 21", context) is True
        assert ev("qty + Decimal == 11", {**context, "Decimal": Decimal("0.5")}) is True
        assert ev("qty / 3 > 3.49", context) is True
        assert ev("qty // 2 == 5 and qty % 2 == Decimal", {**context, "Decimal": Decimal("0.5")})
        assert ev("round(qty) == 10 and round(qty, 0) == 10", context) is True
        assert ev("int(qty) == 10 and float(qty) == 10.5", context) is True
        assert ev("str(qty) == '10.5'", context) is True
        assert ev("abs(-qty) == qty and -qty < 0", context) is True
        assert ev("sum([qty, fill]) == 21", context) is True
        assert ev("max(qty, 11) == 11 and min([qty, 12]) == qty", context) is True
        # Decimal and float do not mix in arithmetic (Python refuses it too): the guard fails.
        assert ev("qty + 0.5 > 0", context) is False
        # Comparisons across them are exact.
        assert ev("qty > 10.25", context) is True

    def test_decimal_arithmetic_ignores_the_thread_context(self) -> None:
        import decimal

        fn = compile_expression("a / b > 0.33")
        with decimal.localcontext() as local:
            local.prec = 3
            local.traps[decimal.Inexact] = True
            assert fn({"a": Decimal(1), "b": Decimal(3)}) is True

    def test_dates_and_times_compare(self) -> None:
        now = datetime.datetime(2024, 1, 2, 12, 0)
        context = {"deadline": now, "now": now - datetime.timedelta(hours=1)}
        assert ev("now < deadline", context) is True
        assert ev("max(now, deadline) == deadline", context) is True
        assert ev("deadline - now > 0", context) is False  # no date arithmetic
        # naive against aware datetimes is a type error: false, not an exception
        aware = now.replace(tzinfo=datetime.UTC)
        assert ev("a < b", {"a": now, "b": aware}) is False


# ------------------------------------------------------------------------------ safe functions
class TestFunctions:
    @pytest.mark.parametrize(
        ("source", "context", "expected"),
        [
            ("len(items) == 3", {"items": [1, 2, 3]}, True),
            ("len(name) == 3 and len(meta) == 1", {"name": "abc", "meta": {"a": 1}}, True),
            ("len((1, 2)) == 2 and len({1, 2, 2}) == 2", {}, True),
            ("min(a, b) == 1 and max(a, b) == 2", {"a": 2, "b": 1}, True),
            ("min(items) == -1 and max(items) == 4", {"items": [3, -1, 4]}, True),
            ("max(['b', 'a']) == 'b'", {}, True),
            ("max(1, 2.5) == 2.5", {}, True),
            ("abs(x) == 3 and abs(-2.5) == 2.5", {"x": -3}, True),
            ("round(x) == 3 and round(x, 1) == 2.7", {"x": 2.66}, True),
            ("round(1234, -2) == 1200", {}, True),
            ("int(x) == 2 and int('42') == 42 and int(True) == 1", {"x": 2.9}, True),
            ("float(x) == 2.0 and float('1.5') == 1.5", {"x": 2}, True),
            ("str(x) == '2' and str(1.5) == '1.5' and str(None) == 'None'", {"x": 2}, True),
            ("str(flag) == 'True'", {"flag": True}, True),
            ("bool(x) and not bool(y)", {"x": [0], "y": ""}, True),
            ("any(flags) and not all(flags)", {"flags": [False, True]}, True),
            ("all([]) and not any([])", {}, True),
            ("sum(items) == 6 and sum(items, 10) == 16", {"items": [1, 2, 3]}, True),
            ("sum([0.5, 0.25]) == 0.75", {}, True),
        ],
    )
    def test_safe_function(self, source: str, context: dict[str, Any], expected: bool) -> None:
        assert ev(source, context) is expected

    @pytest.mark.parametrize(
        ("source", "context", "reason"),
        [
            ("len(x) > 0", {"x": 5}, "len() of a int value"),
            ("min(items) < 1", {"items": []}, "min() of an empty list"),
            ("max(items) > 1", {"items": [1, "a"]}, "numbers, strings or dates of one kind"),
            ("max(x) > 1", {"x": 5}, "max() needs a list, tuple or set"),
            ("abs(x) > 1", {"x": "a"}, "expected a number, got str"),
            ("round(x, d) > 1", {"x": 1.5, "d": 1.5}, "round() digits must be an integer"),
            ("round(x, d) > 1", {"x": 1.5, "d": 1000}, "round() digits beyond 100"),
            ("int(x) > 1", {"x": "abc"}, "invalid literal for int()"),
            ("int(x) > 1", {"x": "9" * 101}, "longer than 100 characters"),
            ("float(x) > 1", {"x": "nan"}, "NaN or infinite"),
            ("float(x) > 1", {"x": "1e999"}, "NaN or infinite"),
            ("str(x) == ''", {"x": [1]}, "str() of a list value is not allowed"),
            ("bool(x)", {"x": object()}, "cannot be used as a condition"),
            ("any(x)", {"x": "abc"}, "any() needs a list, tuple or set"),
            ("sum(items) > 1", {"items": [[1], [2]]}, "expected a number, got list"),
            ("sum(items) > 1", {"items": ["a", "b"]}, "expected a number, got str"),
            ("sum(items) > 1", {"items": list(range(MAX_LENGTH + 1))}, "longer than 10000 items"),
        ],
    )
    def test_safe_function_refuses_bad_input(
        self, source: str, context: dict[str, Any], reason: str
    ) -> None:
        fn = compile_expression(source)
        assert fn(context) is False
        explanation = fn.explain(context)
        assert explanation is not None
        assert reason in explanation

    def test_every_safe_function_is_covered(self) -> None:
        assert set(SAFE_FUNCTIONS) == {
            "len", "min", "max", "abs", "round", "int", "float", "str", "bool", "any", "all", "sum",
        }  # fmt: skip

    @pytest.mark.parametrize(
        ("source", "message"),
        [
            ("len()", "len() takes 1 argument(s), got 0"),
            ("round(1, 2, 3)", "round() takes 1 to 2 argument(s), got 3"),
            ("max(items, key=len)", "keyword arguments are not allowed"),
            ("sum(*items)", "unpacking with * is not allowed"),
        ],
    )
    def test_calls_are_checked_at_load(self, source: str, message: str) -> None:
        assert message in refused(source)


# ------------------------------------------------------------------------------ errors at load
class TestRejectedAtLoad:
    @pytest.mark.parametrize(
        ("source", "message"),
        [
            (
                "x.__class__",
                "expression 'x.__class__': attribute access is not allowed ('x.__class__'); "
                "names starting with '__' are never allowed; use a.b only to read nested "
                "context keys",
            ),
            ("'abc'.upper", "attribute access is not allowed (\"'abc'.upper\")"),
            ("(a or b).c", "attribute access is not allowed ('(a or b).c')"),
            ("name.upper() == 'X'", "method calls are not allowed ('name.upper')"),
            ("'{}'.format(x)", "method calls are not allowed"),
            ("eval('1')", "calling 'eval' is not allowed; the only functions are abs, all, any"),
            ("type(x) == int", "calling 'type' is not allowed"),
            ("__import__('os')", "names starting with '__' are not allowed ('__import__')"),
            ("__builtins__", "names starting with '__' are not allowed"),
            ("(lambda: 1)()", "lambda is not allowed"),
            ("[a for a in items]", "comprehensions and generator expressions are not allowed"),
            ("any(a for a in items)", "comprehensions and generator expressions are not allowed"),
            ("(x := 1)", "assignment expressions (:=) are not allowed"),
            ("f'{x}' == 'a'", "f-strings are not allowed"),
            ("{'a': 1} == x", "dict displays ({...: ...}) are not allowed"),
            ("items[1:2]", "slices are not allowed ('1:2')"),
            ("2 ** 3 == 8", "the exponent operator ** is not allowed"),
            ("1 << 3", "bit shifts (<<) are not allowed"),
            ("x >> 1", "bit shifts (>>) are not allowed"),
            ("x & 1", "bitwise operators (&) are not allowed; use 'and'"),
            ("x | 1", "bitwise operators (|) are not allowed; use 'or'"),
            ("x ^ 1", "bitwise operators (^) are not allowed"),
            ("~x", "the bitwise operator ~ is not allowed"),
            ("x @ y", "the matrix operator @ is not allowed"),
            ("'%s' % x", "string formatting with % is not allowed"),
            ("x is 1", "'is' is only allowed as 'is None' or 'is not None'"),
            ("x == 1j", "complex numbers are not allowed"),
            ("x == b'a'", "bytes literals are not allowed"),
            ("x == ...", "the literal ... is not allowed"),
            ("x == 1e999", "number literal 1e999 is not finite"),
            (f"x == {2**MAX_INT_BITS}", f"integer literal larger than {MAX_INT_BITS} bits"),
            ("x >= 1; import os", "only one expression is allowed"),
            ("import os", "only one expression is allowed"),
            ("x = 1", "only one expression is allowed"),
            ("x >=", "invalid syntax"),
            ("x\n> 1", "invalid syntax"),
            ("", "empty expression"),
            ("  \n ", "empty expression"),
            ("await x", "await is not allowed"),
            ("'\\d' == x", "invalid escape sequence"),
            ("x\x00", "character U+0000 (NUL) at position 1 is not allowed"),
            ("x == 'a\u202eb'", "character U+202E (RIGHT-TO-LEFT OVERRIDE)"),
            ("x\u200b == 1", "character U+200B (ZERO WIDTH SPACE)"),
            ("\uff45val('1')", "identifiers must be plain ASCII ('\uff45val')"),
            ("\u0445 == 1", "identifiers must be plain ASCII"),
            ("1 / 0 > x", "'1 / 0' cannot be computed: division by zero"),
            ("float('nan') == x", "NaN or infinite number"),
            ("'a' * 100000 == x", "string longer than 10000 characters"),
            ("int('9' * 200) > x", "longer than 100 characters"),
            ("[1, 2][5] == x", "'[1, 2][5]' cannot be computed: '[1, 2][5]' is missing"),
        ],
    )
    def test_message(self, source: str, message: str) -> None:
        text = refused(source)
        assert message in text
        assert text.startswith("invalid machine definition: expression ")

    def test_invalid_syntax_is_said_once(self) -> None:
        assert refused("x >=").count("invalid syntax") == 1

    def test_the_expression_is_quoted_and_long_ones_shortened(self) -> None:
        long = "x == '" + "a" * 3000 + "'"
        text = refused(long)
        assert f"({len(long)} characters)" in text
        assert len(text) < 300

    def test_not_a_string(self) -> None:
        with pytest.raises(ConfigurationError, match="an expression must be a string, not int"):
            compile_expression(5)  # type: ignore[arg-type]

    def test_on_missing_is_validated(self) -> None:
        with pytest.raises(ValueError, match="on_missing must be 'false' or 'error'"):
            compile_expression("x", on_missing="maybe")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ limits
class TestLimits:
    def test_source_length(self) -> None:
        at_limit = "x == '" + "a" * (MAX_SOURCE_LENGTH - 7) + "'"
        assert len(at_limit) == MAX_SOURCE_LENGTH
        assert ev(at_limit, {"x": "a" * (MAX_SOURCE_LENGTH - 7)}) is True
        assert f"longer than {MAX_SOURCE_LENGTH} characters" in refused(at_limit + " ")

    def test_token_count_is_checked_before_parsing(self) -> None:
        fits = "(" * 100 + "x" + ")" * 100 + " == 1"  # redundant brackets: one node
        assert ev(fits, {"x": 1}) is True
        message = refused("-" * 1999 + "1")
        assert f"more than {MAX_TOKENS} tokens" in message
        # A long string literal is one token.
        assert ev("x != '" + "+-" * 900 + "'", {"x": 1}) is True

    def test_node_count(self) -> None:
        fits = " and ".join(["x"] * (MAX_NODES - 1))
        assert ev(fits, {"x": 1}) is True
        too_many = " and ".join(["x"] * MAX_NODES)
        assert f"more than {MAX_NODES} parts" in refused(too_many)

    def test_depth(self) -> None:
        fits = "(" * 10 + "-" * 20 + "x" + ")" * 10 + " == x"
        assert ev(fits, {"x": 3}) is True
        assert f"nested deeper than {MAX_DEPTH} levels" in refused("-" * 40 + "x")
        assert f"nested deeper than {MAX_DEPTH} levels" in refused("[" * 40 + "]" * 40)
        assert f"nested deeper than {MAX_DEPTH} levels" in refused("not " * 40 + "x")

    @pytest.mark.parametrize(
        "source",
        ["(" * 10000 + "1" + ")" * 10000, "1+" * 200000 + "1", "-" * 1999 + "1", "(" * 300],
    )
    def test_hostile_nesting_never_raises_anything_else(self, source: str) -> None:
        refused(source)

    def test_integer_size(self) -> None:
        big = 2 ** (MAX_INT_BITS - 1)
        assert ev("x + 0 == x", {"x": big}) is True
        fn = compile_expression("x * x > 0")
        assert fn({"x": big}) is False
        assert fn.explain({"x": big}) == f"integer larger than {MAX_INT_BITS} bits"
        # Reading or comparing a huge context integer is fine; computing with it is not.
        huge = 10**5000
        assert ev("x > 1", {"x": huge}) is True
        assert ev("x + 1 > 1", {"x": huge}) is False
        assert ev("str(x) != ''", {"x": huge}) is False
        assert ev("int(x) > 0", {"x": 1e300}) is False

    def test_string_and_list_length(self) -> None:
        assert ev("len(s * 2) == 10000", {"s": "a" * 5000}) is True
        assert ev("len(s * 2) > 0", {"s": "a" * 5001}) is False
        assert ev("len(s + s) > 0", {"s": "a" * 5001}) is False
        assert ev("len(items * 2) == 10000", {"items": [0] * 5000}) is True
        assert ev("len(items + items) > 0", {"items": [0] * 5001}) is False
        fn = compile_expression("len(s * n) > 0")
        assert fn({"s": "ab", "n": 10**9}) is False
        assert fn.explain({"s": "ab", "n": 10**9}) == "string longer than 10000 characters"

    def test_decimal_precision_and_range(self) -> None:
        fine = Decimal("1." + "1" * 90)
        too_precise = Decimal("1." + "1" * 150)
        assert ev("x + 1 > 1", {"x": fine}) is True
        assert ev("x + 1 > 1", {"x": too_precise}) is False
        assert ev("x * 10 > 1", {"x": Decimal("9e999")}) is False
        assert ev("x > 1", {"x": Decimal("1e99999")}) is True  # comparing is always allowed
        assert ev("max(x, 1) == x and x > 1.5", {"x": 10**5000}) is True


# ------------------------------------------------------------------------------ missing keys
class TestMissingKeys:
    def test_missing_key_makes_the_guard_false_and_explain_names_it(self) -> None:
        fn = compile_expression("fill_qty >= order_qty")
        assert fn({"fill_qty": 3}) is False
        assert fn.explain({"fill_qty": 3}) == "context key 'order_qty' is missing"
        assert fn(MappingProxyType({"order_qty": 3})) is False
        assert fn.explain({}) == "context key 'fill_qty' is missing"

    def test_missing_nested_key_and_index_are_named(self) -> None:
        assert compile_expression("order.limits.max > 1").explain({"order": {}}) == (
            "context key 'order.limits' is missing"
        )
        assert compile_expression("fills[3] > 1").explain({"fills": [1]}) == (
            "context key 'fills[3]' is missing"
        )
        assert compile_expression("order['qty'] > 1").explain({"order": {}}) == (
            "context key \"order['qty']\" is missing"
        )

    def test_on_missing_error_raises_naming_the_key(self) -> None:
        fn = compile_expression("fill_qty >= order.qty", on_missing="error")
        with pytest.raises(GuardEvaluationError) as info:
            fn({"fill_qty": 1, "order": {}})
        assert (
            str(info.value)
            == "expression 'fill_qty >= order.qty': context key 'order.qty' is missing"
        )
        assert info.value.__cause__ is None
        assert info.value.__suppress_context__
        # Other failures stay a false guard in both modes.
        assert fn({"fill_qty": "a", "order": {"qty": 1}}) is False
        assert fn({"fill_qty": 2, "order": {"qty": 1}}) is True

    def test_short_circuit_skips_missing_keys(self) -> None:
        assert ev("x > 1 or y > 1", {"x": 2}, on_missing="error") is True
        assert ev("x > 1 and y > 1", {"x": 0}, on_missing="error") is False

    def test_reading_never_adds_a_key(self) -> None:
        context: defaultdict[str, Any] = defaultdict(int, {"a": 1})
        assert ev("a >= b", context) is False
        assert ev("b.c >= 1", context) is False
        assert ev("a >= b", MappingProxyType(context)) is False
        assert dict(context) == {"a": 1}

        nested: dict[str, Any] = {"order": defaultdict(list)}
        assert ev("len(order.fills) == 0", nested) is False
        assert ev("order['fills'] == []", nested) is False
        assert nested["order"] == {}

    def test_not_a_mapping_context_is_a_false_guard(self) -> None:
        fn = compile_expression("x > 1")
        assert fn(None) is False  # type: ignore[arg-type]
        assert fn([1, 2]) is False  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ type errors
class TestTypeErrors:
    @pytest.mark.parametrize(
        ("source", "context", "reason"),
        [
            ("a < b", {"a": "a", "b": 1}, "cannot order str and int"),
            ("a < 1", {"a": None}, "cannot order NoneType and int"),
            ("a < b", {"a": [1], "b": [2]}, "cannot order list and list"),
            ("a + 1 > 0", {"a": "x"}, "expected a number, got str"),
            ("a + b == 'x1'", {"a": "x", "b": 1}, "expected a number, got str"),
            ("a / b > 0", {"a": 1, "b": 0}, "division by zero"),
            ("a % b > 0", {"a": 1, "b": 0.0}, "division by zero"),
            ("a % 2 == 0", {"a": "%s"}, "string formatting with % is not allowed"),
            ("'x' in a", {"a": 5}, "'in' needs a string, list, tuple, set or mapping"),
            ("1 in a", {"a": "abc"}, "'in <string>' needs a string on the left"),
            ("a[0] == 1", {"a": 5}, "cannot index a int value"),
            ("a['k'] == 1", {"a": [1]}, "index of \"a['k']\" must be an integer"),
            ("a", {"a": object()}, "a object value cannot be used as a condition"),
            ("a * b == 1", {"a": "x", "b": 1.5}, "repeated an integer number of times"),
            ("a + b > 0", {"a": [1], "b": (2,)}, "cannot add a list and a tuple"),
        ],
    )
    def test_type_error_is_a_false_guard_with_a_reason(
        self, source: str, context: dict[str, Any], reason: str
    ) -> None:
        fn = compile_expression(source, on_missing="error")
        assert fn(context) is False
        explanation = fn.explain(context)
        assert explanation is not None
        assert reason in explanation

    def test_not_of_a_type_error_is_still_false(self) -> None:
        assert ev("not (a < b)", {"a": "x", "b": 1}) is False

    def test_arbitrary_objects_are_compared_for_equality_only(self) -> None:
        class Token:
            def __init__(self, value: int) -> None:
                self.value = value

            def __eq__(self, other: object) -> bool:
                return isinstance(other, Token) and other.value == self.value

            def __hash__(self) -> int:
                return hash(self.value)

        context = {"a": Token(1), "b": Token(1), "c": Token(2)}
        assert ev("a == b and a != c", context) is True
        assert ev("a in [c, b]", context) is True
        assert ev("a < c", context) is False
        assert ev("a.value == 1", context) is False
        assert ev("str(a) != ''", context) is False

    def test_equality_that_is_not_a_bool_is_refused(self) -> None:
        class Weird:
            def __eq__(self, other: object) -> Any:
                return "yes"

            __hash__ = object.__hash__

        fn = compile_expression("a == 1")
        assert fn({"a": Weird()}) is False
        assert "did not give a boolean" in (fn.explain({"a": Weird()}) or "")


# ------------------------------------------------------------------------------ NaN and inf
class TestNonFinite:
    @pytest.mark.parametrize("value", [NAN, INF, -INF, Decimal("NaN"), Decimal("Infinity")])
    @pytest.mark.parametrize(
        "source",
        [
            "x > 0",
            "x >= 0",
            "x < 0",
            "x <= 0",
            "x == x",
            "x != 0",
            "not (x > 0)",
            "not (x <= 0)",
            "x",
            "not x",
            "bool(x)",
            "x * 0 == 0",
            "x - x != 0",
            "x in [1, 2]",
            "x not in [1, 2]",
            "[x] == [x]",
            "[x] != [1]",
            "min(x, 1) == 1",
            "max([x, 1]) == 1",
            "sum([x]) != 0",
            "abs(x) > 0",
            "str(x) != ''",
            "int(x) != 0",
            "round(x) != 0",
            "float(x) != 0",
            "(x if true else 1) != 0",
            "y > 0 and x != 1",
        ],
    )
    def test_nan_and_infinity_never_pass(self, source: str, value: Any) -> None:
        context = {"x": value, "y": 1}
        fn = compile_expression(source)
        assert fn(context) is False
        assert fn(MappingProxyType(context)) is False
        assert fn.explain(context) is not None

    def test_nan_inside_context_containers(self) -> None:
        assert ev("items == items", {"items": [1.0, NAN]}) is False
        assert ev("meta != other", {"meta": {"a": [INF]}, "other": {}}) is False
        assert ev("[1] in items", {"items": [[NAN], [1]]}) is True  # left side is finite
        assert ev("[1] in items", {"items": [[NAN]]}) is False
        assert ev("item in items", {"item": [NAN], "items": [[NAN]]}) is False

    @pytest.mark.parametrize(
        "source",
        ["min(xs) < 5", "max(xs) > 0", "sum(xs) > 0", "sum(xs, 1) > 0", "any(xs)", "not all(xs)"],
    )
    @pytest.mark.parametrize(
        "items",
        [[1.0, NAN, 2.0], [INF, 1.0], [1.0, -INF]],
    )
    def test_lists_of_floats(self, source: str, items: list[float]) -> None:
        # Every item is read: no short cut past a NaN (any() stops at nothing).
        assert ev(source, {"xs": items}) is False

    def test_lists_of_plain_values_take_the_builtin(self) -> None:
        assert ev("sum(xs) == 50005000", {"xs": list(range(1, 10001))}) is True
        assert ev("sum(xs) > 0", {"xs": [1, 2**MAX_INT_BITS]}) is False
        assert ev("sum(xs) == 2.0", {"xs": [0.5] * 4}) is True
        assert ev("min(xs) == 'a' and max(xs) == 'c'", {"xs": ["b", "a", "c"]}) is True
        assert ev("min(xs) == -1000", {"xs": [5, -1000, 10**400]}) is True
        assert ev("any(xs) and not all(xs)", {"xs": [0, "", None, True]}) is True
        assert ev("any(xs)", {"xs": [0, 0.0, None]}) is False

    def test_arithmetic_that_overflows_to_infinity_is_false(self) -> None:
        fn = compile_expression("x * 10 > 0")
        assert fn({"x": 1e308}) is False
        assert fn.explain({"x": 1e308}) == "a NaN or infinite number never satisfies a guard"
        assert ev("x / 1e-308 > 0", {"x": 1e10}) is False
        assert ev("sum(xs) > 0", {"xs": [1e308, 1e308, -1e308]}) is False

    def test_infinite_literals_are_refused(self) -> None:
        assert "not finite" in refused("x < 1e309")
        assert "NaN or infinite" in refused("x < float('inf')")


# ------------------------------------------------------------------------------ context safety
class TestContextIsReadOnly:
    def test_context_is_unchanged(self) -> None:
        context: dict[str, Any] = {
            "items": [3, 1, 2],
            "order": {"qty": 1, "tags": ["a"], "legs": [{"qty": 1}]},
            "s": "abc",
        }
        before = copy.deepcopy(context)
        for source in [
            "min(items) == 1 and max(items) == 3 and sum(items) == 6",
            "items + [4] == [3, 1, 2, 4] and items * 2 != items",
            "order.tags + ['b'] == ['a', 'b'] and len(order.legs) == 1",
            "order['legs'][0]['qty'] == 1 and any(items) and all(order.tags)",
            "s * 2 == 'abcabc' and s + 'd' == 'abcd'",
            "missing.key == 1",
        ]:
            compile_expression(source)(context)
        assert context == before

    def test_evaluators_are_reentrant_and_shared(self) -> None:
        fn = compile_expression("x > 1")
        results = [fn({"x": i}) for i in range(4)]
        assert results == [False, False, True, True]


# ------------------------------------------------------------------------------ in a machine
def _machine(*guards: Any, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "meta": {"machine_name": "orders"},
        "states": [
            {"name": "PENDING", "type": "initial"},
            {"name": "OPEN"},
            {"name": "FILLED", "type": "terminal"},
        ],
        "transitions": [
            {"trigger": "exchange_ack", "source": "PENDING", "dest": "OPEN"},
            {"trigger": "fill", "source": "OPEN", "dest": "FILLED", "guards": list(guards)},
            *(extra or []),
        ],
    }


class TestInMachine:
    def test_expr_guard_passes_and_fails(self) -> None:
        machine = StateMachine.from_dict(_machine({"expr": "fill_qty >= order_qty"}))
        ok = machine.process("OPEN", "fill", {"fill_qty": 100, "order_qty": 100})
        assert ok.success
        assert ok.target_state == "FILLED"
        failed = machine.process("OPEN", "fill", {"fill_qty": 10, "order_qty": 100})
        assert not failed.success
        assert isinstance(failed.error, GuardRejectedError)
        assert failed.error.guard_name == "expr: fill_qty >= order_qty"
        assert failed.metadata["guard_name"] == "expr: fill_qty >= order_qty"
        assert failed.metadata["reason"] == "guard_rejected"

    def test_missing_key_is_a_failed_result_not_a_crash(self) -> None:
        machine = StateMachine.from_dict(_machine({"expr": "fill_qty >= order_qty"}))
        result = machine.process("OPEN", "fill", {"fill_qty": 100})
        assert not result.success
        assert isinstance(result.error, GuardRejectedError)
        assert result.error.guard_name == "expr: fill_qty >= order_qty"
        assert not machine.process("OPEN", "fill").success

    def test_expr_and_named_guards_mix_in_order(self) -> None:
        machine = StateMachine.from_dict(
            _machine({"expr": "fill_qty > 0"}, "is_full", {"expr": "not halted"})
        )

        @machine.guard("is_full")
        def is_full(ctx: Mapping[str, Any]) -> bool:
            return bool(ctx["fill_qty"] >= ctx["order_qty"])

        base = {"fill_qty": 5, "order_qty": 5, "halted": False}
        assert machine.process("OPEN", "fill", base).success
        failed = machine.process("OPEN", "fill", {**base, "fill_qty": 0})
        assert failed.error is not None
        assert failed.metadata["guard_name"] == "expr: fill_qty > 0"
        failed = machine.process("OPEN", "fill", {**base, "halted": True})
        assert failed.metadata["guard_name"] == "expr: not halted"

    def test_expr_guard_in_aprocess(self) -> None:
        machine = StateMachine.from_dict(_machine({"expr": "order.qty <= 10"}))
        assert asyncio.run(machine.aprocess("OPEN", "fill", {"order": {"qty": 5}})).success
        assert not asyncio.run(machine.aprocess("OPEN", "fill", {"order": {"qty": 50}})).success

    def test_expr_guard_in_yaml(self) -> None:
        machine = StateMachine.from_yaml_string(
            """
meta: {machine_name: orders}
states:
  - {name: OPEN, type: initial}
  - {name: FILLED, type: terminal}
transitions:
  - trigger: fill
    source: OPEN
    dest: FILLED
    guards:
      - expr: >
          fill_qty >= order_qty
          and status in ['OPEN', 'PARTIAL']
"""
        )
        context = {"fill_qty": 2, "order_qty": 2, "status": "PARTIAL"}
        assert machine.process("OPEN", "fill", context).success
        assert not machine.process("OPEN", "fill", {**context, "status": "X"}).success

    def test_rejected_expression_names_the_transition_and_guard(self) -> None:
        with pytest.raises(ConfigurationError) as info:
            StateMachine.from_dict(
                _machine(
                    "named_guard",
                    {"expr": "x.__class__"},
                    extra=[
                        {"trigger": "cancel", "source": "OPEN", "dest": "FILLED"},
                        {
                            "trigger": "amend",
                            "source": "OPEN",
                            "dest": "OPEN",
                            "guards": [{"expr": "eval('1')"}, {"expr": "qty > 0"}],
                        },
                    ],
                )
            )
        issues = {issue.path: issue.message for issue in info.value.issues}
        assert issues == {
            "transitions[1].guards[1].expr": (
                "expression 'x.__class__': attribute access is not allowed ('x.__class__'); "
                "names starting with '__' are never allowed; use a.b only to read nested "
                "context keys"
            ),
            "transitions[3].guards[0].expr": (
                "expression \"eval('1')\": calling 'eval' is not allowed; the only functions "
                "are abs, all, any, bool, float, int, len, max, min, round, str, sum"
            ),
        }
        assert "transitions[3].guards[0].expr: expression \"eval('1')\"" in str(info.value)

    def test_compile_machine_takes_another_compiler(self) -> None:
        definition = MachineDefinition.model_validate(_machine({"expr": "fill_qty >= order_qty"}))
        strict = compile_machine(
            definition, compile_expr=functools.partial(compile_expression, on_missing="error")
        )
        table = state_table(strict, "OPEN")
        assert table is not None
        guard = table["fill"][0].guards[0]
        assert guard.evaluate is not None
        with pytest.raises(GuardEvaluationError, match="context key 'order_qty' is missing"):
            guard.evaluate({"fill_qty": 1})

        with pytest.raises(ConfigurationError) as info:
            compile_machine(definition, compile_expr=None)
        assert [i.path for i in info.value.issues] == ["transitions[1].guards[0]"]
        assert "need an expression compiler" in str(info.value)
