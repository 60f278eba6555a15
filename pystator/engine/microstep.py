"""One microstep: exit, act, enter (SCXML's algorithm, Appendix D of the W3C spec).

Given the active leaves and a conflict-free set of transitions: compute the exit set (every
active state below each transition's domain), record history for the states exited, compute
the entry set (targets, their ancestors up to the domain, default entry of compound states and
every region of parallel states, history restored), and collect actions, ``done.state``
events and timers. Pure and deterministic.

``microstep`` runs these as named phases, after the Recommendation's steps:
``compute_exit_set``, ``record_history`` (exitStates' history recording), the transition
content, ``entry_leaves`` (computeEntrySet and enterStates), ``assign_items`` and
``queued_events``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from pystator.engine.config import active_of, serialize
from pystator.engine.datamodel import CompiledAssign
from pystator.engine.index import ROOT, Candidate, MachineIndex, StateNode
from pystator.models.definition import ActionSpec, AssignSpec, RaiseSpec
from pystator.models.result import TimerSpec

History = Mapping[str, tuple[str, ...]]

# The pending calls of ``entry_leaves``.
_DESCENDANTS, _ANCESTORS, _REGION = 0, 1, 2


class Microstep:
    """What one set of non-conflicting transitions does to a configuration."""

    __slots__ = (
        "assigns",
        "enter_actions",
        "entered",
        "exit_actions",
        "exited",
        "history",
        "internal",
        "leaves",
        "transition_actions",
    )

    def __init__(self) -> None:
        self.exited: tuple[str, ...] = ()
        self.entered: tuple[str, ...] = ()
        self.exit_actions: tuple[ActionSpec, ...] = ()
        self.transition_actions: tuple[ActionSpec, ...] = ()
        self.enter_actions: tuple[ActionSpec, ...] = ()
        self.leaves: tuple[str, ...] = ()
        self.history: History | None = None
        self.internal: tuple[str, ...] = ()
        """Events this microstep queues internally (raised and ``done.state``), in order."""
        self.assigns: tuple[CompiledAssign, ...] = ()
        """Assign items in SCXML order: exit (innermost first), transition, entry."""


def effective_targets(index: MachineIndex, dest: str, history: History | None) -> tuple[str, ...]:
    """SCXML's getEffectiveTargetStates for one target: a history pseudo-state stands for what
    it remembers (else its ``fallback``: its default history transition); any other state for
    itself."""
    node = index.states[dest]
    if node.kind != "history":
        return (dest,)
    memory = history.get(dest) if history else None
    return tuple(memory) if memory else node.fallback


def transition_domain(
    index: MachineIndex, source: str, dest: str, internal: bool, history: History | None = None
) -> str:
    """The state whose descendants a transition exits and enters (SCXML's domain).

    For a target that is a history pseudo-state, the domain is computed from its effective
    targets (what it remembers, in ``history``), as Appendix D's getTransitionDomain does.
    """
    states = index.states
    dest_node = states[dest]
    if dest_node.kind == "history":
        return _domain_of_many(index, source, effective_targets(index, dest, history), internal)
    dest_above: tuple[str, ...] | frozenset[str] = dest_node.ancestors
    if (
        internal
        and dest != source
        and source in dest_above
        and states[source].kind in {"compound", "region"}
    ):
        return source
    if len(dest_above) > 16:
        # A deep target: membership in a set, not a scan per ancestor of the source.
        dest_above = frozenset(dest_above)
    # Least common compound ancestor: the innermost proper ancestor of the source that is a
    # compound state (or a region, or the root) and contains the target.
    for ancestor in states[source].ancestors:
        if states[ancestor].kind in {"compound", "region"} and (ancestor in dest_above):
            return ancestor
    return ROOT


def _domain_of_many(
    index: MachineIndex, source: str, targets: tuple[str, ...], internal: bool
) -> str:
    """``transition_domain`` for several targets (a history state's effective targets)."""
    states = index.states
    above = [frozenset(states[t].ancestors) for t in targets]
    if (
        internal
        and states[source].kind in {"compound", "region"}
        and all(source in a for a in above)
    ):
        return source
    for ancestor in states[source].ancestors:
        if states[ancestor].kind in {"compound", "region"} and all(ancestor in a for a in above):
            return ancestor
    return ROOT


def moves(candidate: Candidate) -> bool:
    t = candidate.transition
    return t.dest is not None and not (t.internal and t.dest == candidate.source)


def exit_set(
    index: MachineIndex,
    active: frozenset[str],
    candidate: Candidate,
    history: History | None = None,
) -> tuple[str, frozenset[str]]:
    """(domain, the active states the candidate exits); ``history`` is the memory before the
    step (a transition that targets a history state has its domain from it)."""
    t = candidate.transition
    assert t.dest is not None
    domain = transition_domain(index, candidate.source, t.dest, t.internal, history)
    states = index.states
    if domain == ROOT:
        return domain, active
    return domain, frozenset(s for s in active if domain in states[s].ancestors)


class _EntrySet:
    """SCXML's addDescendantStatesToEnter and addAncestorStatesToEnter, with an explicit stack
    of pending calls popped in the order the recursive algorithm makes them (history and
    parallel states can nest deeper than Python recurses)."""

    __slots__ = ("covered", "history", "states", "to_enter", "todo")

    def __init__(
        self, states: dict[str, StateNode], history: History | None, remaining: Iterable[str]
    ) -> None:
        self.states = states
        self.history = history
        self.to_enter: set[str] = set()
        # Every state that stays active or is to be entered, and all their ancestors: "a region
        # already has a state" is one lookup. Kept upward closed, so each state is added to it
        # once. A region that stays active is never given a second, default child (a history
        # target can name an active parallel state as an ancestor of what it restores).
        self.covered: set[str] = set(remaining)
        self.todo: list[tuple[int, str, str]] = []

    def run(self, calls: list[tuple[int, str, str]]) -> None:
        todo = self.todo
        todo.extend(reversed(calls))
        while todo:
            call, name, upto = todo.pop()
            if call == _DESCENDANTS:
                self.add_descendants(name)
            elif call == _ANCESTORS:
                self.add_ancestors(name, upto)
            elif name not in self.covered:  # _REGION: a region with nothing to enter yet
                self.add_descendants(name)

    def enter(self, name: str) -> None:
        self.to_enter.add(name)
        covered = self.covered
        if name not in covered:
            covered.add(name)
            for ancestor in self.states[name].ancestors:
                if ancestor in covered:
                    break
                covered.add(ancestor)

    def add_descendants(self, name: str) -> None:
        node = self.states[name]
        if node.kind == "history":
            parent = node.parent
            memory = self.history.get(name) if self.history else None
            restore = memory if memory else node.fallback
            # The descendants of every remembered state first, their ancestors after (the
            # Recommendation's order): an ancestor that is a parallel state then finds each
            # region already holding its remembered state, and enters no default for it.
            # Pushed in reverse: the stack pops them in that order.
            self.todo.extend((_ANCESTORS, t, parent) for t in reversed(restore))
            self.todo.extend((_DESCENDANTS, t, "") for t in reversed(restore))
            return
        self.enter(name)
        if node.kind == "compound" or node.kind == "region":
            assert node.initial_child is not None
            self.todo.append((_DESCENDANTS, node.initial_child, ""))
        elif node.kind == "parallel":
            self.todo.extend((_REGION, region, "") for region in reversed(node.children))

    def add_ancestors(self, name: str, upto: str) -> None:
        states = self.states
        regions: list[str] = []
        for ancestor in states[name].ancestors:
            if ancestor == upto:
                break
            self.enter(ancestor)
            if states[ancestor].kind == "parallel":
                regions.extend(states[ancestor].children)
        self.todo.extend((_REGION, region, "") for region in reversed(regions))


def entry_leaves(
    index: MachineIndex,
    remaining: tuple[str, ...] | frozenset[str],
    targets: list[tuple[str, str]],
    history: History | None,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(new leaves, entered states in entry order) for ``targets`` of (target, domain).

    With no targets, the machine's initial configuration is entered from nothing.
    """
    states = index.states
    entry = _EntrySet(states, history, remaining)
    if not targets:
        top = index.initial_top
        entry.run([(_DESCENDANTS, top, ""), (_ANCESTORS, top, ROOT)])
    for target, domain in targets:
        if states[target].kind == "history":
            # Ancestors of the effective targets, up to the domain (computed from them).
            entry.run(
                [
                    (_DESCENDANTS, target, ""),
                    *((_ANCESTORS, t, domain) for t in effective_targets(index, target, history)),
                ]
            )
        else:
            entry.run([(_DESCENDANTS, target, ""), (_ANCESTORS, target, domain)])
    to_enter = entry.to_enter
    remaining_set = set(remaining)
    entered = tuple(
        sorted((s for s in to_enter if s not in remaining_set), key=lambda n: states[n].order)
    )
    all_active = remaining_set | to_enter
    # A leaf is an active state with no active child (a compound state given "as is" counts).
    leaves = tuple(
        sorted(
            (s for s in all_active if not any(c in all_active for c in states[s].children)),
            key=lambda n: states[n].order,
        )
    )
    return leaves, entered


def microstep(
    index: MachineIndex,
    leaves: tuple[str, ...],
    selected: list[Candidate],
    history: History | None,
) -> Microstep:
    """Exit, act and enter for ``selected`` (already free of conflicts): the Recommendation's
    microstep, its phases in its order (computeExitSet, exitStates with its history
    recording, executeTransitionContent, enterStates with computeEntrySet)."""
    states = index.states
    active = active_of(states, leaves)
    exited, targets = compute_exit_set(index, active, selected, history)
    step = Microstep()
    step.history = history
    if index.has_history and exited:
        step.history = record_history(index, leaves, active, exited, history)
    if targets:
        remaining = active.difference(exited)
        new_leaves, entered = entry_leaves(index, remaining, targets, step.history)
    else:
        new_leaves, entered = leaves, ()
    step.exited = exited
    step.entered = entered
    step.leaves = new_leaves
    step.exit_actions = tuple(a for n in exited for a in states[n].on_exit)
    # executeTransitionContent's actions, in document order (``assign`` and ``raise`` items
    # are not actions: ``assign_items`` and ``queued_events`` take them).
    step.transition_actions = tuple(
        ActionSpec(name=a) if isinstance(a, str) else a
        for cand in selected
        for a in cand.transition.actions
        if not isinstance(a, (AssignSpec, RaiseSpec))
    )
    step.enter_actions = tuple(a for n in entered for a in states[n].on_enter)
    if index.has_assign:
        step.assigns = assign_items(index, exited, selected, entered)
    step.internal = queued_events(index, exited, selected, entered, new_leaves)
    return step


def compute_exit_set(
    index: MachineIndex,
    active: frozenset[str],
    selected: list[Candidate],
    history: History | None,
) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    """SCXML's computeExitSet for the whole microstep: (the states exited, innermost first,
    and each moving transition's (target, domain) for the entry set)."""
    states = index.states
    leaving: set[str] = set()
    targets: list[tuple[str, str]] = []
    for cand in selected:
        if moves(cand):
            domain, exits = exit_set(index, active, cand, history)
            leaving |= exits
            dest = cand.transition.dest
            assert dest is not None  # ``moves`` says so
            targets.append((dest, domain))
    exited = tuple(sorted(leaving, key=lambda n: states[n].order, reverse=True))
    return exited, targets


def record_history(
    index: MachineIndex,
    leaves: tuple[str, ...],
    active: frozenset[str],
    exited: tuple[str, ...],
    history: History | None,
) -> History:
    """The history memory once ``exited`` are left (exitStates' first part): each history
    state of an exited state remembers its active leaves below it (deep) or its active
    children (shallow)."""
    states = index.states
    memory = dict(history or {})
    for name in exited:
        for h in states[name].history_children:
            if states[h].deep:
                memory[h] = tuple(leaf for leaf in leaves if name in states[leaf].ancestors)
            else:
                memory[h] = tuple(c for c in states[name].children if c in active)
    return MappingProxyType(memory)


def assign_items(
    index: MachineIndex,
    exited: tuple[str, ...],
    selected: list[Candidate],
    entered: tuple[str, ...],
) -> tuple[CompiledAssign, ...]:
    """The microstep's assign items in SCXML order: exit (innermost first), transition,
    entry."""
    states = index.states
    return (
        *(a for n in exited for a in states[n].exit_assigns),
        *(a for cand in selected for a in index.assigns.get(cand.index, ())),
        *(a for n in entered for a in states[n].enter_assigns),
    )


def queued_events(
    index: MachineIndex,
    exited: tuple[str, ...],
    selected: list[Candidate],
    entered: tuple[str, ...],
    leaves: tuple[str, ...],
) -> tuple[str, ...]:
    """What one microstep adds to the internal queue, in the Recommendation's order.

    Exit items run first (innermost state first), then the transitions' actions, then entry
    in entry order; each ``{raise: EVENT}`` queues its event where it runs. A final state
    queues ``done.state.<parent>`` after its own entry items (SCXML 3.7.1), and the entry that
    completes a parallel state queues ``done.state.<parallel>`` after that region's event,
    judged on the configuration as it is at that point of the entry order, not after the whole
    step.
    """
    states = index.states
    events: list[str] = []
    if index.has_raise:
        for name in exited:
            events.extend(states[name].exit_raises)
        for cand in selected:
            events.extend(index.raises.get(cand.index, ()))
    done: set[str] = set()
    active: frozenset[str] | None = None
    for i, name in enumerate(entered):
        node = states[name]
        events.extend(node.enter_raises)
        if not node.is_terminal or node.parent == ROOT:
            continue
        _queue_done(events, done, f"done.state.{node.parent}")
        grand = states[node.parent].parent
        if grand != ROOT and states[grand].kind == "parallel":
            if active is None:
                active = active_of(states, leaves)
            # The configuration once ``name`` is entered: the states entered after it are not
            # active yet.
            now = active.difference(entered[i + 1 :])
            if all(in_final(index, region, now) for region in states[grand].children):
                _queue_done(events, done, f"done.state.{grand}")
    return tuple(events)


def _queue_done(events: list[str], done: set[str], event: str) -> None:
    """Queue a ``done.state`` event once per microstep (raised events may repeat)."""
    if event not in done:
        done.add(event)
        events.append(event)


def in_final(index: MachineIndex, name: str, active: frozenset[str]) -> bool:
    """SCXML's isInFinalState: a compound state (or region) whose active child is final, or
    a parallel state whose regions all are (walked with a stack: they can nest deeply)."""
    states = index.states
    todo = [name]
    while todo:
        node = states[todo.pop()]
        if node.kind == "parallel":
            todo.extend(node.children)
        elif not any(c in active and states[c].is_terminal for c in node.children):
            return False
    return True


def timer_changes(
    index: MachineIndex,
    before: frozenset[str],
    after: frozenset[str],
    exited: set[str],
    entered: set[str],
) -> tuple[tuple[TimerSpec, ...], tuple[str, ...]]:
    """Timers to cancel (states active before and exited) and to arm (entered, still active)."""
    states = index.states
    cancel = tuple(
        spec.key
        for name in sorted(exited & before, key=lambda n: states[n].order, reverse=True)
        for spec in states[name].timers
    )
    arm = tuple(
        spec
        for name in sorted(entered & after, key=lambda n: states[n].order)
        for spec in states[name].timers
    )
    return arm, cancel


def entry_configuration(index: MachineIndex, state: str) -> str:
    """The configuration reached by entering ``state`` (and its ancestors) by default."""
    leaves, _ = entry_leaves(index, (), [(state, ROOT)], None)
    return serialize(index, leaves)
