"""``to_scxml``: a ``MachineDefinition`` as an SCXML document that reads back equal.

The document is plain SCXML wherever SCXML has the element (states, compound and parallel
states, history, final states, transitions with ``event``, ``cond``, ``target`` and ``type``,
``<raise>``, ``<assign>``, delayed transitions as ``<send delay>``/``<cancel>``), so an SCXML
tool sees the same machine. Everything SCXML has no place for travels in PyStator's namespace
(``ps:``, ``urn:pystator:scxml:1``), which other processors ignore: the definition's meta,
named guards and actions, descriptions, metadata, priorities, timeouts, the context and event
schemas, and how the definition was written (which states are declared in the flat list and in
what order, region members listed by name, the exact form of a delay).

Two rules keep the SCXML reading faithful where PyStator's rules differ from SCXML's:

* within one state, transitions are written in PyStator's selection order (higher
  ``priority`` first, then document order), as SCXML selects in document order; a
  transition of several sources, or of ``"*"``, is written once in each of its states;
* an ``initial`` attribute is written wherever the default entry is not the first child
  (a child of ``type: initial``), and a history state always has its default transition;
  ``ps:initial="implied"`` / ``ps:default="implied"`` say the definition itself does not set
  them.
"""

from __future__ import annotations

from pystator.loaders.scxml.content import item_elements
from pystator.loaders.scxml.conventions import (
    TYPE_OF_TAG,
    after_event,
    after_text,
    cond_of,
    delay_text,
    json_text,
    seconds_text,
    timeout_event,
)
from pystator.loaders.scxml.xml_io import Element, scxml, write_xml
from pystator.models.definition import (
    GuardSpec,
    MachineDefinition,
    StateDefinition,
    TransitionDefinition,
)
from pystator.models.tree import TreeNode, flatten

# The element each kind of state becomes, and the type a reader assumes for it.
_TAGS = {"history": "history", "parallel": "parallel", "terminal": "final"}


def to_scxml(definition: MachineDefinition) -> str:
    """The SCXML document of ``definition``; ``from_scxml`` reads it back equal.

    Raises ``ConfigurationError`` when a text of the definition holds a character XML 1.0
    cannot represent (a control character in a description, for example).
    """
    return write_xml(_Exporter(definition).document())


class _Exporter:
    """Builds the element tree of one definition."""

    def __init__(self, definition: MachineDefinition) -> None:
        self.definition = definition
        self.nodes = flatten(definition.states)
        self.by_name = {node.name: node for node in self.nodes}
        self.kids: dict[str | None, list[TreeNode]] = {}
        for node in self.nodes:
            self.kids.setdefault(node.parent, []).append(node)
        self.own = self._transitions_by_state()

    # ------------------------------------------------------------------ the document
    def document(self) -> Element:
        meta = self.definition.meta
        root = scxml("scxml", version="1.0", name=meta.machine_name)
        self._initial(root, meta.initial, self.kids.get(None, []))
        defaults = type(meta)(machine_name=meta.machine_name)
        for field, attribute in (
            ("version", "version"),
            ("strict_mode", "strict-mode"),
            ("description", "description"),
            ("expr_on_missing", "expr-on-missing"),
            ("validate_context", "validate-context"),
        ):
            value = getattr(meta, field)
            if value != getattr(defaults, field):
                root.ps[attribute] = str(value).lower() if isinstance(value, bool) else str(value)
        if self.definition.context is not None:
            context = self.definition.context.model_dump(mode="json", exclude_defaults=True)
            root.add(Element("ps", "context", text=json_text(context)))
        if self.definition.events:
            events = {
                trigger: spec.model_dump(mode="json", exclude_defaults=True)
                for trigger, spec in self.definition.events.items()
            }
            root.add(Element("ps", "events", text=json_text(events)))
        elements = {node.name: self._node(node) for node in self.nodes}
        for node in self.nodes:
            parent = root if node.parent is None else elements[node.parent]
            parent.add(elements[node.name])
        _number_if_reordered(root)
        return root

    def _node(self, node: TreeNode) -> Element:
        if node.state is None:
            assert node.region is not None
            region = node.region
            element = scxml("state", id=node.name)
            self._initial(element, region.initial, self.kids.get(node.name, []))
            if region.description is not None:
                element.ps["description"] = region.description
            self._transitions(element, node.name)
            return element
        return self._state(node, node.state)

    def _state(self, node: TreeNode, state: StateDefinition) -> Element:
        children = self.kids.get(node.name, [])
        tag = _TAGS.get(state.type, "state")
        if tag == "final" and children:
            tag = "state"  # a terminal state with children (refused by the checks)
        element = scxml(tag, id=node.name)
        if state.type != TYPE_OF_TAG[tag]:
            element.ps["type"] = state.type
        self._form(element, node, state)
        if tag == "history":
            self._history(element, node, state)
        elif tag == "state":
            self._initial(element, state.initial_child, children)
        if state.description is not None:
            element.ps["description"] = state.description
        if state.metadata:
            element.ps["metadata"] = json_text(state.metadata)
        self._entry_and_exit(element, node.name, state)
        self._transitions(element, node.name)
        return element

    def _form(self, element: Element, node: TreeNode, state: StateDefinition) -> None:
        """How the state is written in the definition, when a reader would not assume it."""
        in_region = node.parent is not None and self.by_name[node.parent].kind == "region"
        if node.listed_at is not None:
            element.ps["form"] = "listed"  # listed by name in the region, declared flat
        elif node.inside is not None:
            if node.by_name:
                element.ps["form"] = "name"
            if state.parent is not None:
                element.ps["parent"] = state.parent
            return
        elif in_region:
            element.ps["form"] = "flat"
        element.key = int(node.step.removeprefix("states[").removesuffix("]"))
        if state.parent != node.parent:
            element.ps["parent"] = state.parent or ""

    # ------------------------------------------------------------------ initial and history
    def _initial(self, element: Element, given: str | None, children: list[TreeNode]) -> None:
        """``initial`` when set, or when the default entry is not the first child."""
        if given is not None:
            element.attrs["initial"] = given
            return
        real = [c for c in children if not _is_history(c)]
        entered = _typed_or_first(real)
        if real and entered[0] != real[0].name:
            element.attrs["initial"] = entered[0]
            element.ps["initial"] = "implied"

    def _history(self, element: Element, node: TreeNode, state: StateDefinition) -> None:
        element.attrs["type"] = state.history
        if state.default is not None:
            element.add(scxml("transition", target=state.default))
            return
        targets = self._fallback(node, set())
        if targets:
            element.ps["default"] = "implied"
            element.add(scxml("transition", target=" ".join(targets)))

    def _fallback(self, history: TreeNode, seen: set[str]) -> list[str]:
        """What a history state without a default enters (the engine's rule, written out
        for SCXML, whose history states always have a default transition)."""
        seen.add(history.name)
        if history.state is not None and history.state.default is not None:
            return [history.state.default]
        parent = self.by_name.get(history.parent or "")
        if parent is None:
            return []
        real = self._real_children(parent.name)
        if parent.state is not None and parent.state.type == "parallel":
            return [c.name for c in real]
        given = parent.state.initial_child if parent.state is not None else None
        if parent.region is not None:
            given = parent.region.initial
        if given is None or given == history.name:
            return _typed_or_first(real)
        target = self.by_name.get(given)
        if target is None or not _is_history(target):
            return [given]
        # Entered through its other history, which remembers nothing either.
        return [] if given in seen else self._fallback(target, seen)

    def _real_children(self, name: str) -> list[TreeNode]:
        return [c for c in self.kids.get(name, []) if not _is_history(c)]

    # ------------------------------------------------------------------ content and timers
    def _entry_and_exit(self, element: Element, name: str, state: StateDefinition) -> None:
        sends: list[Element] = []
        cancels: list[Element] = []
        for index, t in self._delayed_of(name):
            delay, exact = after_text(t.after)  # type: ignore[arg-type]  # delayed: set
            event = after_event(name, index)
            send = scxml("send", event=event, delay=delay, id=event)
            if exact is not None:
                send.ps["after"] = exact
            sends.append(send)
            cancels.append(scxml("cancel", sendid=event))
        if state.timeout is not None:
            event = timeout_event(name)
            delay = delay_text(round(state.timeout.seconds * 1000))
            sends.append(scxml("send", event=event, delay=delay, id=event))
            cancels.append(scxml("cancel", sendid=event))
        entry = item_elements(state.on_enter) + sends
        if entry:
            element.add(scxml("onentry")).children.extend(entry)
        leave = item_elements(state.on_exit) + cancels
        if leave:
            element.add(scxml("onexit")).children.extend(leave)

    def _delayed_of(self, name: str) -> list[tuple[int, TransitionDefinition]]:
        transitions = self.definition.transitions
        return [
            (i, transitions[i]) for i in self.own.get(name, ()) if transitions[i].after is not None
        ]

    # ------------------------------------------------------------------ transitions
    def _transitions_by_state(self) -> dict[str, list[int]]:
        """state -> its transitions in SCXML document order: PyStator's selection order
        within a state (priority, then document order); ``"*"`` is every non-terminal
        state and region, as the engine expands it."""
        wildcard = [
            n.name
            for n in self.nodes
            if n.state is None or n.state.type not in ("history", "terminal")
        ]
        own: dict[str, list[int]] = {}
        for i, t in enumerate(self.definition.transitions):
            for source in wildcard if t.source == "*" else t.sources:
                own.setdefault(source, []).append(i)
        transitions = self.definition.transitions
        for indexes in own.values():
            indexes.sort(key=lambda i: -transitions[i].priority)
        return own

    def _transitions(self, element: Element, name: str) -> None:
        for i in self.own.get(name, ()):
            element.add(self._transition(i, self.definition.transitions[i], name))
        node = self.by_name[name]
        timeout = node.state.timeout if node.state is not None else None
        if timeout is not None:
            element.add(
                Element(
                    "scxml",
                    "transition",
                    {"event": timeout_event(name), "target": timeout.destination},
                    {"timeout": seconds_text(timeout.seconds)},
                )
            )

    def _transition(self, index: int, t: TransitionDefinition, source: str) -> Element:
        element = scxml("transition")
        element.key = index
        attrs, ps = element.attrs, element.ps
        if t.after is not None:
            attrs["event"] = after_event(source, index)
            if t.trigger is not None:
                ps["trigger"] = t.trigger
        elif not t.auto and t.trigger is not None:
            attrs["event"] = t.trigger
        _guards(element, t)
        self._target(element, t, source)
        if t.source == "*":
            ps["source"] = "*"
        elif not isinstance(t.source, str):
            ps["source"] = json_text(list(t.source))
        if t.priority:
            ps["priority"] = str(t.priority)
        if t.region is not None:
            ps["region"] = t.region
        if t.description is not None:
            ps["description"] = t.description
        element.children.extend(item_elements(t.actions, t.assign))
        return element

    @staticmethod
    def _target(element: Element, t: TransitionDefinition, source: str) -> None:
        """``target`` and ``type``. An internal transition to its own source runs only its
        actions in PyStator; SCXML's is external there (it exits and re-enters), so it is
        written targetless, its ``dest`` kept in ``ps:dest``."""
        if t.internal:
            element.attrs["type"] = "internal"
        if t.dest is None:
            return
        if t.internal and t.dest == source:
            element.ps["dest"] = t.dest
        else:
            element.attrs["target"] = t.dest


def _guards(element: Element, t: TransitionDefinition) -> None:
    """``cond`` from the ``expr`` guards; the whole list in ``ps:guards`` unless it is one
    ``expr`` guard (which ``cond`` says alone)."""
    cond = cond_of(t.guards)
    if cond is not None:
        element.attrs["cond"] = cond
    single = len(t.guards) == 1 and isinstance(t.guards[0], GuardSpec) and t.guards[0].expr
    if t.guards and not single:
        element.ps["guards"] = json_text(
            [
                g if isinstance(g, str) else g.model_dump(mode="json", exclude_defaults=True)
                for g in t.guards
            ]
        )


def _is_history(node: TreeNode) -> bool:
    return node.state is not None and node.state.type == "history"


def _typed_or_first(real: list[TreeNode]) -> list[str]:
    """The child a state enters by default without ``initial``: its child of type
    ``initial``, else its first (none when it has no real child)."""
    typed = [c.name for c in real if c.state is not None and c.state.type == "initial"]
    return typed[:1] or [c.name for c in real[:1]]


def _number_if_reordered(root: Element) -> None:
    """``ps:pos`` on the flat states and ``ps:index`` on the transitions, when reading them
    in document order would not give the definition's order (or a transition is written in
    several states)."""
    states: list[Element] = []
    transitions: list[Element] = []
    todo = [root]
    while todo:
        element = todo.pop()
        if element.key is not None:
            (transitions if element.tag == "transition" else states).append(element)
        todo.extend(reversed(element.children))
    for found, attribute in ((states, "pos"), (transitions, "index")):
        keys = [e.key for e in found if e.key is not None]
        if keys != sorted(set(keys)) or keys != list(range(len(keys))):
            for element in found:
                element.ps[attribute] = str(element.key)
