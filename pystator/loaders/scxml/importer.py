"""``read_scxml``: an SCXML document as the plain data of a definition, with a line per path.

The document is walked once, in document order, into records of its states, regions and
transitions (``_Walk``); then the timers are matched to their transitions (``timers``), the
transitions are built (``transitions_in``), and the records are assembled into the
definition's dict in the order the definition had (``ps:pos``, ``ps:index``) or, for a
document written by hand, in document order.

How SCXML reads as a definition (``docs/scxml.md`` has the whole table): ``<state>``,
``<parallel>`` (each child ``<state>`` a region), ``<final>`` (``type: terminal``) and
``<history>`` become states; a state nested in another gets it as ``parent``, except the
direct children of a region, which are written inside the region; ``initial`` (attribute or
``<initial>`` element) becomes ``initial_child``, a region's ``initial`` or ``meta.initial``.
Everything PyStator cannot express is reported with its line, all problems at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pystator.errors import ConfigIssue, ConfigurationError
from pystator.loaders.safe_yaml import DEFAULT_MAX_BYTES
from pystator.loaders.scxml.assembly import assemble, root_sections
from pystator.loaders.scxml.content import (
    REFUSED,
    Block,
    Content,
    ContentReader,
    unknown_attributes,
    unsupported,
)
from pystator.loaders.scxml.conventions import TYPE_OF_TAG, json_value
from pystator.loaders.scxml.records import RegionRecord, StateRecord, TransitionRecord
from pystator.loaders.scxml.timers import match_timers
from pystator.loaders.scxml.transitions_in import build_transitions
from pystator.loaders.scxml.xml_io import Element, parse_xml

_STATE_TAGS = frozenset({"state", "parallel", "final", "history"})
_FORMS = frozenset({"name", "listed", "flat"})
_STATE_ATTRS = {
    "state": frozenset({"id", "initial"}),
    "parallel": frozenset({"id"}),
    "final": frozenset({"id"}),
    "history": frozenset({"id", "type"}),
}
_STATE_PS = frozenset({"type", "parent", "pos", "form", "description", "metadata", "initial"})
_HISTORY_PS = frozenset({"type", "parent", "pos", "form", "description", "metadata", "default"})
_REGION_PS = frozenset({"description", "initial"})


@dataclass(frozen=True, slots=True)
class ScxmlImport:
    """A definition read from SCXML: its plain ``data`` (for ``definition_from_data``) and
    the document line of each path (``states[2]``, ``transitions[0].actions[1]``)."""

    data: dict[str, Any]
    lines: dict[str, int]

    def line_of(self, path: str) -> int | None:
        """The line of ``path``, or of the nearest enclosing path that has one."""
        while path:
            line = self.lines.get(path)
            if line is not None:
                return line
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return None

    def with_lines(self, exc: ConfigurationError) -> ConfigurationError:
        """``exc`` with each issue's document line added (as the YAML loader does)."""
        issues = []
        for issue in exc.issues:
            line = self.line_of(issue.path) if issue.path else None
            message = f"{issue.message} (line {line})" if line is not None else issue.message
            issues.append(ConfigIssue(issue.path, message))
        return ConfigurationError(issues, source=exc.source)


def read_scxml(
    text: str | bytes, *, name: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> ScxmlImport:
    """Read an SCXML document into definition data; ``name`` is the machine's name when the
    ``<scxml>`` element has none.

    Raises ``ConfigurationError`` listing every problem with its line: unsafe or malformed
    XML, and every element or attribute the definition format cannot express.
    """
    root = parse_xml(text, max_bytes=max_bytes)
    issues: list[ConfigIssue] = []
    if root.space != "scxml" or root.tag != "scxml":
        raise ConfigurationError(
            [ConfigIssue(f"line {root.line}", f"the root element is {root.label}, not <scxml>")]
        )
    walk = _Walk(issues)
    walk.run(root)
    walk.check_region_defaults()
    parallels = {r.name for r in walk.states if r.element.tag == "parallel"}
    match_timers(walk.states, walk.transitions, walk.raised, walk.parents, parallels, issues)
    transitions = build_transitions(walk.transitions, walk.parents, issues)
    data, lines = assemble(root, name, walk.states, walk.regions, transitions, issues)
    data.update(root_sections(walk.root_children, lines, issues))
    if issues:
        raise ConfigurationError(sorted(issues, key=_line_number))
    return ScxmlImport(data, lines)


def _line_number(issue: ConfigIssue) -> int:
    """The N of ``line N``, for listing problems in document order."""
    number = issue.path.removeprefix("line ").partition(",")[0]
    return int(number) if number.isdigit() else 0


class _Walk:
    """One pass over the document: a record per state, region and transition."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        self.content = ContentReader(issues)
        self.states: list[StateRecord] = []
        self.regions: list[RegionRecord] = []
        self.transitions: list[TransitionRecord] = []
        self.parents: dict[str, str | None] = {}
        """state or region -> its parent (``None`` at the top): ancestry for ``type``."""
        self.raised: set[str] = set()
        self.root_children: list[Element] = []
        self.region_defaults: list[tuple[StateRecord, list[str], Element]] = []
        """History defaults naming several states: every region of the history's parallel
        parent is PyStator's own default there (no ``default``); anything else is refused."""

    def run(self, root: Element) -> None:
        # (element, the record it is inside): an explicit stack, as trees may be deep.
        todo: list[tuple[Element, StateRecord | RegionRecord | None]] = [
            (child, None) for child in reversed(root.children)
        ]
        while todo:
            element, container = todo.pop()
            below = self._visit(element, container)
            todo.extend((child, record) for child, record in reversed(below))

    def _visit(
        self, element: Element, container: StateRecord | RegionRecord | None
    ) -> list[tuple[Element, StateRecord | RegionRecord]]:
        """Record ``element``; returns the elements to visit inside it (states, and the
        transitions and refused elements of a state)."""
        if element.space == "other":
            return []
        if element.space == "ps":
            if container is None and element.tag in ("context", "events"):
                self.root_children.append(element)
            else:
                self.issues.append(
                    unsupported(element, "PyStator's namespace has no such element here")
                )
            return []
        if element.tag in _STATE_TAGS:
            return self._state_or_region(element, container)
        if element.tag == "transition" and container is not None:
            # Recorded here, in document order (the order of a hand-written document).
            if container.element.tag == "final":
                self.issues.append(
                    unsupported(element, f"a <final> state ('{container.name}') cannot be left")
                )
            else:
                self._transition(element, container.name)
        elif container is None:
            self._root_child(element)
        else:
            self._refuse_in_state(element, container)
        return []

    def _root_child(self, element: Element) -> None:
        if element.tag == "datamodel" and not element.children:
            return  # an empty data model says nothing
        reason = REFUSED.get(element.tag, "it has no place directly in <scxml>")
        self.issues.append(unsupported(element, reason))

    def _refuse_in_state(self, element: Element, container: StateRecord | RegionRecord) -> None:
        where = f"<{container.element.tag} id='{container.name}'>"
        reason = REFUSED.get(element.tag, f"it has no place in {where}")
        self.issues.append(unsupported(element, reason))

    # ------------------------------------------------------------------ states and regions
    def _state_or_region(
        self, element: Element, container: StateRecord | RegionRecord | None
    ) -> list[tuple[Element, StateRecord | RegionRecord]]:
        name = element.attrs.get("id")
        if not name:
            self.issues.append(
                ConfigIssue(
                    f"line {element.line}",
                    f"{element.label} needs an id: PyStator states are named",
                )
            )
            return []
        parent = container.name if container is not None else None
        if name in self.parents:
            self.issues.append(ConfigIssue(f"line {element.line}", f"id '{name}' is used twice"))
            return []
        self.parents[name] = parent
        if isinstance(container, StateRecord) and container.element.tag == "parallel":
            if element.tag == "state":
                return self._region(element, name, container)
            if element.tag != "history":
                self.issues.append(
                    unsupported(
                        element,
                        f"directly in <parallel id='{container.name}'>: PyStator's regions are "
                        "<state> elements holding states (wrap it in one)",
                    )
                )
                return []
        region = container if isinstance(container, RegionRecord) else None
        record = self._state(element, name, parent, region)
        return self._body(record)

    def _state(
        self, element: Element, name: str, parent: str | None, region: RegionRecord | None
    ) -> StateRecord:
        tag = element.tag
        allowed_ps = _HISTORY_PS if tag == "history" else _STATE_PS
        self.issues.extend(unknown_attributes(element, _STATE_ATTRS[tag], allowed_ps))
        form = element.ps.get("form")
        if form is not None and (form not in _FORMS or region is None):
            self.issues.append(
                ConfigIssue(
                    f"line {element.line}", f"ps:form='{form}' applies to a region's states only"
                )
            )
            form = None
        record = StateRecord(element, name, parent, form, region, order=len(self.states))
        self.states.append(record)
        self._fields(record)
        if region is not None and form != "flat":
            record.item = len(region.data["states"])
            region.data["states"].append(name if form in ("name", "listed") else record.data)
        return record

    def _fields(self, record: StateRecord) -> None:
        """The state's own fields from its element (its body is read by ``_body``)."""
        element, data = record.element, record.data
        tag = element.tag
        state_type = element.ps.get("type", TYPE_OF_TAG[tag])
        if state_type != "stable":
            data["type"] = state_type
        if "description" in element.ps:
            data["description"] = element.ps["description"]
        if "metadata" in element.ps:
            self._json_into(data, "metadata", element, "ps:metadata")
        if tag == "history":
            data["history"] = element.attrs.get("type", "shallow")
            self._implied(element, "default")
        elif tag == "state":
            initial = self._initial(element)
            if initial is not None:
                data["initial_child"] = initial
        elif tag == "parallel":
            data["regions"] = []

    def _region(
        self, element: Element, name: str, owner: StateRecord
    ) -> list[tuple[Element, StateRecord | RegionRecord]]:
        self.issues.extend(unknown_attributes(element, frozenset({"id", "initial"}), _REGION_PS))
        region = RegionRecord(element, name, owner, index=len(owner.data["regions"]))
        self.regions.append(region)
        owner.data["regions"].append(region.data)
        initial = self._initial(element)
        if initial is not None:
            region.data["initial"] = initial
        if "description" in element.ps:
            region.data["description"] = element.ps["description"]
        below: list[tuple[Element, StateRecord | RegionRecord]] = []
        for child in element.children:
            if child.space == "scxml" and child.tag in ("onentry", "onexit"):
                self.issues.append(
                    unsupported(
                        child,
                        f"region '{name}' (a <state> in <parallel id='{owner.name}'>) has no "
                        "entry or exit actions in PyStator: put them on the parallel state or "
                        "on the region's states",
                    )
                )
            elif child.space == "scxml" and child.tag == "initial":
                continue
            else:
                below.append((child, region))
        return below

    def _body(self, record: StateRecord) -> list[tuple[Element, StateRecord | RegionRecord]]:
        """Read what a state holds; returns the children to visit as states."""
        element = record.element
        below: list[tuple[Element, StateRecord | RegionRecord]] = []
        for child in element.children:
            if child.space != "scxml" or child.tag in _STATE_TAGS:
                below.append((child, record))
            elif element.tag == "history":
                self._history_child(record, child)
            elif child.tag == "onentry":
                self._block(child, "onentry", record.entry)
            elif child.tag == "onexit":
                self._block(child, "onexit", record.exit)
            elif child.tag != "initial" or element.tag != "state":
                below.append((child, record))
        for key, content in (("on_enter", record.entry), ("on_exit", record.exit)):
            if content.items:
                record.data[key] = [item for item, _ in content.items]
        return below

    def check_region_defaults(self) -> None:
        regions: dict[str, list[str]] = {}
        for region in self.regions:
            regions.setdefault(region.owner.name, []).append(region.name)
        for record, targets, element in self.region_defaults:
            if record.parent is None or sorted(targets) != sorted(regions.get(record.parent, [])):
                self.issues.append(
                    unsupported(
                        element,
                        "a history default names one state (or, in a parallel state, every "
                        f"region) in PyStator (history '{record.name}')",
                    )
                )

    def _block(self, element: Element, kind: Block, content: Content) -> None:
        self.issues.extend(unknown_attributes(element, frozenset()))
        self.content.read(element, kind, content)
        self.raised.update(_raised(content))

    def _history_child(self, record: StateRecord, child: Element) -> None:
        if child.tag != "transition":
            self.issues.append(
                unsupported(child, "a <history> holds only its default <transition>")
            )
            return
        if record.element.ps.get("default") == "implied":
            return  # written for SCXML readers; the definition has no default
        self.issues.extend(unknown_attributes(child, frozenset({"target"})))
        targets = child.attrs.get("target", "").split()
        if len(targets) > 1 and not [c for c in child.children if c.space != "other"]:
            self.region_defaults.append((record, targets, child))  # checked after the walk
            return
        if len(targets) != 1 or [c for c in child.children if c.space != "other"]:
            self.issues.append(
                unsupported(
                    child,
                    "a history default names one state and runs no content in PyStator "
                    f"(history '{record.name}')",
                )
            )
            return
        record.data["default"] = targets[0]

    def _transition(self, element: Element, source: str) -> None:
        content = Content()
        self.content.read(element, "transition", content)
        self.raised.update(_raised(content))
        self.transitions.append(
            TransitionRecord(element, source, content, order=len(self.transitions))
        )

    def _initial(self, element: Element) -> str | None:
        """The ``initial`` attribute or ``<initial>`` element of a state or region, unless
        ``ps:initial="implied"`` says it was written for SCXML readers only."""
        given = element.attrs.get("initial")
        for child in element.children:
            if child.space == "scxml" and child.tag == "initial":
                given = self._initial_element(child, given)
        self._implied(element, "initial")
        if given is None or element.ps.get("initial") == "implied":
            return None
        targets = given.split()
        if len(targets) != 1:
            self.issues.append(
                unsupported(
                    element, f"initial '{given}' names several states; PyStator enters one child"
                )
            )
            return None
        return targets[0]

    def _implied(self, element: Element, attribute: str) -> None:
        """``ps:initial`` and ``ps:default`` say only ``implied``."""
        value = element.ps.get(attribute)
        if value is not None and value != "implied":
            self.issues.append(
                ConfigIssue(f"line {element.line}", f"ps:{attribute} is 'implied' or absent")
            )

    def _initial_element(self, child: Element, given: str | None) -> str | None:
        transitions = [c for c in child.children if c.space == "scxml"]
        transition = transitions[0] if len(transitions) == 1 else None
        if given is not None or transition is None or transition.tag != "transition":
            self.issues.append(
                unsupported(
                    child,
                    "use one <initial> holding one <transition target>, or the initial attribute",
                )
            )
            return given
        if set(transition.attrs) != {"target"} or transition.children:
            self.issues.append(
                unsupported(
                    transition,
                    "the <initial> transition of PyStator names its target only (no content)",
                )
            )
        return transition.attrs.get("target")

    def _json_into(self, data: dict[str, Any], key: str, element: Element, what: str) -> None:
        try:
            data[key] = json_value(element.ps[key], what)
        except ValueError as exc:
            self.issues.append(ConfigIssue(f"line {element.line}", str(exc)))


def _raised(content: Content) -> list[str]:
    return [
        item["raise"] for item, _ in content.items if isinstance(item, dict) and "raise" in item
    ]
