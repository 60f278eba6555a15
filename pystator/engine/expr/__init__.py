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
* Limits: ``MAX_SOURCE_LENGTH`` characters and ``MAX_TOKENS`` tokens (before parsing),
  ``MAX_NODES`` nodes and ``MAX_DEPTH`` levels of nesting (checked without recursion before
  the tree is compiled). At evaluation every operation checks
  its operands *before* it runs: integers of at most ``MAX_INT_BITS`` bits, strings and lists of
  at most ``MAX_LENGTH`` items, ``Decimal`` values of bounded precision and exponent; a list,
  tuple or set it builds holds at most ``MAX_LENGTH`` items and ``MAX_VALUE_CHARACTERS``
  characters of strings in all, nested values counted each time they appear (as its JSON
  holds them), so no sequence of ``assign`` steps grows a context exponentially
  (``l: "[l, l]"``).
* A missing context key makes the guard false (``on_missing="false"``, the default) or raises
  ``GuardEvaluationError`` naming the key (``on_missing="error"``); ``explain(context)`` says
  which key was missing.
* Everything else that cannot be computed (a type error such as ``'a' < 1``, a division by
  zero, a limit exceeded, a NaN or an infinity anywhere an operation reads a number) makes the
  guard false. NaN and infinity therefore never make a guard pass, not even under ``not``.
* The context is only read: keys through ``Mapping.get`` (a ``defaultdict`` gains no key),
  list items by index. No attribute of any context value is ever read; an arbitrary object in
  the context can only be compared with ``==``/``!=`` (or found with ``in``).

This module holds the two entry points, ``compile_expression`` (a guard) and
``compile_value`` (an ``assign`` value). The rest of the package, in the order a source
text goes through it:

* ``syntax``: the text checked and parsed (``ast.parse`` only), the node and depth limits;
* ``compiler``: the tree turned into nested closures, literals folded at load;
* ``operators`` and ``functions``: what the closures compute with, each operation bounded;
* ``values``: the checks on values those operations share (numbers, sizes, NaN, truth);
* ``fast``: the fast evaluators of a one-comparison guard and of ``name + 1``;
* ``limits``: every bound, and the internal signals ``Missing`` and ``Invalid``.

The engine imports this package on the first ``expr`` guard it compiles
(``engine.step``), not with ``import pystator``.
"""

from __future__ import annotations

import ast
from typing import Any, Protocol, cast

from pystator.engine.expr.compiler import Code, Compiler, constant
from pystator.engine.expr.fast import FALSE, fast_compare, fast_explain, fast_value
from pystator.engine.expr.limits import (
    DECIMAL_CONTEXT,
    MAX_DEPTH,
    MAX_INT_BITS,
    MAX_LENGTH,
    MAX_NODES,
    MAX_NUMBER_TEXT,
    MAX_SOURCE_LENGTH,
    MAX_TOKENS,
    MAX_VALUE_CHARACTERS,
    SAFE_FUNCTIONS,
    CompiledExpression,
    Context,
    Invalid,
    Missing,
    OnMissing,
    type_name,
)
from pystator.engine.expr.syntax import parse, quote
from pystator.engine.expr.values import truth
from pystator.errors import ConfigurationError, GuardEvaluationError

__all__ = [
    "DECIMAL_CONTEXT",
    "MAX_DEPTH",
    "MAX_INT_BITS",
    "MAX_LENGTH",
    "MAX_NODES",
    "MAX_NUMBER_TEXT",
    "MAX_SOURCE_LENGTH",
    "MAX_TOKENS",
    "MAX_VALUE_CHARACTERS",
    "SAFE_FUNCTIONS",
    "CompiledExpression",
    "ExpressionError",
    "ValueExpression",
    "compile_expression",
    "compile_value",
]


def _compiled(source: str) -> tuple[Compiler, ast.expr, Code]:
    """Parse and check ``source`` and compile its tree: (the compiler, the tree, its root)."""
    if not isinstance(source, str):
        raise ConfigurationError(f"an expression must be a string, not {type_name(source)}")
    compiler = Compiler(source)
    tree = parse(source)
    try:
        root = compiler.compile(tree)
    except RecursionError:  # pragma: no cover - MAX_DEPTH keeps the walk shallow
        compiler.fail("too deeply nested")
    return compiler, tree, root


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
    compiler, tree, root = _compiled(source)
    if root.const:
        try:
            known = truth(root.value)
        except Invalid as exc:
            compiler.fail(f"cannot be used as a condition: {exc}")
        root = constant(known)

    body = root.fn
    boolean = root.boolean
    raise_missing = on_missing == "error"
    quoted = quote(source)

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
            except Missing as exc:
                return missing(exc.key)
            except Exception:
                return False

    else:

        def evaluate(context: Context, /) -> bool:
            try:
                return truth(body(context))
            except Missing as exc:
                return missing(exc.key)
            except Exception:
                return False

    fast_operands: tuple[type[ast.cmpop], Code, Code] | None = None
    if not root.const and isinstance(tree, ast.Compare) and len(tree.ops) == 1:
        left = compiler.compile(tree.left)
        right = compiler.compile(tree.comparators[0])
        fast = fast_compare(type(tree.ops[0]), left, right, evaluate)
        if fast is not None:
            evaluate = fast
            fast_operands = (type(tree.ops[0]), left, right)

    def explain(context: Context, /) -> str | None:
        """``None`` when the guard passes; otherwise why it does not."""
        try:
            value = body(context)
            if boolean:
                return None if value else FALSE
            return None if truth(value) else FALSE
        except Missing as exc:
            return f"context key {exc.key!r} is missing"
        except Invalid as exc:
            return str(exc)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"

    if fast_operands is not None:
        explain = fast_explain(*fast_operands, explain) or explain

    result = cast(CompiledExpression, evaluate)
    result.source = source
    result.names = tuple(compiler.names)
    result.on_missing = on_missing
    result.explain = explain
    return result


class ExpressionError(Exception):
    """A value expression could not be computed (a missing key, a type error, a limit)."""


class ValueExpression(Protocol):
    """What ``compile_value`` returns: call it with the context to get the value."""

    source: str
    names: tuple[str, ...]

    def __call__(self, context: Context, /) -> Any: ...


def compile_value(source: str) -> ValueExpression:
    """Parse, check and compile ``source`` once as a value (``assign``'s right-hand side).

    The evaluator takes the context and returns the computed value; it raises
    ``ExpressionError`` saying why when the value cannot be computed (a missing key, a type
    error such as ``'a' + 1``, a division by zero, a limit, a NaN or infinity). Raises
    ``ConfigurationError`` quoting the expression for anything the language refuses.
    """
    compiler, tree, root = _compiled(source)
    body = root.fn

    def evaluate(context: Context, /) -> Any:
        try:
            return body(context)
        except Missing as exc:
            raise ExpressionError(f"context key {exc.key!r} is missing") from None
        except Invalid as exc:
            raise ExpressionError(str(exc)) from None
        except Exception as exc:
            raise ExpressionError(f"{type(exc).__name__}: {exc}") from None

    if root.const:
        known = root.value

        def evaluate(context: Context, /) -> Any:
            return known

    elif isinstance(tree, ast.BinOp):
        fast = fast_value(
            type(tree.op), compiler.compile(tree.left), compiler.compile(tree.right), evaluate
        )
        if fast is not None:
            evaluate = fast

    result = cast(ValueExpression, evaluate)
    result.source = source
    result.names = tuple(compiler.names)
    return result
