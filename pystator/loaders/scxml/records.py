"""What the SCXML reader records of a document's states, regions and transitions.

A record keeps its element (for lines and attributes), the plain data it becomes, and where
that data ends up in the definition: a state is written in the flat ``states`` list or inside
a region (``form``: SCXML's structure says where by default, ``ps:form`` says otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pystator.loaders.scxml.content import Content, Send
from pystator.loaders.scxml.xml_io import Element


@dataclass(slots=True, eq=False)
class RegionRecord:
    """A ``<state>`` child of a ``<parallel>``: one region of the parallel state."""

    element: Element
    name: str
    owner: StateRecord
    index: int
    """Its place in the owner's ``regions``."""
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data.update({"name": self.name, "states": []})

    @property
    def path(self) -> str:
        return path_of(self)


@dataclass(slots=True, eq=False)
class StateRecord:
    """A ``<state>``, ``<parallel>``, ``<final>`` or ``<history>`` element."""

    element: Element
    name: str
    parent: str | None
    """The enclosing state's or region's id (``None`` at the top)."""
    form: str | None
    """``ps:form``: ``None`` (flat, or inline when directly in a region), ``name``,
    ``listed`` or ``flat``."""
    region: RegionRecord | None
    """The region it sits directly in."""
    order: int
    """Its place in document order."""
    data: dict[str, Any] = field(default_factory=dict)
    entry: Content = field(default_factory=Content)
    exit: Content = field(default_factory=Content)
    pos: int | None = None
    """``ps:pos``: its place in the flat list."""
    item: int = 0
    """Its place in its region's ``states`` (when written there)."""
    flat_path: str | None = None
    """``states[i]`` once the flat list is ordered (a state written there)."""
    timeout_line: int = 0

    def __post_init__(self) -> None:
        self.data["name"] = self.name

    @property
    def path(self) -> str:
        return path_of(self)


def path_of(record: StateRecord | RegionRecord) -> str:
    """Where the record's data sits in the definition (``states[0].regions[1].states[2]``);
    walked up with a loop, as regions may nest parallel states deeply."""
    steps: list[str] = []
    node: StateRecord | RegionRecord | None = record
    while node is not None:
        if isinstance(node, RegionRecord):
            steps.append(f".regions[{node.index}]")
            node = node.owner
        elif node.flat_path is not None:
            steps.append(node.flat_path)
            node = None
        else:
            steps.append(f".states[{node.item}]")
            node = node.region
    return "".join(reversed(steps))


@dataclass(slots=True, eq=False)
class TransitionRecord:
    """A ``<transition>`` of a state or region (not a history's default or an
    ``<initial>``'s)."""

    element: Element
    source: str
    content: Content
    order: int
    events: list[str] = field(default_factory=list)
    """Its event descriptors, with a trailing ``.*`` removed (SCXML: the same match)."""
    send: Send | None = None
    """The timer ``<send>`` whose event it takes: then it is a delayed transition."""
    owner: StateRecord | None = None
    """The state whose timer it takes (set with ``send``)."""

    def __post_init__(self) -> None:
        for descriptor in self.element.attrs.get("event", "").split():
            self.events.append(descriptor.removesuffix(".*").removesuffix("."))
