"""The XML layer of the SCXML interchange: read a document safely, write one plainly.

Reading drives expat (the standard library's parser) directly and refuses every way XML has
to make a small file large or to reach outside it: a document type declaration (where
entities are declared: the "billion laughs" and external entities) is refused as soon as it
starts, before any entity is defined or expanded; so are entity declarations and external
entity references should expat report one anyway. The input is bounded in bytes and the
elements in depth; a malformed document is one ``ConfigurationError`` naming its line.

Elements are kept in one small tree of ``Element``: SCXML's (in its namespace, or in none),
PyStator's (``urn:pystator:scxml:1``), and other namespaces' (an editor's layout data), which
the reader of the definition ignores. Attributes are split the same way; ``xml:`` attributes
and other namespaces' are dropped.

Writing turns the same tree into indented text, escaping what an attribute value needs
(newlines and tabs as character references, so they read back unchanged) and refusing the
characters XML 1.0 cannot hold at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from xml.parsers import expat

from pystator.errors import ConfigIssue, ConfigurationError
from pystator.loaders.safe_yaml import DEFAULT_MAX_BYTES
from pystator.models.checks import MAX_STATE_DEPTH

SCXML_NS = "http://www.w3.org/2005/07/scxml"
"""The SCXML namespace (W3C Recommendation, 2015)."""

PYSTATOR_NS = "urn:pystator:scxml:1"
"""PyStator's namespace, for what SCXML has no element or attribute for."""

_PYSTATOR_FAMILY = "urn:pystator:"

MAX_XML_DEPTH = 2 * MAX_STATE_DEPTH
"""Elements nest at most this deep: room for the deepest state tree a definition may have
(``MAX_STATE_DEPTH``) with its regions, transitions and executable content."""

Space = Literal["scxml", "ps", "other"]


@dataclass(slots=True, eq=False)
class Element:
    """One element: its namespace (``space``), local name, attributes and children.

    ``attrs`` holds the attributes without a namespace (SCXML's), ``ps`` PyStator's, both by
    local name and in the order written. ``line`` is where a read element starts (0 for one
    built to be written). ``key`` is bookkeeping of the writer's caller, never written.
    """

    space: Space
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    ps: dict[str, str] = field(default_factory=dict)
    children: list[Element] = field(default_factory=list)
    text: str = ""
    line: int = 0
    key: int | None = None

    @property
    def label(self) -> str:
        """``<state>``, ``<ps:action>``: how messages name the element."""
        return f"<ps:{self.tag}>" if self.space == "ps" else f"<{self.tag}>"

    def add(self, child: Element) -> Element:
        """Append ``child``; returns it."""
        self.children.append(child)
        return child


def scxml(tag: str, /, **attrs: str | None) -> Element:
    """An SCXML element with the attributes whose value is not ``None``."""
    return Element("scxml", tag, {k: v for k, v in attrs.items() if v is not None})


# --------------------------------------------------------------------------------- reading
class _Refused(Exception):
    """Raised from a handler to stop expat: the document is refused (``issue`` says why)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.issue = ConfigIssue(f"line {line}", message)


class _Builder:
    """expat's handlers, building the ``Element`` tree."""

    def __init__(self, parser: expat.XMLParserType) -> None:
        self.parser = parser
        self.stack: list[Element] = []
        self.root: Element | None = None

    def _line(self) -> int:
        return int(self.parser.CurrentLineNumber)

    def doctype(self, name: str, *_: object) -> None:
        raise _Refused(
            self._line(),
            f"a document type declaration (<!DOCTYPE {name}>) is not allowed: SCXML needs "
            "none, and it is where entities (billion laughs, external files) are declared",
        )

    def entity(self, name: str, *_: object) -> None:
        raise _Refused(self._line(), f"entity declarations are not allowed (entity '{name}')")

    def external_entity(self, *_: object) -> int:
        raise _Refused(self._line(), "external entities are not allowed")

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if len(self.stack) >= MAX_XML_DEPTH:
            raise _Refused(
                self._line(), f"elements are nested too deeply (more than {MAX_XML_DEPTH})"
            )
        space, tag = _element_name(name, self._line())
        element = Element(space, tag, line=self._line())
        for qualified, value in attributes.items():
            uri, _, local = qualified.rpartition(" ")
            if uri == "":
                element.attrs[local] = value  # SCXML's attributes have no namespace
            elif _space_of(uri, element.line) == "ps":
                element.ps[local] = value
            # Other namespaces' attributes (xml:lang, an editor's) are not read.
        if self.stack:
            self.stack[-1].children.append(element)
        else:
            self.root = element
        self.stack.append(element)

    def end(self, _name: str) -> None:
        self.stack.pop()

    def data(self, text: str) -> None:
        if self.stack:
            self.stack[-1].text += text


def _space_of(uri: str, line: int) -> Space:
    """The space of a namespace: SCXML's (or none), PyStator's, or another one."""
    if uri in ("", SCXML_NS):
        return "scxml"
    if uri == PYSTATOR_NS:
        return "ps"
    if uri.startswith(_PYSTATOR_FAMILY):
        raise _Refused(
            line, f"namespace '{uri}' is not one this PyStator reads (it reads '{PYSTATOR_NS}')"
        )
    return "other"


def _element_name(qualified: str, line: int) -> tuple[Space, str]:
    """expat's ``"uri local"`` (or ``"local"`` without a namespace) -> (space, local name)."""
    uri, _, local = qualified.rpartition(" ")
    return _space_of(uri, line), local


def parse_xml(text: str | bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Element:
    """The root ``Element`` of an XML document, read safely.

    Raises ``ConfigurationError`` (one issue, ``line N``) for a document over ``max_bytes``,
    a malformed one, one with a DOCTYPE, entity declarations or external entities, or one
    nested deeper than ``MAX_XML_DEPTH``.
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if len(data) > max_bytes:
        raise ConfigurationError(f"the document is larger than the limit of {max_bytes} bytes")
    # A str was decoded already: its bytes are UTF-8 whatever its declaration says.
    parser = expat.ParserCreate(
        encoding="utf-8" if isinstance(text, str) else None, namespace_separator=" "
    )
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    builder = _Builder(parser)
    parser.StartDoctypeDeclHandler = builder.doctype
    parser.EntityDeclHandler = builder.entity
    parser.ExternalEntityRefHandler = builder.external_entity
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
    except _Refused as refused:
        raise ConfigurationError([refused.issue]) from None
    except expat.ExpatError as exc:
        reason = expat.ErrorString(exc.code) or "malformed"
        where = f"line {exc.lineno}, column {exc.offset + 1}"
        raise ConfigurationError([ConfigIssue(where, f"not well-formed XML: {reason}")]) from None
    assert builder.root is not None  # expat refuses a document without an element
    return builder.root


# --------------------------------------------------------------------------------- writing
# Characters XML 1.0 cannot hold, even as character references.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
_DOUBLE_QUOTED = str.maketrans(_ESCAPES | {'"': "&quot;"})
_SINGLE_QUOTED = str.maketrans(_ESCAPES | {"'": "&apos;"})
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def _checked(value: str, where: str) -> str:
    bad = _NOT_XML.search(value)
    if bad is not None:
        raise ConfigurationError(
            f"{where} holds the character U+{ord(bad.group()):04X}, which XML 1.0 cannot "
            "represent: SCXML cannot carry it"
        )
    return value


def _open_tag(element: Element, namespaces: str) -> str:
    name = f"ps:{element.tag}" if element.space == "ps" else element.tag
    parts = [name + namespaces]
    ident = element.attrs.get("id") or element.attrs.get("name")
    label = f"{element.label[:-1]} '{ident}'>" if ident else element.label
    attributes = [*element.attrs.items(), *((f"ps:{k}", v) for k, v in element.ps.items())]
    for key, value in attributes:
        _checked(value, f"attribute {key} of {label}")
        if '"' in value and "'" not in value:  # JSON reads better in single quotes
            parts.append(f"{key}='{value.translate(_SINGLE_QUOTED)}'")
        else:
            parts.append(f'{key}="{value.translate(_DOUBLE_QUOTED)}"')
    return " ".join(parts)


def write_xml(root: Element, *, indent: str = "  ") -> str:
    """The document ``root`` heads, as indented XML text with its declaration.

    The root declares the SCXML namespace as the default one and ``ps:`` as PyStator's.
    Raises ``ConfigurationError`` for a value holding a character XML 1.0 cannot represent.
    """
    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    namespaces = f' xmlns="{SCXML_NS}" xmlns:ps="{PYSTATOR_NS}"'
    # (element, depth, closing): an explicit stack, as state trees may be 1000 levels deep.
    todo: list[tuple[Element, int, bool]] = [(root, 0, False)]
    while todo:
        element, depth, closing = todo.pop()
        pad = indent * depth
        name = f"ps:{element.tag}" if element.space == "ps" else element.tag
        if closing:
            lines.append(f"{pad}</{name}>")
            continue
        head = _open_tag(element, namespaces if element is root else "")
        if element.children:
            lines.append(f"{pad}<{head}>")
            todo.append((element, depth, True))
            todo.extend((child, depth + 1, False) for child in reversed(element.children))
        elif element.text:
            text = _checked(element.text, element.label).translate(_TEXT_ESCAPES)
            lines.append(f"{pad}<{head}>{text}</{name}>")
        else:
            lines.append(f"{pad}<{head}/>")
    return "\n".join(lines) + "\n"
