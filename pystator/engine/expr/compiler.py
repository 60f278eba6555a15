"""The compiler of the expression language: a checked tree becomes nested closures.

What lives here: ``Code`` (one compiled node: its closure and what is known of it at load),
``constant``, and ``Compiler``, whose ``on_<node>`` handlers (the table ``HANDLERS``) turn each
node the language has into a closure over its operands' closures, folding at load every part
whose operands are all literals. The closures read the context only through ``Mapping.get``
and list indexes, compute with ``operators`` and ``functions``, and never call ``eval``,
``exec`` or ``compile``. ``syntax`` parses and checks the text first.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from pystator.engine.expr.functions import BOOLEAN_FUNCTIONS, FUNCTIONS
from pystator.engine.expr.limits import (
    ABSENT,
    ARITY,
    CONSTANT_NAMES,
    MAX_INT_BITS,
    MAX_LENGTH,
    SAFE_FUNCTIONS,
    Context,
    Evaluator,
    Invalid,
    Missing,
    type_name,
)
from pystator.engine.expr.operators import BINARY, COMPARE, REFUSED_OPERATORS, UNARY
from pystator.engine.expr.syntax import fail, identifier, refusal, segment
from pystator.engine.expr.values import content, scan, truth

__all__ = ["HANDLERS", "Code", "Compiler", "constant"]


class Code:
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


def constant(value: Any) -> Code:
    """The compiled node of a value known at load."""
    return Code(lambda _ctx: value, const=True, value=value, boolean=isinstance(value, bool))


class Compiler:
    """Compiles the nodes of one expression's tree (``syntax.parse`` checked it first).

    ``names`` collects, in order, the context paths the expression reads.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.names: dict[str, None] = {}

    def fail(self, message: str) -> NoReturn:
        """Refuse the expression: a ``ConfigurationError`` quoting it."""
        fail(self.source, message)

    def segment(self, node: ast.AST) -> str:
        """The text of ``node`` in the expression."""
        return segment(self.source, node)

    def compile(self, node: ast.expr) -> Code:
        """The compiled ``node``; computed now if every operand of it is a literal."""
        method = HANDLERS.get(type(node))
        if method is None:
            self.fail(refusal(self.source, node))
        code: Code = method(self, node)
        if code.const or not code.foldable:
            return code
        # Every operand is a literal: compute it now, so that a part which cannot be computed
        # is refused at load rather than being a guard that is always false.
        try:
            value = code.fn({})
        except Missing as exc:
            self.fail(f"{self.segment(node)!r} cannot be computed: {exc.key!r} is missing")
        except Exception as exc:
            self.fail(f"{self.segment(node)!r} cannot be computed: {exc}")
        code = constant(value)
        code.boolean = isinstance(value, bool)
        return code

    # literals
    def on_constant(self, node: ast.Constant) -> Code:
        value = node.value
        if value is None or isinstance(value, (bool, str)):
            if isinstance(value, str) and len(value) > MAX_LENGTH:
                self.fail(f"string literal longer than {MAX_LENGTH} characters")
            return constant(value)
        if isinstance(value, int):
            if value.bit_length() > MAX_INT_BITS:
                self.fail(f"integer literal larger than {MAX_INT_BITS} bits")
            return constant(value)
        if isinstance(value, float):
            if value - value != 0.0:
                self.fail(f"number literal {self.segment(node)} is not finite")
            return constant(value)
        if isinstance(value, complex):
            return self.fail("complex numbers are not allowed")
        if isinstance(value, bytes):
            return self.fail("bytes literals are not allowed; use a string")
        return self.fail(f"the literal {self.segment(node)} is not allowed")

    def _display(self, node: ast.List | ast.Tuple | ast.Set) -> Code:
        kind = type(node).__name__.lower()
        items = [self.compile(e) for e in node.elts]
        if len(items) > MAX_LENGTH:  # pragma: no cover - MAX_NODES is far smaller
            self.fail(f"{kind} longer than {MAX_LENGTH} items")
        build: Callable[[list[Any]], Any]
        if isinstance(node, ast.List):

            def build(values: list[Any]) -> Any:
                content(values, kind)
                return values

        elif isinstance(node, ast.Tuple):

            def build(values: list[Any]) -> Any:
                content(values, kind)
                return tuple(values)

        else:

            def build(values: list[Any]) -> Any:
                content(values, kind)
                for value in values:
                    scan(value)
                return frozenset(values)

        if all(i.const for i in items):
            try:
                return constant(build([i.value for i in items]))
            except (Invalid, TypeError) as exc:
                self.fail(f"{self.segment(node)!r} cannot be computed: {exc}")
        fns = tuple(i.fn for i in items)

        def display(ctx: Context) -> Any:
            return build([fn(ctx) for fn in fns])

        return Code(display)

    def on_list(self, node: ast.List) -> Code:
        return self._display(node)

    def on_tuple(self, node: ast.Tuple) -> Code:
        return self._display(node)

    def on_set(self, node: ast.Set) -> Code:
        return self._display(node)

    # context reads
    def on_name(self, node: ast.Name) -> Code:
        name = identifier(self.source, node.id, node)
        if name in CONSTANT_NAMES:
            return constant(CONSTANT_NAMES[name])
        self.names[name] = None

        def read(ctx: Context) -> Any:
            value = ctx.get(name, ABSENT)
            if value is ABSENT:
                raise Missing(name)
            return value

        return Code(read, key=name)

    def on_attribute(self, node: ast.Attribute) -> Code:
        """``a.b.c`` (and ``a[0].b``): key reads in nested mappings, never ``getattr``."""
        chain: list[ast.Attribute] = []
        base: ast.expr = node
        while isinstance(base, ast.Attribute):
            chain.append(base)
            base = base.value
        chain.reverse()
        keys = [a.attr for a in chain]
        written = self.segment(node)
        is_path = (isinstance(base, ast.Name) and base.id not in CONSTANT_NAMES) or isinstance(
            base, ast.Subscript
        )
        if not is_path or any(k.startswith("__") for k in keys):
            dunder = "; names starting with '__' are never allowed" if "__" in written else ""
            self.fail(
                f"attribute access is not allowed ({written!r}){dunder}; use a.b only to read "
                "nested context keys"
            )
        for attribute in chain:
            identifier(self.source, attribute.attr, attribute)
        read_base: Evaluator
        if isinstance(base, ast.Name):
            first = identifier(self.source, base.id, base)

            def read_name(ctx: Context) -> Any:
                value = ctx.get(first, ABSENT)
                if value is ABSENT:
                    raise Missing(first)
                return value

            read_base, base_label = read_name, first
        else:
            read_base, base_label = self.compile(base).fn, self.segment(base)
        labels = [base_label + "".join("." + k for k in keys[: i + 1]) for i in range(len(keys))]
        if isinstance(base, ast.Name):
            self.names[labels[-1]] = None
        steps = tuple(zip(keys, [base_label, *labels[:-1]], labels, strict=True))

        def read(ctx: Context) -> Any:
            value = read_base(ctx)
            for key, parent, label in steps:
                if type(value) is not dict and not issubclass(type(value), Mapping):
                    raise Invalid(f"{parent!r} is a {type_name(value)}, not a mapping")
                value = value.get(key, ABSENT)
                if value is ABSENT:
                    raise Missing(label)
            return value

        return Code(read)

    def on_subscript(self, node: ast.Subscript) -> Code:
        if isinstance(node.slice, ast.Slice):
            self.fail(refusal(self.source, node.slice))
        target = self.compile(node.value)
        index = self.compile(node.slice)
        label = self.segment(node)
        get_target, get_index = target.fn, index.fn

        def item(ctx: Context) -> Any:
            container = get_target(ctx)
            key = get_index(ctx)
            if type(container) is dict or issubclass(type(container), Mapping):
                scan(key)
                value = container.get(key, ABSENT)
                if value is ABSENT:
                    raise Missing(label)
                return value
            if issubclass(type(container), (str, list, tuple)):
                if type(key) is not int:
                    raise Invalid(f"index of {label!r} must be an integer")
                try:
                    if issubclass(type(container), str):
                        return str.__getitem__(container, key)
                    if issubclass(type(container), list):
                        return list.__getitem__(container, key)
                    return tuple.__getitem__(container, key)
                except IndexError:
                    raise Missing(label) from None
            raise Invalid(f"cannot index a {type_name(container)} value ({label!r})")

        return Code(item, foldable=target.const and index.const)

    # operators
    def on_binop(self, node: ast.BinOp) -> Code:
        refused = REFUSED_OPERATORS.get(type(node.op))
        if refused is not None:
            self.fail(refused)
        if (
            isinstance(node.op, ast.Mod)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
        ):
            self.fail("string formatting with % is not allowed")
        operation = BINARY[type(node.op)]
        left, right = self.compile(node.left), self.compile(node.right)
        lf, rf = left.fn, right.fn
        return Code(lambda ctx: operation(lf(ctx), rf(ctx)), foldable=left.const and right.const)

    def on_unaryop(self, node: ast.UnaryOp) -> Code:
        refused = REFUSED_OPERATORS.get(type(node.op))
        if refused is not None:
            self.fail(refused)
        operation = UNARY[type(node.op)]
        operand = self.compile(node.operand)
        fn = operand.fn
        return Code(
            lambda ctx: operation(fn(ctx)),
            boolean=isinstance(node.op, ast.Not),
            foldable=operand.const,
        )

    def on_boolop(self, node: ast.BoolOp) -> Code:
        parts = [self.compile(v) for v in node.values]
        fns = tuple(p.fn for p in parts)
        boolean = all(p.boolean for p in parts)
        foldable = all(p.const for p in parts)
        if isinstance(node.op, ast.And):

            def both(ctx: Context) -> Any:
                value: Any = True
                for fn in fns:
                    value = fn(ctx)
                    if not truth(value):
                        return value
                return value

            return Code(both, boolean=boolean, foldable=foldable)

        def either(ctx: Context) -> Any:
            value: Any = False
            for fn in fns:
                value = fn(ctx)
                if truth(value):
                    return value
            return value

        return Code(either, boolean=boolean, foldable=foldable)

    def on_ifexp(self, node: ast.IfExp) -> Code:
        test, body, orelse = (
            self.compile(node.test),
            self.compile(node.body),
            self.compile(node.orelse),
        )
        tf, bf, of = test.fn, body.fn, orelse.fn
        return Code(
            lambda ctx: bf(ctx) if truth(tf(ctx)) else of(ctx),
            boolean=body.boolean and orelse.boolean,
            foldable=test.const and body.const and orelse.const,
        )

    def on_compare(self, node: ast.Compare) -> Code:
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.Is, ast.IsNot)) and not (
                isinstance(right, ast.Constant) and right.value is None
            ):
                self.fail("'is' is only allowed as 'is None' or 'is not None'; use ==")
        left = self.compile(node.left)
        rights = [self.compile(c) for c in node.comparators]
        ops = tuple(COMPARE[type(op)] for op in node.ops)
        foldable = left.const and all(r.const for r in rights)
        if len(ops) == 1:
            compare, lf, rf = ops[0], left.fn, rights[0].fn
            return Code(lambda ctx: compare(lf(ctx), rf(ctx)), boolean=True, foldable=foldable)
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

        return Code(chain, boolean=True, foldable=foldable)

    def on_call(self, node: ast.Call) -> Code:
        func = node.func
        if isinstance(func, ast.Attribute):
            self.fail(
                f"method calls are not allowed ({self.segment(func)!r}); the only calls are "
                f"the functions {', '.join(SAFE_FUNCTIONS)}"
            )
        if not isinstance(func, ast.Name):
            if type(func) not in HANDLERS:
                self.fail(refusal(self.source, func))
            self.fail(f"only the safe functions can be called, not {self.segment(func)!r}")
        name = func.id
        if name not in FUNCTIONS:
            identifier(self.source, name, func)
            self.fail(
                f"calling {name!r} is not allowed; the only functions are "
                f"{', '.join(SAFE_FUNCTIONS)}"
            )
        identifier(self.source, name, func)
        if node.keywords:
            self.fail(f"keyword arguments are not allowed ({name}() takes positional arguments)")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.fail(refusal(self.source, arg))
        low, high = ARITY[name]
        if not low <= len(node.args) <= high:
            expected = str(low) if low == high else f"{low} to {high}"
            self.fail(f"{name}() takes {expected} argument(s), got {len(node.args)}")
        args = [self.compile(a) for a in node.args]
        function = FUNCTIONS[name]
        fns = tuple(a.fn for a in args)
        boolean = name in BOOLEAN_FUNCTIONS
        foldable = all(a.const for a in args)
        if len(fns) == 1:
            only = fns[0]
            return Code(lambda ctx: function(only(ctx)), boolean=boolean, foldable=foldable)
        return Code(
            lambda ctx: function(*[fn(ctx) for fn in fns]), boolean=boolean, foldable=foldable
        )


HANDLERS: dict[type[ast.AST], Callable[[Compiler, Any], Code]] = {
    ast.Constant: Compiler.on_constant,
    ast.List: Compiler.on_list,
    ast.Tuple: Compiler.on_tuple,
    ast.Set: Compiler.on_set,
    ast.Name: Compiler.on_name,
    ast.Attribute: Compiler.on_attribute,
    ast.Subscript: Compiler.on_subscript,
    ast.BinOp: Compiler.on_binop,
    ast.UnaryOp: Compiler.on_unaryop,
    ast.BoolOp: Compiler.on_boolop,
    ast.IfExp: Compiler.on_ifexp,
    ast.Compare: Compiler.on_compare,
    ast.Call: Compiler.on_call,
}
"""The handler of each node type the language has; any other node is refused."""
