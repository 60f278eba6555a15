"""A YAML reader for untrusted definition files.

What it refuses, and why:
* Python and other non-standard tags (code execution): only the safe scalar types, plain
  mappings and plain sequences are built.
* Aliases and anchors: a few lines of aliases expand to gigabytes (the "billion laughs").
* Duplicate keys: YAML keeps the last silently; a definition would lose a transition.
* Inputs over ``max_bytes``, NUL bytes and the characters YAML forbids.
* Nesting deeper than ``MAX_DEPTH``.
It also reads ``on``/``off``/``yes``/``no``/``y``/``n`` as strings (YAML 1.2 core schema): YAML
1.1 would turn a state called ``on`` or a trigger called ``no`` into a boolean. Only ``true``
and ``false`` are booleans.

The data is built straight from the parser's events, with an explicit stack (no recursion, no
node tree kept in memory). The events come from libyaml's C parser when PyYAML was built with
it (``USE_LIBYAML``), else from PyYAML's pure-Python parser: everything after the events (tags,
anchors, keys, depth, lines) is the same code on both paths, so both refuse the same inputs
with the same messages. The C parser makes a 0.7 MB definition load about ten times faster
(``docs/configuration.md``, "Limits").

The loader remembers the line of every mapping key and sequence item so that validation errors
can point at a line (``line_of``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
    SequenceEndEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver, Resolver
from yaml.scanner import Scanner

from pystator.errors import ConfigIssue, ConfigurationError

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 100
"""Nesting levels a definition document may have (params and metadata included)."""

USE_LIBYAML: bool = bool(getattr(yaml, "__with_libyaml__", False))
"""Take events from libyaml's C parser (when PyYAML has it); the tests run every YAML check
with this on and off."""

Lines = dict[int, Any]

_STR = BaseResolver.DEFAULT_SCALAR_TAG
_MAP = BaseResolver.DEFAULT_MAPPING_TAG
_SEQ = BaseResolver.DEFAULT_SEQUENCE_TAG
_MERGE = "tag:yaml.org,2002:merge"
# The characters YAML forbids (PyYAML's reader refuses the same set); checked once, up front,
# so both parsers see only text they accept.
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


class YAMLFloat(float):
    """A float that remembers how it was written: ``version: 1.10`` must not become "1.1"."""

    __slots__ = ("text",)
    text: str


class _Scalars(SafeConstructor, Resolver):
    """Resolves and builds scalars: the safe types, with YAML 1.2 booleans."""

    def __init__(self) -> None:
        SafeConstructor.__init__(self)
        Resolver.__init__(self)


# YAML 1.2 core booleans only; everything else the 1.1 resolver called a bool stays a string.
_Scalars.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}
_Scalars.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _construct_float(loader: _Scalars, node: ScalarNode) -> float:
    value = YAMLFloat(loader.construct_yaml_float(node))
    value.text = str(node.value)
    return value


# Scalars only: collections are built by ``_Builder``, and only plain ones (no sets, omaps,
# pairs or tagged objects).
_COLLECTIONS = {_MAP, _SEQ, *(f"tag:yaml.org,2002:{kind}" for kind in ("set", "omap", "pairs"))}
_SCALAR_CONSTRUCTORS: dict[str, Callable[[_Scalars, ScalarNode], Any]] = {
    tag: fn
    for tag, fn in _Scalars.yaml_constructors.items()
    if tag is not None and tag not in _COLLECTIONS
}
_SCALAR_CONSTRUCTORS["tag:yaml.org,2002:float"] = _construct_float


class _Events(Protocol):
    def get_event(self) -> Any: ...

    def dispose(self) -> None: ...


class _PureEvents(Reader, Scanner, Parser):
    """PyYAML's pure-Python reader, scanner and parser: the events without libyaml."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)


def _event_source(text: str) -> _Events:
    if USE_LIBYAML:
        from yaml._yaml import CParser

        source: _Events = CParser(text)
        return source
    return _PureEvents(text)


def _mark(event: Event) -> Any:
    """Where ``event`` starts (a ``Mark`` of either parser)."""
    return event.start_mark


def _line(event: Event) -> int:
    line: int = _mark(event).line + 1
    return line


def _refuse(event: Event, message: str) -> ConfigurationError:
    return ConfigurationError([ConfigIssue(f"line {_line(event)}", message)])


def _no_constructor(event: Event, tag: str) -> ConstructorError:
    return ConstructorError(
        None, None, f"could not determine a constructor for the tag {tag!r}", _mark(event)
    )


class _Open:
    """A mapping or sequence being filled, with the lines of its keys or items."""

    __slots__ = ("data", "key", "lines", "seen")

    def __init__(self, data: dict[Any, Any] | list[Any], lines: dict[str, int] | list[int]):
        self.data = data
        self.lines = lines
        self.key: Any = _NO_KEY
        self.seen: dict[Any, int] = {}


_NO_KEY = object()


class _Builder:
    """Builds plain data from a stream of events, refusing what definitions may not hold."""

    def __init__(self) -> None:
        self.scalars = _Scalars()
        self.lines: Lines = {}
        self.keep_alive: list[Any] = []

    def document(self, source: _Events) -> Any:
        source.get_event()  # stream start
        event = source.get_event()
        if isinstance(event, StreamEndEvent):
            return None
        start = event  # document start
        data = self._node(source)
        source.get_event()  # document end
        event = source.get_event()
        if not isinstance(event, StreamEndEvent):
            raise yaml.composer.ComposerError(
                "expected a single document in the stream",
                _mark(start),
                "but found another document",
                _mark(event),
            )
        return data

    def _node(self, source: _Events) -> Any:
        """One node (the document's root) and everything inside it, with an explicit stack."""
        stack: list[_Open] = []
        while True:
            event = source.get_event()
            if isinstance(event, MappingEndEvent | SequenceEndEvent):
                done = stack.pop().data
                if not stack:
                    return done
                continue
            if isinstance(event, AliasEvent):
                raise _refuse(event, "YAML aliases (*name) are not allowed in machine definitions")
            assert isinstance(event, NodeEvent)
            self._check(event, len(stack) + 1)
            parent = stack[-1] if stack else None
            wants_key = parent is not None and parent.key is _NO_KEY and type(parent.data) is dict
            if isinstance(event, ScalarEvent):
                if parent is None:
                    return self._scalar(event)
                if wants_key:
                    self._key(parent, event)
                else:
                    self._add(parent, event, self._scalar(event))
                continue
            if wants_key:
                raise _refuse(event, "a mapping key must be a plain value")
            assert isinstance(event, CollectionStartEvent)
            opened = self._open(event)
            if parent is not None:
                self._add(parent, event, opened.data)
            stack.append(opened)

    def _check(self, event: NodeEvent, depth: int) -> None:
        if event.anchor is not None:
            raise _refuse(
                event, f"YAML anchors (&{event.anchor}) are not allowed in machine definitions"
            )
        # A definition is a few levels deep; refusing deep nesting while reading stops a
        # hostile document early.
        if depth > MAX_DEPTH:
            raise _refuse(event, f"YAML nested too deeply (more than {MAX_DEPTH} levels)")

    def _open(self, event: CollectionStartEvent) -> _Open:
        is_map = isinstance(event, MappingStartEvent)
        tag = event.tag
        if tag is not None and tag != "!" and tag != (_MAP if is_map else _SEQ):
            raise _no_constructor(event, tag)
        data: dict[Any, Any] | list[Any] = {} if is_map else []
        lines: dict[str, int] | list[int] = {} if is_map else []
        self.lines[id(data)] = lines
        self.keep_alive.append(data)
        return _Open(data, lines)

    @staticmethod
    def _add(parent: _Open, event: NodeEvent, value: Any) -> None:
        """Add ``value`` (built from ``event``) to ``parent``: an item, or the pending key's
        value."""
        data = parent.data
        if type(data) is list:
            data.append(value)
            parent.lines.append(_line(event))  # type: ignore[union-attr]
            return
        data[parent.key] = value
        parent.key = _NO_KEY

    def _key(self, parent: _Open, event: ScalarEvent) -> None:
        """Take ``event`` as the next key of the mapping ``parent``."""
        if self._tag(event) == _MERGE:
            raise _refuse(event, "YAML merge keys (<<) are not allowed in machine definitions")
        key = self._scalar(event)
        line = _line(event)
        try:
            first = parent.seen.get(key)
        except TypeError:  # a tagged scalar that builds something unhashable
            raise _refuse(event, "a mapping key must be a plain value") from None
        if first is not None:
            raise _refuse(event, f"duplicate key '{key}' (first at line {first})")
        parent.seen[key] = line
        parent.lines[event.value] = line  # type: ignore[call-overload]
        parent.key = key

    def _tag(self, event: ScalarEvent) -> str:
        tag = event.tag
        if tag is None or tag == "!":
            resolved: str = self.scalars.resolve(  # type: ignore[no-untyped-call]
                ScalarNode, event.value, event.implicit
            )
            return resolved
        return tag

    def _scalar(self, event: ScalarEvent) -> Any:
        tag = self._tag(event)
        if tag == _STR:
            return event.value
        construct = _SCALAR_CONSTRUCTORS.get(tag)
        if construct is None:
            raise _no_constructor(event, tag)
        node = ScalarNode(tag, event.value, _mark(event), None, event.style)
        return construct(self.scalars, node)


class LoadedYAML:
    """Parsed data plus the line of each key and item (for error messages)."""

    __slots__ = ("_keep", "data", "lines")

    def __init__(self, data: Any, lines: Lines, keep: list[Any]) -> None:
        self.data = data
        self.lines = lines
        self._keep = keep

    def line_of(self, path: tuple[str | int, ...]) -> int | None:
        """The line of the deepest part of ``path`` found in the document."""
        node = self.data
        line: int | None = None
        for part in path:
            table = self.lines.get(id(node))
            if isinstance(node, dict) and part in node:
                if isinstance(table, dict):
                    line = table.get(part, line)
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                if isinstance(table, list) and part < len(table):
                    line = table[part]
                node = node[part]
            else:
                break
        return line


def _check_text(text: str, max_bytes: int) -> None:
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise ConfigurationError(f"YAML input is larger than the limit of {max_bytes} bytes")
    if "\x00" in text:
        raise ConfigurationError("YAML input contains a NUL byte")
    bad = _NON_PRINTABLE.search(text)
    if bad is not None:
        # Control characters and lone surrogates: refused before either parser sees them.
        line = text.count("\n", 0, bad.start()) + 1
        raise ConfigurationError(
            [
                ConfigIssue(
                    f"line {line}",
                    f"invalid YAML: special characters are not allowed (#x{ord(bad.group()):04x})",
                )
            ]
        )


def load_yaml_text(text: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> LoadedYAML:
    """Parse one YAML document safely; raise ``ConfigurationError`` on anything refused."""
    _check_text(text, max_bytes)
    builder = _Builder()
    source = _event_source(text)
    try:
        data = builder.document(source)
    except ConfigurationError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = exc.problem or str(exc)
        if problem == "exceeded maximum nesting depth":  # libyaml's own limit (1000 levels)
            where, problem = (
                where.split(",")[0],
                f"nested too deeply (more than {MAX_DEPTH} levels)",
            )
            raise ConfigurationError([ConfigIssue(where, f"YAML {problem}")]) from None
        raise ConfigurationError([ConfigIssue(where, f"invalid YAML: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"invalid YAML: {exc}") from None
    finally:
        source.dispose()
    return LoadedYAML(data, builder.lines, builder.keep_alive)
