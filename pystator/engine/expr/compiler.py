"""Parse, check and compile an expression into nested closures (never eval/exec)."""

from __future__ import annotations

import ast
import re
import unicodedata
import warnings
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from pystator.engine.expr.functions import _BOOLEAN_FUNCTIONS, _FUNCTIONS
from pystator.engine.expr.limits import (
    _ABSENT,
    _ARITY,
    _CONSTANT_NAMES,
    MAX_DEPTH,
    MAX_INT_BITS,
    MAX_LENGTH,
    MAX_NODES,
    MAX_SOURCE_LENGTH,
    MAX_TOKENS,
    SAFE_FUNCTIONS,
    Context,
    Evaluator,
    _Invalid,
    _Missing,
    _type_name,
)
from pystator.engine.expr.values import (
    _BINARY,
    _COMPARE,
    _REFUSED_OPERATORS,
    _UNARY,
    _content,
    _scan,
    _truth,
)
from pystator.errors import ConfigurationError


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


# Roughly Python's tokens: a string literal, a word (name, number, keyword) or one character.
_TOKEN = re.compile(r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|\w+|\S""")
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
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
        suspect = _ASCII_CONTROL.search(source) if source.isascii() else True
        for position, char in enumerate(source if suspect else ()):
            if char not in "\t\n\r" and unicodedata.category(char) in _INVISIBLE:
                name = "NUL" if char == "\x00" else unicodedata.name(char, "a control character")
                self.fail(
                    f"character U+{ord(char):04X} ({name}) at position {position} is not "
                    "allowed: no control or invisible formatting characters"
                )
        # The parser's work grows with the tokens; refuse hostile inputs before it runs.
        if len(_TOKEN.findall(source)) > MAX_TOKENS:
            self.fail(
                f"more than {MAX_TOKENS} tokens (names, literals, operators, brackets); split it"
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
            # Python's own message is often just "invalid syntax" again: say it once.
            detail = f": {exc.msg}" if exc.msg and exc.msg != "invalid syntax" else ""
            return None, f"invalid syntax{where}{detail}"
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

            def build(values: list[Any]) -> Any:
                _content(values, kind)
                return values

        elif isinstance(node, ast.Tuple):

            def build(values: list[Any]) -> Any:
                _content(values, kind)
                return tuple(values)

        else:

            def build(values: list[Any]) -> Any:
                _content(values, kind)
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
        """Check a name as written: no dunder, plain ASCII, not rewritten by the parser.

        Python folds identifiers with NFKC (full-width ``\\uff45val`` becomes ``eval``); the
        source text of the node must therefore end with the name itself."""
        if name.startswith("__"):
            self.fail(f"names starting with '__' are not allowed ({name!r})")
        written = self.segment(node)
        if not name.isascii() or (not written.isascii() and not written.endswith(name)):
            self.fail(f"identifiers must be plain ASCII ({written!r})")
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

    def on_attribute(self, node: ast.Attribute) -> _Code:
        """``a.b.c`` (and ``a[0].b``): key reads in nested mappings, never ``getattr``."""
        chain: list[ast.Attribute] = []
        base: ast.expr = node
        while isinstance(base, ast.Attribute):
            chain.append(base)
            base = base.value
        chain.reverse()
        keys = [a.attr for a in chain]
        segment = self.segment(node)
        is_path = (isinstance(base, ast.Name) and base.id not in _CONSTANT_NAMES) or isinstance(
            base, ast.Subscript
        )
        if not is_path or any(k.startswith("__") for k in keys):
            dunder = "; names starting with '__' are never allowed" if "__" in segment else ""
            self.fail(
                f"attribute access is not allowed ({segment!r}){dunder}; use a.b only to read "
                "nested context keys"
            )
        for attribute in chain:
            self.identifier(attribute.attr, attribute)
        read_base: Evaluator
        if isinstance(base, ast.Name):
            first = self.identifier(base.id, base)

            def read_name(ctx: Context) -> Any:
                value = ctx.get(first, _ABSENT)
                if value is _ABSENT:
                    raise _Missing(first)
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
            if type(container) is dict or issubclass(type(container), Mapping):
                _scan(key)
                value = container.get(key, _ABSENT)
                if value is _ABSENT:
                    raise _Missing(label)
                return value
            if issubclass(type(container), (str, list, tuple)):
                if type(key) is not int:
                    raise _Invalid(f"index of {label!r} must be an integer")
                try:
                    if issubclass(type(container), str):
                        return str.__getitem__(container, key)
                    if issubclass(type(container), list):
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
            if type(func) not in _HANDLERS:
                self.fail(self.refusal(func))
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
