"""A YAML reader for untrusted definition files.

What it refuses, and why:
* Python and other non-standard tags (code execution): ``SafeLoader`` already refuses them.
* Aliases and anchors: a few lines of aliases expand to gigabytes (the "billion laughs").
* Duplicate keys: YAML keeps the last silently; a definition would lose a transition.
* Inputs over ``max_bytes``.
It also reads ``on``/``off``/``yes``/``no``/``y``/``n`` as strings (YAML 1.2 core schema): YAML
1.1 would turn a state called ``on`` or a trigger called ``no`` into a boolean. Only ``true``
and ``false`` are booleans.

The loader remembers the line of every mapping key and sequence item so that validation errors
can point at a line (``line_of``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pystator.errors import ConfigIssue, ConfigurationError

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 100
"""Nesting levels a definition document may have (params and metadata included)."""

Lines = dict[int, Any]


class _SafeLoader(yaml.SafeLoader):
    """SafeLoader without aliases, duplicate keys or YAML 1.1 booleans; records lines."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.lines: Lines = {}
        self.keep_alive: list[Any] = []
        self.depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise ConfigurationError(
                [
                    ConfigIssue(
                        f"line {event.start_mark.line + 1}",
                        "YAML aliases (*name) are not allowed in machine definitions",
                    )
                ]
            )
        event = self.peek_event()  # type: ignore[no-untyped-call]
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise ConfigurationError(
                [
                    ConfigIssue(
                        f"line {event.start_mark.line + 1}",
                        f"YAML anchors (&{anchor}) are not allowed in machine definitions",
                    )
                ]
            )
        # A definition is a few levels deep; refusing deep nesting here, while composing,
        # stops a hostile document early instead of recursing until Python gives up.
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConfigurationError(
                [
                    ConfigIssue(
                        f"line {event.start_mark.line + 1}",
                        f"YAML nested too deeply (more than {MAX_DEPTH} levels)",
                    )
                ]
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise ConfigurationError(
                    [
                        ConfigIssue(
                            f"line {key_node.start_mark.line + 1}",
                            "YAML merge keys (<<) are not allowed in machine definitions",
                        )
                    ]
                )
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise ConfigurationError(
                    [
                        ConfigIssue(
                            f"line {key_node.start_mark.line + 1}",
                            "a mapping key must be a plain value",
                        )
                    ]
                ) from None
            if key in seen:
                raise ConfigurationError(
                    [
                        ConfigIssue(
                            f"line {key_node.start_mark.line + 1}",
                            f"duplicate key '{key}' (first at line {seen[key] + 1})",
                        )
                    ]
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def _construct_map(loader: _SafeLoader, node: MappingNode) -> Iterator[dict[Any, Any]]:
    data: dict[Any, Any] = {}
    loader.lines[id(data)] = {
        k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, ScalarNode)
    }
    loader.keep_alive.append(data)
    yield data
    data.update(loader.construct_mapping(node))


def _construct_seq(loader: _SafeLoader, node: SequenceNode) -> Iterator[list[Any]]:
    data: list[Any] = []
    loader.lines[id(data)] = [child.start_mark.line + 1 for child in node.value]
    loader.keep_alive.append(data)
    yield data
    data.extend(loader.construct_sequence(node))


# YAML 1.2 core booleans only; everything else the 1.1 resolver called a bool stays a string.
_SafeLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
# Only plain sequences and mappings of the safe scalar types: no sets, omaps or pairs.
for _tag in ("tag:yaml.org,2002:set", "tag:yaml.org,2002:omap", "tag:yaml.org,2002:pairs"):
    _SafeLoader.yaml_constructors.pop(_tag, None)


class YAMLFloat(float):
    """A float that remembers how it was written: ``version: 1.10`` must not become "1.1"."""

    __slots__ = ("text",)
    text: str


def _construct_float(loader: _SafeLoader, node: ScalarNode) -> float:
    value = YAMLFloat(loader.construct_yaml_float(node))
    value.text = str(node.value)
    return value


_SafeLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_SafeLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_SafeLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


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


def load_yaml_text(text: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> LoadedYAML:
    """Parse one YAML document safely; raise ``ConfigurationError`` on anything refused."""
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise ConfigurationError(f"YAML input is larger than the limit of {max_bytes} bytes")
    if "\x00" in text:
        raise ConfigurationError("YAML input contains a NUL byte")
    try:
        loader = _SafeLoader(text)
    except yaml.reader.ReaderError as exc:
        # The reader vets every character before parsing: control characters, lone surrogates.
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigurationError(
            [ConfigIssue(f"line {line}", f"invalid YAML: {exc.reason} (#x{exc.character:04x})")]
        ) from None
    try:
        data = loader.get_single_data()
    except ConfigurationError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = exc.problem or str(exc)
        raise ConfigurationError([ConfigIssue(where, f"invalid YAML: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"invalid YAML: {exc}") from None
    except RecursionError:
        raise ConfigurationError("invalid YAML: nested too deeply") from None
    finally:
        loader.dispose()
    return LoadedYAML(data, loader.lines, loader.keep_alive)
