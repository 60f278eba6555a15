"""The front end of the expression language: the text is checked and parsed, and never run.

What lives here: ``parse`` (the length, character and token checks, then ``ast.parse`` only,
then the node and depth limits), ``refusal`` (what to say of a node the language does not
have), ``identifier`` (a name as written: no dunder, plain ASCII), and ``fail``, ``segment``
and ``quote``, which quote the expression in every ``ConfigurationError``. Nothing here gives
the text to ``eval``, ``exec`` or ``compile``; ``compiler`` turns the checked tree into
closures.
"""

from __future__ import annotations

import ast
import re
import unicodedata
import warnings
from typing import NoReturn

from pystator.engine.expr.limits import MAX_DEPTH, MAX_NODES, MAX_SOURCE_LENGTH, MAX_TOKENS
from pystator.errors import ConfigurationError

__all__ = ["fail", "identifier", "parse", "quote", "refusal", "segment"]

# Roughly Python's tokens: a string literal, a word (name, number, keyword) or one character.
_TOKEN = re.compile(r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|\w+|\S""")
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def quote(source: str) -> str:
    """``source`` as messages quote it: its ``repr``, cut after 80 characters when long."""
    if len(source) > 120:
        return repr(source[:80]) + f"... ({len(source)} characters)"
    return repr(source)


def fail(source: str, message: str) -> NoReturn:
    """Refuse the expression ``source`` at load: a ``ConfigurationError`` quoting it."""
    raise ConfigurationError(f"expression {quote(source)}: {message}")


def segment(source: str, node: ast.AST) -> str:
    """The text of ``node`` in ``source`` (its node type's name if the parser kept none)."""
    text = ast.get_source_segment(source, node)
    return text if text is not None else type(node).__name__


def parse(source: str) -> ast.expr:
    """The tree of the one expression ``source``, checked against every load-time limit."""
    if len(source) > MAX_SOURCE_LENGTH:
        fail(source, f"longer than {MAX_SOURCE_LENGTH} characters")
    if not source.strip():
        fail(source, "empty expression")
    _check_characters(source)
    # The parser's work grows with the tokens; refuse hostile inputs before it runs.
    if len(_TOKEN.findall(source)) > MAX_TOKENS:
        fail(
            source,
            f"more than {MAX_TOKENS} tokens (names, literals, operators, brackets); split it",
        )
    tree, error = _parse(source, "eval")
    if not isinstance(tree, ast.Expression):
        statements, _ = _parse(source, "exec")
        if isinstance(statements, ast.Module) and (
            len(statements.body) != 1 or not isinstance(statements.body[0], ast.Expr)
        ):
            fail(
                source,
                "only one expression is allowed; statements (import, assignment, ...), "
                "';' and several lines of code are not",
            )
        fail(source, error)
    _check_size(source, tree)
    return tree.body


def _check_characters(source: str) -> None:
    """Refuse control and invisible formatting characters (tabs and line ends are fine)."""
    suspect = _ASCII_CONTROL.search(source) if source.isascii() else True
    for position, char in enumerate(source if suspect else ()):
        if char not in "\t\n\r" and unicodedata.category(char) in _INVISIBLE:
            name = "NUL" if char == "\x00" else unicodedata.name(char, "a control character")
            fail(
                source,
                f"character U+{ord(char):04X} ({name}) at position {position} is not "
                "allowed: no control or invisible formatting characters",
            )


def _parse(source: str, mode: str) -> tuple[ast.AST | None, str]:
    """Parse only (never compiled); every failure of the parser becomes a message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return ast.parse(source, mode=mode), ""
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        # Python's own message is often just "invalid syntax" again: say it once.
        detail = f": {exc.msg}" if exc.msg and exc.msg != "invalid syntax" else ""
        return None, f"invalid syntax{where}{detail}"
    except (RecursionError, MemoryError):
        return None, "too deeply nested or too complex"
    except (ValueError, OverflowError, Warning) as exc:
        return None, f"invalid expression: {exc}"


def _check_size(source: str, tree: ast.Expression) -> None:
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
            fail(source, f"more than {MAX_NODES} parts (names, literals, operators); split it")
        if depth > MAX_DEPTH:
            fail(source, f"nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def refusal(source: str, node: ast.AST) -> str:
    """Why ``node``, a construct Python has and the language does not, is refused."""
    text = segment(source, node)
    if isinstance(node, ast.Lambda):
        return "lambda is not allowed"
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        return f"comprehensions and generator expressions are not allowed ({text!r})"
    if isinstance(node, ast.NamedExpr):
        return "assignment expressions (:=) are not allowed"
    if isinstance(node, (ast.JoinedStr, ast.FormattedValue)):
        return "f-strings are not allowed"
    if isinstance(node, ast.Starred):
        return f"unpacking with * is not allowed ({text!r})"
    if isinstance(node, ast.Dict):
        return "dict displays ({...: ...}) are not allowed"
    if isinstance(node, ast.Slice):
        return f"slices are not allowed ({text!r}); index with a single key or number"
    if isinstance(node, (ast.Await, ast.Yield, ast.YieldFrom)):
        return f"{type(node).__name__.lower()} is not allowed"
    return f"{type(node).__name__} ({text!r}) is not allowed"


def identifier(source: str, name: str, node: ast.AST) -> str:
    """Check a name as written: no dunder, plain ASCII, not rewritten by the parser.

    Python folds identifiers with NFKC (full-width ``\\uff45val`` becomes ``eval``); the
    source text of the node must therefore end with the name itself."""
    if name.startswith("__"):
        fail(source, f"names starting with '__' are not allowed ({name!r})")
    written = segment(source, node)
    if not name.isascii() or (not written.isascii() and not written.endswith(name)):
        fail(source, f"identifiers must be plain ASCII ({written!r})")
    return name
