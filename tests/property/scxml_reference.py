"""A small reference interpreter: the W3C SCXML Recommendation's Appendix D, literally.

Written from the Recommendation's pseudo-code (https://www.w3.org/TR/scxml/#AlgorithmforSCXMLInterpretation),
one function per procedure of Appendix D, with its names, so it can be read side by side
with the text. It is deliberately naive (sets and lists, no caches): it exists to be obviously
right, not fast. The property test in ``test_scxml_reference.py`` compares PyStator with it.

It works on a small neutral model built from a PyStator ``MachineDefinition`` by ``build``:

* every state and region is a ``Node`` (a region is SCXML's compound child of a ``<parallel>``);
  ``type: terminal`` is ``<final>``, ``type: history`` is ``<history>``;
* document order is the definition's order: the states as listed, a parallel state followed by
  its regions and their states, depth first; children of a state in the order written;
* the initial child of a compound state: ``initial_child`` (``regions[].initial``), else the
  child of ``type: initial``, else the first child (SCXML's rule; the middle one is PyStator's
  spelling of ``initial=``). It may name a history child, as ``initial=`` may in SCXML: the
  state is then entered through that history;
* a transition is SCXML's ``<transition>`` of its source, in the definition's order;
  ``auto: true`` is an eventless transition; ``dest`` absent is a targetless transition;
  ``internal: true`` is ``type="internal"``. Two documented PyStator choices are mapped on
  the way in (``docs/semantics.md``, "Differences from SCXML"): ``internal: true`` with
  ``dest`` equal to the source is a targetless transition, and ``priority`` reorders the
  transitions of one state (a stable sort, higher first).
* a history state (under a compound state, a region, or directly under a parallel state) has
  the default transition PyStator gives it (``defaultHistoryTargets``): to ``default``, else to
  its parent's default entry: every region of a parallel parent, else the parent's initial
  child, unless that is the history itself, then the child of ``type: initial``, else the
  first child. It may target another history (the parent's initial child): Appendix D's
  ``getEffectiveTargetStates`` follows it;
* executable content is a list of actions, each just a name that executing it appends to
  ``Trace.actions``, and ``{raise: EVENT}`` items (``Raise``: SCXML's ``<raise>``, which
  appends EVENT to the internal queue). ``Trace.internal_events`` lists every event taken off
  that queue (raised and ``done.state`` ones), which PyStator's ``internal_events`` lists.

Not modelled: ``source: "*"`` (an extension, refused by ``build``), delayed transitions
(``after``, ignored), guards other than by name (a ``guard`` callback answers each name).
A source list is one transition per source.

What PyStator adds around the algorithm, and the reference mirrors so that results compare:

* ``send`` processes one external event as one macrostep. More than ``MAX_MICROSTEPS``
  eventless or internal-event microsteps after it is a loop (PyStator's ``LoopLimitError``):
  the reference then restores its configuration and history and reports ``looped``.
* A top-level final state halts the interpreter (``running = false``); later events do nothing.
  Events still on the internal queue then are never taken off (``Trace.left_on_queue``).

One documented PyStator choice changes the algorithm itself, so it is an option:
``Interpreter(..., enterActiveStates=False)`` enters no state that is already active
(docs/semantics.md, "A state that stays active is never entered again"). The default is the
literal algorithm; ``Trace.entered_while_active`` names the states concerned in both modes.
"""

# The procedures and variables keep the Recommendation's camelCase names, to be read side by
# side with its pseudo-code.
# ruff: noqa: N803

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from pystator import MachineDefinition, RaiseSpec
from pystator.models.definition import ActionSpec, AssignSpec, StateDefinition

MAX_MICROSTEPS = 100
"""Eventless and internal-event microsteps allowed after one event (PyStator's limit)."""

ROOT = "<scxml>"


@dataclass(frozen=True)
class Raise:
    """SCXML's ``<raise event="..."/>``: executing it appends ``event`` to the internal queue."""

    event: str


Content = str | Raise
"""One item of executable content: an action (just its name) or a ``<raise>``."""


@dataclass
class Node:
    """One SCXML state: ``atomic``, ``final``, ``compound``, ``parallel`` or ``history``."""

    name: str
    kind: str
    parent: str
    order: int = 0
    children: list[str] = field(default_factory=list)
    """Child states (history pseudo-states excluded), in document order."""
    history: list[str] = field(default_factory=list)
    """History pseudo-states that are children of this state."""
    initial: str | None = None
    """Target of the compound state's initial transition (it may be a history child)."""
    typed_initial: str | None = None
    """The first child of ``type: initial``, if any."""
    deep: bool = False
    default: str | None = None
    """History: ``default``, the target written for the history's default transition."""
    onentry: list[Content] = field(default_factory=list)
    onexit: list[Content] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)


@dataclass(frozen=True)
class Transition:
    index: int
    """Position in the definition's ``transitions`` (document order of the transitions)."""
    source: str
    event: str | None
    """Event descriptor; ``None`` for an eventless transition."""
    target: tuple[str, ...]
    internal: bool
    guards: tuple[str, ...]
    actions: tuple[Content, ...]


@dataclass
class Model:
    nodes: dict[str, Node]
    initial: str
    """The top-level state the document starts in."""


@dataclass
class Trace:
    """What one macrostep did, in order."""

    exited: list[str] = field(default_factory=list)
    entered: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    microsteps: int = 0
    looped: bool = False
    """More than ``MAX_MICROSTEPS`` microsteps: nothing is applied, and the trace keeps only
    ``raised`` (what was raised before the loop was found)."""
    entered_while_active: list[str] = field(default_factory=list)
    """States in an entry set that were already active (and not exited): Appendix D enters
    them again, unless ``Interpreter.enterActiveStates`` is false (see ``enterStates``)."""
    done_events: list[str] = field(default_factory=list)
    """Internal ``done.state`` events queued, in order."""
    raised: list[str] = field(default_factory=list)
    """Events queued by ``<raise>``, in order."""
    internal_events: list[str] = field(default_factory=list)
    """Every event taken off the internal queue (raised and ``done.state``), in order, whether
    or not it enabled a transition (PyStator's ``TransitionResult.internal_events``)."""
    restored: int = 0
    """History states entered with a remembered value."""
    restored_deep: int = 0
    """... of which remembered states below a child of the history's parent."""
    left_on_queue: list[str] = field(default_factory=list)
    """Internal events still queued when a top-level final state halted the interpreter:
    ``mainEventLoop`` stops (``running`` is false) and never takes them off."""
    internal_taken: list[str] = field(default_factory=list)
    """The internal events that enabled a transition, in order."""
    history_targets: list[tuple[str, bool]] = field(default_factory=list)
    """History states targeted by the transitions taken, each with whether it had a memory
    then."""
    history_entries: list[tuple[str, str, bool]] = field(default_factory=list)
    """Each history state entered: (its name, ``restored`` or where its default transition
    comes from (see ``Interpreter.defaultHistoryTargets``), whether it was entered as its
    parent's initial child rather than as a transition's target)."""


class Loop(Exception):
    """More than ``MAX_MICROSTEPS`` microsteps followed one event."""


# ----------------------------------------------------------------------------- the model
def _content(items: Iterable[str | ActionSpec | AssignSpec | RaiseSpec]) -> list[Content]:
    """Executable content of an action list: actions by name, ``{raise: EVENT}`` as ``Raise``
    (``assign`` items are not modelled: the property test writes none)."""
    out: list[Content] = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, ActionSpec):
            out.append(item.name)
        elif isinstance(item, RaiseSpec):
            out.append(Raise(item.event))
    return out


def build(definition: MachineDefinition) -> Model:
    """The neutral model of ``definition``, read from the definition itself (not the engine)."""
    nodes: dict[str, Node] = {ROOT: Node(ROOT, "root", "")}
    written: list[str] = []
    typed_initial: dict[str, str] = {}
    explicit_initial: dict[str, str] = {}

    def add_state(state: StateDefinition, parent: str) -> None:
        kind = {"terminal": "final", "parallel": "parallel", "history": "history"}.get(
            state.type, "atomic"
        )
        node = Node(state.name, kind, parent, onentry=_content(state.on_enter))
        node.onexit = _content(state.on_exit)
        node.deep = state.history == "deep"
        node.default = state.default
        nodes[state.name] = node
        written.append(state.name)
        if state.initial_child is not None:
            explicit_initial[state.name] = state.initial_child
        if state.type == "initial":
            typed_initial.setdefault(parent, state.name)
        for region in state.regions:
            nodes[region.name] = Node(region.name, "atomic", state.name)
            written.append(region.name)
            if region.initial is not None:
                explicit_initial[region.name] = region.initial
            for item in region.states:
                add_state(
                    StateDefinition(name=item) if isinstance(item, str) else item, region.name
                )

    for state in definition.states:
        add_state(state, state.parent or ROOT)

    for name in written:  # children in the order written
        node = nodes[name]
        parent = nodes[node.parent]
        (parent.history if node.kind == "history" else parent.children).append(name)
    for node in nodes.values():
        if node.children and node.kind == "atomic":
            node.kind = "compound"
        if node.kind == "compound":
            node.typed_initial = typed_initial.get(node.name)
            node.initial = explicit_initial.get(node.name, node.typed_initial or node.children[0])

    counter = 0

    def number(name: str) -> None:  # preorder: document order
        nonlocal counter
        nodes[name].order = counter
        counter += 1
        for child in [*nodes[name].children, *nodes[name].history]:
            number(child)

    for child in nodes[ROOT].children:
        number(child)

    for i, t in enumerate(definition.transitions):
        if t.after is not None:
            continue  # delayed transitions fire from timers, not from events
        for source in t.sources:
            assert source != "*", "the reference models single sources only"
            targets: tuple[str, ...] = () if t.dest is None else (t.dest,)
            if t.internal and t.dest == source:
                targets = ()  # PyStator: an internal self-transition only runs its actions
            guards = tuple(
                g if isinstance(g, str) else (g.name or f"expr:{g.expr}") for g in t.guards
            )
            nodes[source].transitions.append(
                Transition(
                    index=i,
                    source=source,
                    event=None if t.auto else t.trigger,
                    target=targets,
                    internal=t.internal,
                    guards=guards,
                    actions=tuple(_content(t.actions)),
                )
            )
    priorities = {i: t.priority for i, t in enumerate(definition.transitions)}
    for node in nodes.values():
        node.transitions.sort(key=lambda tr: -priorities[tr.index])  # stable: document order

    top = nodes[ROOT].children
    initial = definition.meta.initial or typed_initial.get(ROOT) or top[0]
    return Model(nodes, initial)


# ----------------------------------------------------------------------------- the interpreter
class Interpreter:
    """Appendix D's interpreter over a ``Model``; ``guard(name)`` answers each condition."""

    def __init__(
        self, model: Model, guard: Callable[[str], bool], *, enterActiveStates: bool = True
    ) -> None:
        self.model = model
        self.nodes = model.nodes
        self.guard = guard
        self.enterActiveStates = enterActiveStates
        """``True``: Appendix D as written. ``False``: PyStator's documented choice
        (docs/semantics.md, "A state that stays active is never entered again"): a state of
        the entry set that is active is not entered again (no ``onentry``), and a region that
        stays active is given no default state next to its active one. Either way,
        ``Trace.entered_while_active`` names the active states of the entry set."""
        self.configuration: set[str] = set()
        self.historyValue: dict[str, list[str]] = {}
        self.internalQueue: list[str] = []
        self.running = True
        self.trace = Trace()

    # ---- what the caller sees
    def start(self) -> Trace:
        """``interpret``: enter the initial configuration, then finish the macrostep."""
        self.trace = Trace()
        initial = Transition(-1, ROOT, None, (self.model.initial,), False, (), ())
        self.enterStates([initial])
        self._finish_macrostep()
        return self.trace

    def send(self, event: str) -> Trace:
        """One external event and the macrostep that follows (``mainEventLoop``'s body)."""
        self.trace = Trace()
        if not self.running:
            return self.trace
        saved = (set(self.configuration), copy.deepcopy(self.historyValue), self.running)
        try:
            enabledTransitions = self.selectTransitions(event)
            if enabledTransitions:
                self.microstep(enabledTransitions)
            self._finish_macrostep()
        except Loop:
            self.configuration, self.historyValue, self.running = saved
            self.internalQueue = []
            self.trace = Trace(looped=True, raised=self.trace.raised)  # raised: for statistics
        return self.trace

    def _finish_macrostep(self) -> None:
        """The inner loop of ``mainEventLoop``: eventless transitions, then internal events."""
        follow_ups = 0
        macrostepDone = False
        while self.running and not macrostepDone:
            enabledTransitions = self.selectEventlessTransitions()
            if not enabledTransitions:
                if not self.internalQueue:
                    macrostepDone = True
                else:
                    internalEvent = self.internalQueue.pop(0)
                    self.trace.internal_events.append(internalEvent)
                    enabledTransitions = self.selectTransitions(internalEvent)
                    if enabledTransitions:
                        self.trace.internal_taken.append(internalEvent)
            if enabledTransitions:
                if follow_ups >= MAX_MICROSTEPS:
                    raise Loop()
                follow_ups += 1
                self.microstep(enabledTransitions)
        if not self.running:
            self.trace.left_on_queue = list(self.internalQueue)

    # ---- tree helpers
    def isAtomicState(self, s: str) -> bool:
        return self.nodes[s].kind in ("atomic", "final")

    def isCompoundState(self, s: str) -> bool:
        return self.nodes[s].kind == "compound"

    def isParallelState(self, s: str) -> bool:
        return self.nodes[s].kind == "parallel"

    def isHistoryState(self, s: str) -> bool:
        return self.nodes[s].kind == "history"

    def isFinalState(self, s: str) -> bool:
        return self.nodes[s].kind == "final"

    def isDescendant(self, s1: str, s2: str) -> bool:
        """True if ``s1`` is a proper descendant of ``s2``."""
        p = self.nodes[s1].parent
        while p:
            if p == s2:
                return True
            p = self.nodes[p].parent
        return False

    def getProperAncestors(self, s: str, upto: str | None) -> list[str]:
        """Ancestors of ``s`` innermost first, stopping before ``upto`` (``None``: to the
        root, included)."""
        out: list[str] = []
        p = self.nodes[s].parent
        while p and p != upto:
            out.append(p)
            p = self.nodes[p].parent
        return out

    def getChildStates(self, s: str) -> list[str]:
        return list(self.nodes[s].children)

    def documentOrder(self, states: Iterable[str]) -> list[str]:
        return sorted(states, key=lambda n: self.nodes[n].order)

    # ---- selection
    @staticmethod
    def nameMatch(descriptor: str, event: str) -> bool:
        d, e = descriptor.split("."), event.split(".")
        return e[: len(d)] == d

    def conditionMatch(self, t: Transition) -> bool:
        return all(self.guard(g) for g in t.guards)

    def selectEventlessTransitions(self) -> list[Transition]:
        return self._select(lambda t: t.event is None)

    def selectTransitions(self, event: str) -> list[Transition]:
        return self._select(lambda t: t.event is not None and self.nameMatch(t.event, event))

    def _select(self, matches: Callable[[Transition], bool]) -> list[Transition]:
        enabledTransitions: list[Transition] = []
        atomicStates = self.documentOrder(s for s in self.configuration if self.isAtomicState(s))
        for state in atomicStates:
            found = False
            for s in [state, *self.getProperAncestors(state, None)]:
                if s == ROOT:
                    break
                for t in self.nodes[s].transitions:
                    if matches(t) and self.conditionMatch(t):
                        if t not in enabledTransitions:
                            enabledTransitions.append(t)
                        found = True
                        break
                if found:
                    break
        return self.removeConflictingTransitions(enabledTransitions)

    def removeConflictingTransitions(
        self, enabledTransitions: list[Transition]
    ) -> list[Transition]:
        filteredTransitions: list[Transition] = []
        for t1 in enabledTransitions:
            t1Preempted = False
            transitionsToRemove: list[Transition] = []
            for t2 in filteredTransitions:
                if self.computeExitSet([t1]) & self.computeExitSet([t2]):
                    if self.isDescendant(t1.source, t2.source):
                        transitionsToRemove.append(t2)
                    else:
                        t1Preempted = True
                        break
            if not t1Preempted:
                for t3 in transitionsToRemove:
                    filteredTransitions.remove(t3)
                filteredTransitions.append(t1)
        return filteredTransitions

    # ---- the microstep
    def microstep(self, enabledTransitions: list[Transition]) -> None:
        self.trace.microsteps += 1
        for t in enabledTransitions:
            self.trace.history_targets.extend(
                (s, bool(self.historyValue.get(s))) for s in t.target if self.isHistoryState(s)
            )
        self.exitStates(enabledTransitions)
        self.executeTransitionContent(enabledTransitions)
        self.enterStates(enabledTransitions)

    def computeExitSet(self, transitions: list[Transition]) -> set[str]:
        statesToExit: set[str] = set()
        for t in transitions:
            if t.target:
                domain = self.getTransitionDomain(t)
                for s in self.configuration:
                    if domain is not None and self.isDescendant(s, domain):
                        statesToExit.add(s)
        return statesToExit

    def exitStates(self, enabledTransitions: list[Transition]) -> None:
        statesToExit = self.computeExitSet(enabledTransitions)
        exitOrder = list(reversed(self.documentOrder(statesToExit)))
        for s in exitOrder:
            for h in self.nodes[s].history:
                if self.nodes[h].deep:
                    value = [
                        s0
                        for s0 in self.configuration
                        if self.isAtomicState(s0) and self.isDescendant(s0, s)
                    ]
                else:
                    value = [s0 for s0 in self.configuration if self.nodes[s0].parent == s]
                self.historyValue[h] = self.documentOrder(value)
        for s in exitOrder:
            self.executeContent(self.nodes[s].onexit)
            self.trace.exited.append(s)
            self.configuration.discard(s)

    def executeTransitionContent(self, enabledTransitions: list[Transition]) -> None:
        for t in enabledTransitions:
            self.executeContent(t.actions)

    def executeContent(self, content: Iterable[Content]) -> None:
        """Run executable content in order: an action is recorded, a ``<raise>`` appends its
        event to the internal queue (SCXML 6.4)."""
        for item in content:
            if isinstance(item, Raise):
                self.internalQueue.append(item.event)
                self.trace.raised.append(item.event)
            else:
                self.trace.actions.append(item)

    def enterStates(self, enabledTransitions: list[Transition]) -> None:
        statesToEnter: list[str] = []  # an ordered set
        self.computeEntrySet(enabledTransitions, statesToEnter)
        for s in self.documentOrder(statesToEnter):
            # Read literally, a transition to a history state whose domain lies below the
            # history's parent puts the restored states' ancestors up to that parent in the
            # entry set, although they were never exited; they are entered (onentry runs) again.
            if s in self.configuration:
                self.trace.entered_while_active.append(s)
                if not self.enterActiveStates:
                    continue
            self.configuration.add(s)
            self.executeContent(self.nodes[s].onentry)
            self.trace.entered.append(s)
            if self.isFinalState(s):
                parent = self.nodes[s].parent
                if parent == ROOT:
                    self.running = False
                else:
                    grandparent = self.nodes[parent].parent
                    self.internalQueue.append(f"done.state.{parent}")
                    self.trace.done_events.append(f"done.state.{parent}")
                    if (
                        grandparent != ROOT
                        and self.isParallelState(grandparent)
                        and all(self.isInFinalState(c) for c in self.getChildStates(grandparent))
                    ):
                        self.internalQueue.append(f"done.state.{grandparent}")
                        self.trace.done_events.append(f"done.state.{grandparent}")

    def isInFinalState(self, s: str) -> bool:
        if self.isCompoundState(s):
            return any(
                self.isFinalState(c) and c in self.configuration for c in self.getChildStates(s)
            )
        if self.isParallelState(s):
            return all(self.isInFinalState(c) for c in self.getChildStates(s))
        return False

    def computeEntrySet(self, transitions: list[Transition], statesToEnter: list[str]) -> None:
        for t in transitions:
            for s in t.target:
                self.addDescendantStatesToEnter(s, statesToEnter)
            ancestor = self.getTransitionDomain(t)
            for s in self.getEffectiveTargetStates(t):
                self.addAncestorStatesToEnter(s, ancestor, statesToEnter)

    def defaultHistoryTargets(self, h: str) -> tuple[list[str], str]:
        """The targets of history ``h``'s default transition (SCXML's ``<history>``'s
        ``<transition>``), and where they come from.

        PyStator writes that transition as the history's ``default``; without one, it is the
        parent's default entry: every region of a parallel parent, else the parent's initial
        child, unless that is ``h`` itself (``initial_child`` naming the history), then the
        child of ``type: initial``, else the first child."""
        node = self.nodes[h]
        parent = self.nodes[node.parent]
        if node.default is not None:
            return [node.default], "default"
        if self.isParallelState(parent.name):
            return self.getChildStates(parent.name), "every region"
        if parent.initial is not None and parent.initial != h:
            return [parent.initial], "initial child"
        if parent.typed_initial is not None:
            return [parent.typed_initial], "child of type initial"
        return [parent.children[0]], "first child"

    def addDescendantStatesToEnter(
        self, state: str, statesToEnter: list[str], *, throughInitial: bool = False
    ) -> None:
        """(``throughInitial`` only says, for the statistics, that ``state`` is the initial
        child of its parent.)"""
        if self.isHistoryState(state):
            parent = self.nodes[state].parent
            if self.historyValue.get(state):
                targets = self.historyValue[state]
                how = "restored"
                self.trace.restored += 1
                if any(self.nodes[s].parent != parent for s in targets):
                    self.trace.restored_deep += 1
            else:
                targets, how = self.defaultHistoryTargets(state)
            self.trace.history_entries.append((state, how, throughInitial))
            for s in targets:
                self.addDescendantStatesToEnter(s, statesToEnter)
            for s in targets:
                self.addAncestorStatesToEnter(s, parent, statesToEnter)
        else:
            if state not in statesToEnter:
                statesToEnter.append(state)
            if self.isCompoundState(state):
                initial = self.nodes[state].initial
                assert initial is not None
                self.addDescendantStatesToEnter(initial, statesToEnter, throughInitial=True)
                self.addAncestorStatesToEnter(initial, state, statesToEnter)
            elif self.isParallelState(state):
                for child in self.getChildStates(state):
                    if self._needsDefaultEntry(child, statesToEnter):
                        self.addDescendantStatesToEnter(child, statesToEnter)

    def _needsDefaultEntry(self, region: str, statesToEnter: list[str]) -> bool:
        """Appendix D's test before a parallel state's child is entered by default: nothing
        below it is to be entered (and, without ``enterActiveStates``, it is not active)."""
        if not self.enterActiveStates and region in self.configuration:
            return False
        return not any(self.isDescendant(s, region) for s in statesToEnter)

    def addAncestorStatesToEnter(
        self, state: str, ancestor: str | None, statesToEnter: list[str]
    ) -> None:
        for anc in self.getProperAncestors(state, ancestor):
            if anc == ROOT:
                break
            if anc not in statesToEnter:
                statesToEnter.append(anc)
            if self.isParallelState(anc):
                for child in self.getChildStates(anc):
                    if self._needsDefaultEntry(child, statesToEnter):
                        self.addDescendantStatesToEnter(child, statesToEnter)

    def getTransitionDomain(self, t: Transition) -> str | None:
        tstates = self.getEffectiveTargetStates(t)
        if not tstates:
            return None
        if (
            t.internal
            and self.isCompoundState(t.source)
            and all(self.isDescendant(s, t.source) for s in tstates)
        ):
            return t.source
        return self.findLCCA([t.source, *tstates])

    def findLCCA(self, stateList: list[str]) -> str:
        head, tail = stateList[0], stateList[1:]
        for anc in self.getProperAncestors(head, None):
            if (anc == ROOT or self.isCompoundState(anc)) and all(
                self.isDescendant(s, anc) for s in tail
            ):
                return anc
        return ROOT

    def getEffectiveTargetStates(self, t: Transition) -> list[str]:
        targets: list[str] = []
        for s in t.target:
            if self.isHistoryState(s):
                if self.historyValue.get(s):
                    found = self.historyValue[s]
                else:  # the effective targets of the default transition (maybe a history)
                    default = self.defaultHistoryTargets(s)[0]
                    found = self.getEffectiveTargetStates(
                        Transition(-1, s, None, tuple(default), False, (), ())
                    )
                targets.extend(x for x in found if x not in targets)
            elif s not in targets:
                targets.append(s)
        return targets


def run(
    definition: MachineDefinition,
    events: Iterable[str],
    guards: Mapping[str, bool],
) -> tuple[Interpreter, list[Trace]]:
    """Start an interpreter for ``definition`` and send ``events``: the traces, first the
    start's. Guards are looked up in ``guards`` (a constant context)."""
    interpreter = Interpreter(build(definition), lambda name: guards[name])
    traces = [interpreter.start()]
    traces.extend(interpreter.send(e) for e in events)
    return interpreter, traces
