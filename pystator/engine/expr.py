"""Inline guard expressions: a small, safe, bounded language compiled once at machine load.

``compile_expression("fill_qty >= order_qty")`` parses the text with ``ast.parse`` (parsing
only: nothing is ever given to ``eval``, ``exec`` or ``compile``), checks every node against a
whitelist and turns the tree into nested closures. The returned function takes the context and
answers ``True`` or ``False``; it never raises, except ``GuardEvaluationError`` for a missing
key when ``on_missing="error"``.

The language (see ``docs/expressions.md``)::

    expression  :=  or_test [ "if" or_test "else" expression ]
    or_test     :=  and_test ( "or" and_test )*
    and_test    :=  not_test ( "and" not_test )*
    not_test    :=  "not" not_test | comparison
    comparison  :=  sum ( comp_op sum )*          # chained: a < b <= c
    comp_op     :=  == | != | < | <= | > | >= | in | not in | is None | is not None
    sum         :=  term ( ("+" | "-") term )*
    term        :=  factor ( ("*" | "/" | "//" | "%") factor )*
    factor      :=  ("-" | "+") factor | primary
    primary     :=  literal | path | primary "[" expression "]" | function "(" args ")"
                  | "(" expression ")" | "[" items "]" | "(" items ")" | "{" items "}"
    path        :=  NAME ( "." NAME )*            # context["a"]["b"] ...
    function    :=  len | min | max | abs | round | int | float | str | bool | any | all | sum

Design decisions, all documented for users in ``docs/expressions.md``:

* Rejected at load (``ConfigurationError`` quoting the expression): anything not in the grammar,
  in particular attribute access on anything but a context path, names starting with ``__``,
  method calls, calls of other names, keyword arguments, lambdas, comprehensions, ``:=``,
  f-strings, ``*``/``**`` unpacking, dict displays, slices, ``**`` (no exponent operator at all),
  bit operators and shifts, ``%`` on a string literal, statements, several expressions,
  non-ASCII identifiers and control or invisible formatting characters.
* Limits: ``MAX_SOURCE_LENGTH`` characters, ``MAX_NODES`` nodes, ``MAX_DEPTH`` levels of nesting
  (checked without recursion before the tree is compiled). At evaluation every operation checks
  its operands *before* it runs: integers of at most ``MAX_INT_BITS`` bits, strings and lists of
  at most ``MAX_LENGTH`` items, ``Decimal`` values of bounded precision and exponent.
* A missing context key makes the guard false (``on_missing="false"``, the default) or raises
  ``GuardEvaluationError`` naming the key (``on_missing="error"``); ``explain(context)`` says
  which key was missing.
* Everything else that cannot be computed (a type error such as ``'a' < 1``, a division by
  zero, a limit exceeded, a NaN or an infinity anywhere an operation reads a number) makes the
  guard false. NaN and infinity therefore never make a guard pass, not even under ``not``.
* The context is only read: keys through ``Mapping.get`` (a ``defaultdict`` gains no key),
  list items by index. No attribute of any context value is ever read; an arbitrary object in
  the context can only be compared with ``==``/``!=`` (or found with ``in``).
"""

from __future__ import annotations

import ast
import datetime
import decimal
import unicodedata
import warnings
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Literal, NoReturn, Protocol, cast

from pystator.errors import ConfigurationError, GuardEvaluationError

__all__ = [
    "DECIMAL_CONTEXT",
    "MAX_DEPTH",
    "MAX_INT_BITS",
    "MAX_LENGTH",
    "MAX_NODES",
    "MAX_NUMBER_TEXT",
    "MAX_SOURCE_LENGTH",
    "SAFE_FUNCTIONS",
    "CompiledExpression",
    "compile_expression",
]

# ------------------------------------------------------------------------------------ limits
MAX_SOURCE_LENGTH = 2000
"""Characters of an expression (the definition model caps ``expr`` at the same length)."""
MAX_NODES = 200
"""Syntax nodes of an expression (names, literals, operations, calls...)."""
MAX_DEPTH = 32
"""Levels of nesting of an expression."""
MAX_INT_BITS = 256
"""Bits of an integer an operation may read or produce (about 77 decimal digits)."""
MAX_LENGTH = 10_000
"""Characters of a string, items of a list an operation may produce; items a function walks."""
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
_DECIMAL_CHECK = decimal.Context(
    prec=MAX_DECIMAL_DIGITS,
    Emax=999,
    Emin=-999,
    traps=[
        decimal.Inexact,
        decimal.InvalidOperation,
        decimal.Overflow,
        decimal.Underflow,
        decimal.Subnormal,
    ],
)

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

_ARITY: dict[str, tuple[int, int]] = {
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

_CONSTANT_NAMES: dict[str, Any] = {"true": True, "false": False, "null": None}

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
class _Missing(Exception):
    """A context key (or list index) the expression reads is not there."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _Invalid(Exception):
    """A value the expression cannot compute: the guard is false."""


_ABSENT: Any = object()
_NON_FINITE = "a NaN or infinite number never satisfies a guard"


def _type_name(value: Any) -> str:
    return type(value).__name__


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
    if isinstance(value, int):
        return _number(int.__int__(value))
    if isinstance(value, float):
        return _number(float.__float__(value))
    if isinstance(value, Decimal):
        return _decimal(Decimal(value))
    raise _Invalid(f"expected a number, got {_type_name(value)}")


def _text(value: Any) -> str | None:
    """A plain ``str`` for a string (or str subclass), else ``None``."""
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    return None


def _length_ok(n: int, what: str) -> None:
    if n > MAX_LENGTH:
        raise _Invalid(f"{what} longer than {MAX_LENGTH} items")


_SEQUENCES = (list, tuple)
_COLLECTIONS = (list, tuple, set, frozenset)
_TIME_TYPES = (datetime.datetime, datetime.date, datetime.time, datetime.timedelta)


def _scan(value: Any) -> None:
    """Refuse NaN/infinity anywhere inside ``value`` (containers walked, at most MAX_LENGTH)."""
    kind = type(value)
    if kind is int or kind is str or kind is bool or value is None:
        return
    if kind is float:
        if value - value != 0.0:
            raise _Invalid(_NON_FINITE)
        return
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise _Invalid(_NON_FINITE)
        return
    if not isinstance(value, (*_COLLECTIONS, dict)):
        return
    budget = MAX_LENGTH
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if item - item != 0.0:
                raise _Invalid(_NON_FINITE)
        elif isinstance(item, Decimal):
            if not item.is_finite():
                raise _Invalid(_NON_FINITE)
        elif isinstance(item, (*_COLLECTIONS, dict)):
            budget -= len(item)
            if budget < 0:
                raise _Invalid(f"containers compared hold more than {MAX_LENGTH} items")
            if isinstance(item, dict):
                stack.extend(item.keys())
                stack.extend(item.values())
            else:
                stack.extend(item)


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
    if isinstance(value, (int, float, Decimal)):
        return bool(_number(value) != 0)
    if isinstance(value, (str, *_COLLECTIONS, dict, Mapping)):
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
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        if isinstance(a, list) != isinstance(b, list):
            raise _Invalid("cannot add a list and a tuple")
        _length_ok(len(a) + len(b), "list")
        return [*a, *b] if isinstance(a, list) else (*a, *b)
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
    if isinstance(times, bool) or not isinstance(times, int):
        raise _Invalid("a string or list can only be repeated an integer number of times")
    times = _number(times)
    text = _text(seq)
    size = len(seq) * max(times, 0)
    _length_ok(size, "string" if text is not None else "list")
    if text is not None:
        return text * times
    return list(seq) * times if isinstance(seq, list) else tuple(seq) * times


def _mul(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        if a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
            raise _Invalid(f"integer larger than {MAX_INT_BITS} bits")
        return _checked(a * b)
    if isinstance(a, (str, *_SEQUENCES)):
        return _repeat(a, b)
    if isinstance(b, (str, *_SEQUENCES)):
        return _repeat(b, a)
    a, b = _number(a), _number(b)
    if type(a) is Decimal or type(b) is Decimal:
        _decimal_pair(a, b)
        return _checked(DECIMAL_CONTEXT.multiply(a, b))
    return _checked(a * b)


def _divisor(a: Any, b: Any) -> tuple[Any, Any]:
    if isinstance(a, str):
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
    if isinstance(a, (int, float, Decimal)) and isinstance(b, (int, float, Decimal)):
        return _number(a), _number(b)
    if isinstance(a, _TIME_TYPES) and isinstance(b, _TIME_TYPES):
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
    if isinstance(container, (*_COLLECTIONS, dict, Mapping)):
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


# ---------------------------------------------------------------------------- safe functions
def _items(value: Any, function: str) -> list[Any]:
    if isinstance(value, _COLLECTIONS):
        _length_ok(len(value), f"{function}() argument")
        return list(value)
    raise _Invalid(f"{function}() needs a list, tuple or set, got {_type_name(value)}")


def _fn_len(value: Any) -> int:
    if isinstance(value, (str, *_COLLECTIONS, dict, Mapping)):
        return len(value)
    raise _Invalid(f"len() of a {_type_name(value)} value")


def _fn_abs(value: Any) -> Any:
    value = _number(value)
    if type(value) is Decimal:
        return _checked(DECIMAL_CONTEXT.abs(value))
    return _checked(abs(value))


def _fn_round(value: Any, digits: Any = None) -> Any:
    value = _number(value)
    if digits is not None:
        if type(digits) is not int:
            raise _Invalid("round() digits must be an integer")
        if abs(digits) > MAX_ROUND_DIGITS:
            raise _Invalid(f"round() digits beyond {MAX_ROUND_DIGITS}")
    if type(value) is Decimal:
        if digits is None:
            if value.adjusted() > MAX_INT_BITS // 4:
                raise _Invalid(f"integer larger than {MAX_INT_BITS} bits")
            return _checked(int(DECIMAL_CONTEXT.to_integral_value(value)))
        exponent = Decimal(1).scaleb(-digits, context=DECIMAL_CONTEXT)
        return _checked(value.quantize(exponent, context=DECIMAL_CONTEXT))
    if type(value) is float and digits is None and abs(value) >= 2.0**MAX_INT_BITS:
        raise _Invalid(f"integer larger than {MAX_INT_BITS} bits")
    return _checked(round(value) if digits is None else round(value, digits))


def _fn_int(value: Any) -> int:
    text = _text(value)
    if text is not None:
        if len(text) > MAX_NUMBER_TEXT:
            raise _Invalid(f"int() of a string longer than {MAX_NUMBER_TEXT} characters")
        return cast(int, _checked(int(text)))
    value = _number(value)
    if type(value) is float and abs(value) >= 2.0**MAX_INT_BITS:
        raise _Invalid(f"integer larger than {MAX_INT_BITS} bits")
    if type(value) is Decimal and value.adjusted() > MAX_INT_BITS // 4:
        raise _Invalid(f"integer larger than {MAX_INT_BITS} bits")
    return cast(int, _checked(int(value)))


def _fn_float(value: Any) -> float:
    text = _text(value)
    if text is not None:
        if len(text) > MAX_NUMBER_TEXT:
            raise _Invalid(f"float() of a string longer than {MAX_NUMBER_TEXT} characters")
        return cast(float, _checked(float(text)))
    return cast(float, _checked(float(_number(value))))


def _fn_str(value: Any) -> str:
    text = _text(value)
    if text is not None:
        return text
    if value is None or isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float, Decimal)):
        return str(_number(value))
    raise _Invalid(f"str() of a {_type_name(value)} value is not allowed")


def _fn_bool(value: Any) -> bool:
    return _truth(value)


def _fn_any(value: Any) -> bool:
    return any(_truth(item) for item in _items(value, "any"))


def _fn_all(value: Any) -> bool:
    return all(_truth(item) for item in _items(value, "all"))


def _fn_sum(value: Any, start: Any = 0) -> Any:
    total = _number(start)
    for item in _items(value, "sum"):
        total = _add(total, _number(item))
    return total


def _extreme(function: str, args: tuple[Any, ...]) -> Any:
    items = _items(args[0], function) if len(args) == 1 else list(args)
    if not items:
        raise _Invalid(f"{function}() of an empty list")
    texts = [_text(item) for item in items]
    if all(t is not None for t in texts):
        values: list[Any] = texts
    elif all(isinstance(item, (int, float, Decimal)) for item in items):
        values = [_number(item) for item in items]
    elif all(isinstance(item, _TIME_TYPES) for item in items):
        values = items
    else:
        raise _Invalid(f"{function}() needs numbers, strings or dates of one kind")
    return min(values) if function == "min" else max(values)


def _fn_min(*args: Any) -> Any:
    return _extreme("min", args)


def _fn_max(*args: Any) -> Any:
    return _extreme("max", args)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
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
_BOOLEAN_FUNCTIONS = frozenset({"all", "any", "bool"})


# ------------------------------------------------------------------------------- compiler
class _Code:
    """A compiled node: ``fn(ctx)`` computes it; constants are known at load."""

    __slots__ = ("boolean", "const", "fn", "foldable", "key", "value")

    def __init__(
        self,
        fn: Evaluator,
        *,
        const: bool = False,
        value: Any = None,
        boolean: bool = False,
        key: str | None = None,
        foldable: bool = False,
    ) -> None:
        self.fn = fn
        self.const = const
        """The value is known at load: ``value``."""
        self.value = value
        self.boolean = boolean
        """``fn`` always returns a ``bool``."""
        self.key = key
        """A bare top-level context key (the fast paths read it directly)."""
        self.foldable = foldable
        """Every operand is a constant: compute the value at load."""


def _constant(value: Any) -> _Code:
    return _Code(lambda _ctx: value, const=True, value=value, boolean=isinstance(value, bool))


def _quote(source: str) -> str:
    if len(source) > 120:
        return repr(source[:80]) + f"... ({len(source)} characters)"
    return repr(source)


_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class _Compiler:
    def __init__(self, source: str) -> None:
        self.source = source
        self.names: dict[str, None] = {}

    def fail(self, message: str) -> NoReturn:
        raise ConfigurationError(f"expression {_quote(self.source)}: {message}")

    def segment(self, node: ast.AST) -> str:
        text = ast.get_source_segment(self.source, node)
        return text if text is not None else type(node).__name__

    # ----------------------------------------------------------------- front end
    def parse(self) -> ast.expr:
        source = self.source
        if len(source) > MAX_SOURCE_LENGTH:
            self.fail(f"longer than {MAX_SOURCE_LENGTH} characters")
        if not source.strip():
            self.fail("empty expression")
        for position, char in enumerate(source):
            if char not in "\t\n\r" and unicodedata.category(char) in _INVISIBLE:
                name = unicodedata.name(char, "a control character")
                self.fail(
                    f"character U+{ord(char):04X} ({name}) at position {position} is not "
                    "allowed: no control or invisible formatting characters"
                )
        tree, error = self._parse("eval")
        if not isinstance(tree, ast.Expression):
            statements, _ = self._parse("exec")
            if isinstance(statements, ast.Module) and (
                len(statements.body) != 1 or not isinstance(statements.body[0], ast.Expr)
            ):
                self.fail(
                    "only one expression is allowed; statements (import, assignment, ...), "
                    "';' and several lines of code are not"
                )
            self.fail(error)
        self.check_size(tree)
        return tree.body

    def _parse(self, mode: str) -> tuple[ast.AST | None, str]:
        """Parse only (never compiled); every failure of the parser becomes a message."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                return ast.parse(self.source, mode=mode), ""
        except SyntaxError as exc:
            where = f" at column {exc.offset}" if exc.offset else ""
            return None, f"invalid syntax{where}: {exc.msg}"
        except (RecursionError, MemoryError):
            return None, "too deeply nested or too complex"
        except (ValueError, OverflowError, Warning) as exc:
            return None, f"invalid expression: {exc}"

    def check_size(self, tree: ast.Expression) -> None:
        """Node count and depth, measured without recursion (the tree may be deep)."""
        count = 0
        stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
        while stack:
            node, depth = stack.pop()
            if isinstance(node, (ast.expr_context, ast.operator, ast.cmpop, ast.unaryop)):
                continue
            if isinstance(node, ast.boolop):
                continue
            count += 1
            if count > MAX_NODES:
                self.fail(f"more than {MAX_NODES} parts (names, literals, operators); split it")
            if depth > MAX_DEPTH:
                self.fail(f"nested deeper than {MAX_DEPTH} levels")
            stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))

    # ----------------------------------------------------------------- nodes
    def compile(self, node: ast.expr) -> _Code:
        method = _HANDLERS.get(type(node))
        if method is None:
            self.fail(self.refusal(node))
        code: _Code = method(self, node)
        if code.const or not code.foldable:
            return code
        # Every operand is a literal: compute it now, so that a part which cannot be computed
        # is refused at load rather than being a guard that is always false.
        try:
            value = code.fn({})
        except _Missing as exc:
            self.fail(f"{self.segment(node)!r} cannot be computed: {exc.key!r} is missing")
        except Exception as exc:
            self.fail(f"{self.segment(node)!r} cannot be computed: {exc}")
        code = _constant(value)
        code.boolean = isinstance(value, bool)
        return code

    def refusal(self, node: ast.AST) -> str:
        segment = self.segment(node)
        if isinstance(node, ast.Lambda):
            return "lambda is not allowed"
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return f"comprehensions and generator expressions are not allowed ({segment!r})"
        if isinstance(node, ast.NamedExpr):
            return "assignment expressions (:=) are not allowed"
        if isinstance(node, (ast.JoinedStr, ast.FormattedValue)):
            return "f-strings are not allowed"
        if isinstance(node, ast.Starred):
            return f"unpacking with * is not allowed ({segment!r})"
        if isinstance(node, ast.Dict):
            return "dict displays ({...: ...}) are not allowed"
        if isinstance(node, ast.Slice):
            return f"slices are not allowed ({segment!r}); index with a single key or number"
        if isinstance(node, (ast.Await, ast.Yield, ast.YieldFrom)):
            return f"{type(node).__name__.lower()} is not allowed"
        return f"{type(node).__name__} ({segment!r}) is not allowed"

    # literals
    def on_constant(self, node: ast.Constant) -> _Code:
        value = node.value
        if value is None or isinstance(value, (bool, str)):
            if isinstance(value, str) and len(value) > MAX_LENGTH:
                self.fail(f"string literal longer than {MAX_LENGTH} characters")
            return _constant(value)
        if isinstance(value, int):
            if value.bit_length() > MAX_INT_BITS:
                self.fail(f"integer literal larger than {MAX_INT_BITS} bits")
            return _constant(value)
        if isinstance(value, float):
            if value - value != 0.0:
                self.fail(f"number literal {self.segment(node)} is not finite")
            return _constant(value)
        if isinstance(value, complex):
            return self.fail("complex numbers are not allowed")
        if isinstance(value, bytes):
            return self.fail("bytes literals are not allowed; use a string")
        return self.fail(f"the literal {self.segment(node)} is not allowed")

    def _display(self, node: ast.List | ast.Tuple | ast.Set) -> _Code:
        kind = type(node).__name__.lower()
        items = [self.compile(e) for e in node.elts]
        if len(items) > MAX_LENGTH:  # pragma: no cover - MAX_NODES is far smaller
            self.fail(f"{kind} longer than {MAX_LENGTH} items")
        build: Callable[[list[Any]], Any]
        if isinstance(node, ast.List):
            build = list
        elif isinstance(node, ast.Tuple):
            build = tuple
        else:

            def build(values: list[Any]) -> Any:
                for value in values:
                    _scan(value)
                return frozenset(values)

        if all(i.const for i in items):
            try:
                return _constant(build([i.value for i in items]))
            except (_Invalid, TypeError) as exc:
                self.fail(f"{self.segment(node)!r} cannot be computed: {exc}")
        fns = tuple(i.fn for i in items)

        def display(ctx: Context) -> Any:
            return build([fn(ctx) for fn in fns])

        return _Code(display)

    def on_list(self, node: ast.List) -> _Code:
        return self._display(node)

    def on_tuple(self, node: ast.Tuple) -> _Code:
        return self._display(node)

    def on_set(self, node: ast.Set) -> _Code:
        return self._display(node)

    # context reads
    def identifier(self, name: str, node: ast.AST) -> str:
        if name.startswith("__"):
            self.fail(f"names starting with '__' are not allowed ({name!r})")
        if not self.segment(node).isascii():
            self.fail(f"identifiers must be plain ASCII ({self.segment(node)!r})")
        return name

    def on_name(self, node: ast.Name) -> _Code:
        name = self.identifier(node.id, node)
        if name in _CONSTANT_NAMES:
            return _constant(_CONSTANT_NAMES[name])
        self.names[name] = None

        def read(ctx: Context) -> Any:
            value = ctx.get(name, _ABSENT)
            if value is _ABSENT:
                raise _Missing(name)
            return value

        return _Code(read, key=name)

    def path_of(self, node: ast.expr) -> list[str] | None:
        keys: list[str] = []
        while isinstance(node, ast.Attribute):
            keys.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id in _CONSTANT_NAMES:
            return None
        keys.append(node.id)
        keys.reverse()
        return keys

    def on_attribute(self, node: ast.Attribute) -> _Code:
        keys = self.path_of(node)
        segment = self.segment(node)
        if keys is None or any(k.startswith("__") for k in keys):
            if "__" in segment:
                self.fail(
                    f"attribute access is not allowed ({segment!r}); names starting with '__' "
                    "are never allowed; use a.b only to read nested context keys"
                )
            self.fail(
                f"attribute access is not allowed ({segment!r}); use a.b only to read nested "
                "context keys"
            )
        self.identifier(keys[0], node)
        labels = [".".join(keys[: i + 1]) for i in range(len(keys))]
        self.names[labels[-1]] = None
        first = keys[0]
        rest = tuple(zip(keys[1:], labels[:-1], labels[1:], strict=True))

        def read(ctx: Context) -> Any:
            value = ctx.get(first, _ABSENT)
            if value is _ABSENT:
                raise _Missing(first)
            for key, parent, label in rest:
                if type(value) is not dict and not isinstance(value, Mapping):
                    raise _Invalid(f"{parent!r} is a {_type_name(value)}, not a mapping")
                value = value.get(key, _ABSENT)
                if value is _ABSENT:
                    raise _Missing(label)
            return value

        return _Code(read)

    def on_subscript(self, node: ast.Subscript) -> _Code:
        if isinstance(node.slice, ast.Slice):
            self.fail(self.refusal(node.slice))
        target = self.compile(node.value)
        index = self.compile(node.slice)
        label = self.segment(node)
        get_target, get_index = target.fn, index.fn

        def item(ctx: Context) -> Any:
            container = get_target(ctx)
            key = get_index(ctx)
            if type(container) is dict or isinstance(container, Mapping):
                _scan(key)
                value = container.get(key, _ABSENT)
                if value is _ABSENT:
                    raise _Missing(label)
                return value
            if isinstance(container, (str, list, tuple)):
                if type(key) is not int:
                    raise _Invalid(f"index of {label!r} must be an integer")
                try:
                    if isinstance(container, str):
                        return str.__getitem__(container, key)
                    if isinstance(container, list):
                        return list.__getitem__(container, key)
                    return tuple.__getitem__(container, key)
                except IndexError:
                    raise _Missing(label) from None
            raise _Invalid(f"cannot index a {_type_name(container)} value ({label!r})")

        return _Code(item, foldable=target.const and index.const)

    # operators
    def on_binop(self, node: ast.BinOp) -> _Code:
        refused = _REFUSED_OPERATORS.get(type(node.op))
        if refused is not None:
            self.fail(refused)
        if (
            isinstance(node.op, ast.Mod)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
        ):
            self.fail("string formatting with % is not allowed")
        operation = _BINARY[type(node.op)]
        left, right = self.compile(node.left), self.compile(node.right)
        lf, rf = left.fn, right.fn
        return _Code(lambda ctx: operation(lf(ctx), rf(ctx)), foldable=left.const and right.const)

    def on_unaryop(self, node: ast.UnaryOp) -> _Code:
        refused = _REFUSED_OPERATORS.get(type(node.op))
        if refused is not None:
            self.fail(refused)
        operation = _UNARY[type(node.op)]
        operand = self.compile(node.operand)
        fn = operand.fn
        return _Code(
            lambda ctx: operation(fn(ctx)),
            boolean=isinstance(node.op, ast.Not),
            foldable=operand.const,
        )

    def on_boolop(self, node: ast.BoolOp) -> _Code:
        parts = [self.compile(v) for v in node.values]
        fns = tuple(p.fn for p in parts)
        boolean = all(p.boolean for p in parts)
        foldable = all(p.const for p in parts)
        if isinstance(node.op, ast.And):

            def both(ctx: Context) -> Any:
                value: Any = True
                for fn in fns:
                    value = fn(ctx)
                    if not _truth(value):
                        return value
                return value

            return _Code(both, boolean=boolean, foldable=foldable)

        def either(ctx: Context) -> Any:
            value: Any = False
            for fn in fns:
                value = fn(ctx)
                if _truth(value):
                    return value
            return value

        return _Code(either, boolean=boolean, foldable=foldable)

    def on_ifexp(self, node: ast.IfExp) -> _Code:
        test, body, orelse = (
            self.compile(node.test),
            self.compile(node.body),
            self.compile(node.orelse),
        )
        tf, bf, of = test.fn, body.fn, orelse.fn
        return _Code(
            lambda ctx: bf(ctx) if _truth(tf(ctx)) else of(ctx),
            boolean=body.boolean and orelse.boolean,
            foldable=test.const and body.const and orelse.const,
        )

    def on_compare(self, node: ast.Compare) -> _Code:
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.Is, ast.IsNot)) and not (
                isinstance(right, ast.Constant) and right.value is None
            ):
                self.fail("'is' is only allowed as 'is None' or 'is not None'; use ==")
        left = self.compile(node.left)
        rights = [self.compile(c) for c in node.comparators]
        ops = tuple(_COMPARE[type(op)] for op in node.ops)
        foldable = left.const and all(r.const for r in rights)
        if len(ops) == 1:
            compare, lf, rf = ops[0], left.fn, rights[0].fn
            return _Code(lambda ctx: compare(lf(ctx), rf(ctx)), boolean=True, foldable=foldable)
        steps = tuple(zip(ops, (r.fn for r in rights), strict=True))
        first = left.fn

        def chain(ctx: Context) -> bool:
            value = first(ctx)
            for compare, fn in steps:
                other = fn(ctx)
                if not compare(value, other):
                    return False
                value = other
            return True

        return _Code(chain, boolean=True, foldable=foldable)

    def on_call(self, node: ast.Call) -> _Code:
        func = node.func
        if isinstance(func, ast.Attribute):
            self.fail(
                f"method calls are not allowed ({self.segment(func)!r}); the only calls are "
                f"the functions {', '.join(SAFE_FUNCTIONS)}"
            )
        if not isinstance(func, ast.Name):
            self.fail(f"only the safe functions can be called, not {self.segment(func)!r}")
        name = func.id
        if name not in _FUNCTIONS:
            self.identifier(name, func)
            self.fail(
                f"calling {name!r} is not allowed; the only functions are "
                f"{', '.join(SAFE_FUNCTIONS)}"
            )
        self.identifier(name, func)
        if node.keywords:
            self.fail(f"keyword arguments are not allowed ({name}() takes positional arguments)")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.fail(self.refusal(arg))
        low, high = _ARITY[name]
        if not low <= len(node.args) <= high:
            expected = str(low) if low == high else f"{low} to {high}"
            self.fail(f"{name}() takes {expected} argument(s), got {len(node.args)}")
        args = [self.compile(a) for a in node.args]
        function = _FUNCTIONS[name]
        fns = tuple(a.fn for a in args)
        boolean = name in _BOOLEAN_FUNCTIONS
        foldable = all(a.const for a in args)
        if len(fns) == 1:
            only = fns[0]
            return _Code(lambda ctx: function(only(ctx)), boolean=boolean, foldable=foldable)
        return _Code(
            lambda ctx: function(*[fn(ctx) for fn in fns]), boolean=boolean, foldable=foldable
        )


_HANDLERS: dict[type[ast.AST], Callable[[_Compiler, Any], _Code]] = {
    ast.Constant: _Compiler.on_constant,
    ast.List: _Compiler.on_list,
    ast.Tuple: _Compiler.on_tuple,
    ast.Set: _Compiler.on_set,
    ast.Name: _Compiler.on_name,
    ast.Attribute: _Compiler.on_attribute,
    ast.Subscript: _Compiler.on_subscript,
    ast.BinOp: _Compiler.on_binop,
    ast.UnaryOp: _Compiler.on_unaryop,
    ast.BoolOp: _Compiler.on_boolop,
    ast.IfExp: _Compiler.on_ifexp,
    ast.Compare: _Compiler.on_compare,
    ast.Call: _Compiler.on_call,
}


# ------------------------------------------------------------------------------ public API
def _fast_compare(
    op: type[ast.cmpop], left: _Code, right: _Code
) -> Callable[[Context], Any] | None:
    """``name OP name`` / ``name OP literal`` / ``literal OP name``: one closure, no calls
    for two plain ints (the common case); anything else goes through the checked compare."""
    if op not in (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq):
        return None
    compare = _COMPARE[op]
    if left.key is not None and right.key is not None:
        a_key, b_key = left.key, right.key
        fast = _NAME_NAME[op]
        return fast(a_key, b_key, compare)
    if left.key is not None and right.const and type(right.value) in (int, str):
        return _NAME_CONST[op](left.key, right.value, compare)
    if right.key is not None and left.const and type(left.value) in (int, str):
        return _NAME_CONST[_MIRROR[op]](right.key, left.value, _COMPARE[_MIRROR[op]])
    return None


_MIRROR: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.Gt,
    ast.LtE: ast.GtE,
    ast.Gt: ast.Lt,
    ast.GtE: ast.LtE,
    ast.Eq: ast.Eq,
    ast.NotEq: ast.NotEq,
}


def _read2(ctx: Context, a_key: str, b_key: str) -> tuple[Any, Any]:
    a = ctx.get(a_key, _ABSENT)
    if a is _ABSENT:
        raise _Missing(a_key)
    b = ctx.get(b_key, _ABSENT)
    if b is _ABSENT:
        raise _Missing(b_key)
    return a, b


def _read1(ctx: Context, key: str) -> Any:
    a = ctx.get(key, _ABSENT)
    if a is _ABSENT:
        raise _Missing(key)
    return a


# The specialised closures spell each operator out: an inline ``a >= b`` on two ints is the
# whole cost of the common guard. Missing keys and other types take the checked path.
def _nn_lt(a_key: str, b_key: str, compare: Callable[[Any, Any], bool]) -> Evaluator:
    def fn(ctx: Context) -> Any:
        get = ctx.get
        a = get(a_key, _ABSENT)
        b = get(b_key, _ABSENT)
        if type(a) is int and type(b) is int:
            return a < b
        return compare(*_read2(ctx, a_key, b_key))

    return fn


def _nn_le(a_key: str, b_key: str, compare: Callable[[Any, Any], bool]) -> Evaluator:
    def fn(ctx: Context) -> Any:
        get = ctx.get
        a = get(a_key, _ABSENT)
        b = get(b_key, _ABSENT)
        if type(a) is int and type(b) is int:
            return a <= b
        return compare(*_read2(ctx, a_key, b_key))

    return fn


def _nn_gt(a_key: str, b_key: str, compare: Callable[[Any, Any], bool]) -> Evaluator:
    def fn(ctx: Context) -> Any:
        get = ctx.get
        a = get(a_key, _ABSENT)
        b = get(b_key, _ABSENT)
        if type(a) is int and type(b) is int:
            return a > b
        return compare(*_read2(ctx, a_key, b_key))

    return fn


def _nn_ge(a_key: str, b_key: str, compare: Callable[[Any, Any], bool]) -> Evaluator:
    def fn(ctx: Context) -> Any:
        get = ctx.get
        a = get(a_key, _ABSENT)
        b = get(b_key, _ABSENT)
        if type(a) is int and type(b) is int:
            return a >= b
        return compare(*_read2(ctx, a_key, b_key))

    return fn


def _nn_eq(a_key: str, b_key: str, compare: Callable[[Any, Any], bool]) -> Evaluator:
    def fn(ctx: Context) -> Any:
        get = ctx.get
        a = get(a_key, _ABSENT)
        b = get(b_key, _ABSENT)
        kind = type(a)
        if kind is type(b) and (kind is int or kind is str):
            return a == b
        return compare(*_read2(ctx, a_key, b_key))

    return fn


def _nn_ne(a_key: str, b_key: str, compare: Callable[[Any, Any], bool]) -> Evaluator:
    def fn(ctx: Context) -> Any:
        get = ctx.get
        a = get(a_key, _ABSENT)
        b = get(b_key, _ABSENT)
        kind = type(a)
        if kind is type(b) and (kind is int or kind is str):
            return a != b
        return compare(*_read2(ctx, a_key, b_key))

    return fn


def _nc_lt(key: str, b: Any, compare: Callable[[Any, Any], bool]) -> Evaluator:
    kind = type(b)

    def fn(ctx: Context) -> Any:
        a = ctx.get(key, _ABSENT)
        if type(a) is kind:
            return a < b
        return compare(_read1(ctx, key), b)

    return fn


def _nc_le(key: str, b: Any, compare: Callable[[Any, Any], bool]) -> Evaluator:
    kind = type(b)

    def fn(ctx: Context) -> Any:
        a = ctx.get(key, _ABSENT)
        if type(a) is kind:
            return a <= b
        return compare(_read1(ctx, key), b)

    return fn


def _nc_gt(key: str, b: Any, compare: Callable[[Any, Any], bool]) -> Evaluator:
    kind = type(b)

    def fn(ctx: Context) -> Any:
        a = ctx.get(key, _ABSENT)
        if type(a) is kind:
            return a > b
        return compare(_read1(ctx, key), b)

    return fn


def _nc_ge(key: str, b: Any, compare: Callable[[Any, Any], bool]) -> Evaluator:
    kind = type(b)

    def fn(ctx: Context) -> Any:
        a = ctx.get(key, _ABSENT)
        if type(a) is kind:
            return a >= b
        return compare(_read1(ctx, key), b)

    return fn


def _nc_eq(key: str, b: Any, compare: Callable[[Any, Any], bool]) -> Evaluator:
    kind = type(b)

    def fn(ctx: Context) -> Any:
        a = ctx.get(key, _ABSENT)
        if type(a) is kind:
            return a == b
        return compare(_read1(ctx, key), b)

    return fn


def _nc_ne(key: str, b: Any, compare: Callable[[Any, Any], bool]) -> Evaluator:
    kind = type(b)

    def fn(ctx: Context) -> Any:
        a = ctx.get(key, _ABSENT)
        if type(a) is kind:
            return a != b
        return compare(_read1(ctx, key), b)

    return fn


_Factory = Callable[[str, Any, Callable[[Any, Any], bool]], Evaluator]
_NAME_NAME: dict[type[ast.cmpop], _Factory] = {
    ast.Lt: _nn_lt,
    ast.LtE: _nn_le,
    ast.Gt: _nn_gt,
    ast.GtE: _nn_ge,
    ast.Eq: _nn_eq,
    ast.NotEq: _nn_ne,
}
_NAME_CONST: dict[type[ast.cmpop], _Factory] = {
    ast.Lt: _nc_lt,
    ast.LtE: _nc_le,
    ast.Gt: _nc_gt,
    ast.GtE: _nc_ge,
    ast.Eq: _nc_eq,
    ast.NotEq: _nc_ne,
}


def compile_expression(source: str, *, on_missing: OnMissing = "false") -> CompiledExpression:
    """Parse, check and compile ``source`` once; return its evaluator.

    The evaluator takes the context (a mapping) and returns ``True`` or ``False``. A missing
    context key gives ``False`` (``on_missing="false"``) or raises ``GuardEvaluationError``
    naming the key (``on_missing="error"``); any other value the expression cannot compute
    gives ``False``. Raises ``ConfigurationError`` quoting the expression and saying what is
    not allowed.
    """
    if on_missing not in ("false", "error"):
        raise ValueError(f"on_missing must be 'false' or 'error', not {on_missing!r}")
    if not isinstance(source, str):
        raise ConfigurationError(f"an expression must be a string, not {_type_name(source)}")
    compiler = _Compiler(source)
    tree = compiler.parse()
    try:
        root = compiler.compile(tree)
    except RecursionError:  # pragma: no cover - MAX_DEPTH keeps the walk shallow
        compiler.fail("too deeply nested")
    if root.const:
        try:
            constant = _truth(root.value)
        except _Invalid as exc:
            compiler.fail(f"cannot be used as a condition: {exc}")
        root = _constant(constant)

    body = root.fn
    if not root.const and isinstance(tree, ast.Compare) and len(tree.ops) == 1:
        left = compiler.compile(tree.left)
        right = compiler.compile(tree.comparators[0])
        fast = _fast_compare(type(tree.ops[0]), left, right)
        if fast is not None:
            body = fast
    boolean = root.boolean
    raise_missing = on_missing == "error"
    quoted = _quote(source)

    def missing(key: str) -> bool:
        if raise_missing:
            raise GuardEvaluationError(
                f"expression {quoted}: context key {key!r} is missing"
            ) from None
        return False

    if boolean:

        def evaluate(context: Context, /) -> bool:
            try:
                return body(context)  # type: ignore[no-any-return]
            except _Missing as exc:
                return missing(exc.key)
            except Exception:
                return False

    else:

        def evaluate(context: Context, /) -> bool:
            try:
                return _truth(body(context))
            except _Missing as exc:
                return missing(exc.key)
            except Exception:
                return False

    def explain(context: Context, /) -> str | None:
        """``None`` when the guard passes; otherwise why it does not."""
        try:
            value = body(context)
            if boolean:
                return None if value else "the expression is false"
            return None if _truth(value) else "the expression is false"
        except _Missing as exc:
            return f"context key {exc.key!r} is missing"
        except _Invalid as exc:
            return str(exc)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"

    result = cast(CompiledExpression, evaluate)
    result.source = source
    result.names = tuple(compiler.names)
    result.on_missing = on_missing
    result.explain = explain
    return result
