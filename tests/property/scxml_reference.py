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
  spelling of ``initial=``);
* a transition is SCXML's ``<transition>`` of its source, in the definition's order;
  ``auto: true`` is an eventless transition; ``dest`` absent is a targetless transition;
  ``internal: true`` is ``type="internal"``. Two documented PyStator choices are mapped on
  the way in (``docs/semantics.md``, "Differences from SCXML"): ``internal: true`` with
  ``dest`` equal to the source is a targetless transition, and ``priority`` reorders the
  transitions of one state (a stable sort, higher first).
* a history state's default transition targets ``default``, else its parent's initial child;
* every action is just a name: executing content appends it to ``Trace.actions``.

Not modelled: ``source: "*"`` (an extension, refused by ``build``), delayed transitions
(``after``, ignored), guards other than by name (a ``guard`` callback answers each name).
A source list is one transition per source.

What PyStator adds around the algorithm, and the reference mirrors so that results compare:

* ``send`` processes one external event as one macrostep. More than ``MAX_MICROSTEPS``
  eventless or internal-event microsteps after it is a loop (PyStator's ``LoopLimitError``):
  the reference then restores its configuration and history and reports ``looped``.
* A top-level final state halts the interpreter (``running = false``); later events do nothing.
"""

# The procedures and variables keep the Recommendation's camelCase names, to be read side by
# side with its pseudo-code.
# ruff: noqa: N803

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from pystator import MachineDefinition
from pystator.models.definition import ActionSpec, AssignSpec, StateDefinition

MAX_MICROSTEPS = 100
"""Eventless and internal-event microsteps allowed after one event (PyStator's limit)."""

ROOT = "<scxml>"


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
    """Target of the compound state's initial transition."""
    deep: bool = False
    default: str | None = None
    """History: target of the history's default transition."""
    onentry: list[str] = field(default_factory=list)
    onexit: list[str] = field(default_factory=list)
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
    actions: tuple[str, ...]


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
    entered_while_active: list[str] = field(default_factory=list)
    """States in an entry set that were already active (and not exited): Appendix D enters
    them again (see ``enterStates``)."""
    done_events: list[str] = field(default_factory=list)
    """Internal ``done.state`` events queued, in order."""
    restored: int = 0
    """History states entered with a remembered value."""
    restored_deep: int = 0
    """... of which remembered states below a child of the history's parent."""


class Loop(Exception):
    """More than ``MAX_MICROSTEPS`` microsteps followed one event."""


# ----------------------------------------------------------------------------- the model
def _names(actions: Iterable[str | ActionSpec | AssignSpec]) -> list[str]:
    out: list[str] = []
    for a in actions:
        if isinstance(a, str):
            out.append(a)
        elif isinstance(a, ActionSpec):
            out.append(a.name)
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
        node = Node(state.name, kind, parent, onentry=_names(state.on_enter))
        node.onexit = _names(state.on_exit)
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
            node.initial = explicit_initial.get(
                node.name, typed_initial.get(node.name, node.children[0])
            )

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
                    actions=tuple(_names(t.actions)),
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

    def __init__(self, model: Model, guard: Callable[[str], bool]) -> None:
        self.model = model
        self.nodes = model.nodes
        self.guard = guard
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
            self.trace = Trace(looped=True)
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
                    enabledTransitions = self.selectTransitions(internalEvent)
            if enabledTransitions:
                if follow_ups >= MAX_MICROSTEPS:
                    raise Loop()
                follow_ups += 1
                self.microstep(enabledTransitions)

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
            self.trace.actions.extend(self.nodes[s].onexit)
            self.trace.exited.append(s)
            self.configuration.discard(s)

    def executeTransitionContent(self, enabledTransitions: list[Transition]) -> None:
        for t in enabledTransitions:
            self.trace.actions.extend(t.actions)

    def enterStates(self, enabledTransitions: list[Transition]) -> None:
        statesToEnter: list[str] = []  # an ordered set
        self.computeEntrySet(enabledTransitions, statesToEnter)
        for s in self.documentOrder(statesToEnter):
            # Read literally, a transition to a history state whose domain lies below the
            # history's parent puts the restored states' ancestors up to that parent in the
            # entry set, although they were never exited; they are entered (onentry runs) again.
            if s in self.configuration:
                self.trace.entered_while_active.append(s)
            self.configuration.add(s)
            self.trace.actions.extend(self.nodes[s].onentry)
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

    def _historyTransitionTargets(self, h: str) -> list[str]:
        """The target of a history state's default transition (PyStator: ``default``, else
        the parent's initial child)."""
        node = self.nodes[h]
        target = node.default or self.nodes[node.parent].initial
        assert target is not None
        return [target]

    def addDescendantStatesToEnter(self, state: str, statesToEnter: list[str]) -> None:
        if self.isHistoryState(state):
            parent = self.nodes[state].parent
            if self.historyValue.get(state):
                targets = self.historyValue[state]
                self.trace.restored += 1
                if any(self.nodes[s].parent != parent for s in targets):
                    self.trace.restored_deep += 1
            else:
                targets = self._historyTransitionTargets(state)
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
                self.addDescendantStatesToEnter(initial, statesToEnter)
                self.addAncestorStatesToEnter(initial, state, statesToEnter)
            elif self.isParallelState(state):
                for child in self.getChildStates(state):
                    if not any(self.isDescendant(s, child) for s in statesToEnter):
                        self.addDescendantStatesToEnter(child, statesToEnter)

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
                    if not any(self.isDescendant(s, child) for s in statesToEnter):
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
                else:
                    found = self._historyTransitionTargets(s)  # the default transition's targets
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
