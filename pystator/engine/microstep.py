"""One microstep: exit, act, enter (SCXML's algorithm, Appendix D of the W3C spec).

Given the active leaves and a conflict-free set of transitions: compute the exit set (every
active state below each transition's domain), record history for the states exited, compute
the entry set (targets, their ancestors up to the domain, default entry of compound states and
every region of parallel states, history restored), and collect actions, ``done.state``
events and timers. Pure and deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pystator.engine.config import active_of, serialize
from pystator.engine.index import ROOT, Candidate, MachineIndex
from pystator.models.definition import ActionSpec
from pystator.models.result import TimerSpec

History = Mapping[str, tuple[str, ...]]


class Microstep:
    """What one set of non-conflicting transitions does to a configuration."""

    __slots__ = (
        "actions",
        "done_events",
        "enter_actions",
        "entered",
        "exit_actions",
        "exited",
        "history",
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
        self.done_events: tuple[str, ...] = ()


def transition_domain(index: MachineIndex, source: str, dest: str, internal: bool) -> str:
    """The state whose descendants a transition exits and enters (SCXML's domain)."""
    states = index.states
    dest_node = states[dest]
    if (
        internal
        and dest != source
        and source in dest_node.ancestors
        and states[source].kind in {"compound", "region"}
    ):
        return source
    # Least common compound ancestor: the innermost proper ancestor of the source that is a
    # compound state (or a region, or the root) and contains the target.
    for ancestor in states[source].ancestors:
        if states[ancestor].kind in {"compound", "region"} and (ancestor in dest_node.ancestors):
            return ancestor
    return ROOT


def moves(candidate: Candidate) -> bool:
    t = candidate.transition
    return t.dest is not None and not (t.internal and t.dest == candidate.source)


def exit_set(
    index: MachineIndex, active: frozenset[str], candidate: Candidate
) -> tuple[str, frozenset[str]]:
    t = candidate.transition
    assert t.dest is not None
    domain = transition_domain(index, candidate.source, t.dest, t.internal)
    states = index.states
    if domain == ROOT:
        return domain, active
    return domain, frozenset(s for s in active if domain in states[s].ancestors)


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
    to_enter: set[str] = set()

    def has_descendant_in(region: str) -> bool:
        return any(region == s or region in states[s].ancestors for s in to_enter)

    def add_descendants(name: str) -> None:
        node = states[name]
        if node.kind == "history":
            parent = node.parent
            memory = history.get(name) if history else None
            restore = memory if memory else (node.default or states[parent].initial_child,)
            for target in restore:
                if target is None:
                    continue
                add_descendants(target)
                add_ancestors(target, parent)
            return
        to_enter.add(name)
        if node.kind in {"compound", "region"}:
            assert node.initial_child is not None
            add_descendants(node.initial_child)
        elif node.kind == "parallel":
            for region in node.children:
                if not has_descendant_in(region):
                    add_descendants(region)

    def add_ancestors(name: str, upto: str) -> None:
        for ancestor in states[name].ancestors:
            if ancestor == upto:
                break
            to_enter.add(ancestor)
            if states[ancestor].kind == "parallel":
                for region in states[ancestor].children:
                    if not has_descendant_in(region):
                        add_descendants(region)

    if not targets:
        add_descendants(index.initial_top)
        add_ancestors(index.initial_top, ROOT)
    for target, domain in targets:
        add_descendants(target)
        add_ancestors(target, domain)
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
    """Exit, act and enter for ``selected`` (already free of conflicts)."""
    states = index.states
    active = active_of(states, leaves)
    leaving: set[str] = set()
    targets: list[tuple[str, str]] = []
    for cand in selected:
        if not moves(cand):
            continue
        domain, exits = exit_set(index, active, cand)
        leaving |= exits
        assert cand.transition.dest is not None
        targets.append((cand.transition.dest, domain))
    exited = tuple(sorted(leaving, key=lambda n: states[n].order, reverse=True))

    step = Microstep()
    step.history = history
    if index.has_history and exited:
        memory = dict(history or {})
        for name in exited:
            for h in states[name].history_children:
                if states[h].deep:
                    memory[h] = tuple(leaf for leaf in leaves if name in states[leaf].ancestors)
                else:
                    memory[h] = tuple(c for c in states[name].children if c in active)
        step.history = MappingProxyType(memory)

    remaining = frozenset(active - leaving)
    if targets:
        new_leaves, entered = entry_leaves(index, remaining, targets, step.history)
    else:
        new_leaves, entered = leaves, ()
    step.exited = exited
    step.entered = entered
    step.leaves = new_leaves
    step.exit_actions = tuple(a for n in exited for a in states[n].on_exit)
    step.transition_actions = tuple(
        ActionSpec(name=a) if isinstance(a, str) else a
        for cand in selected
        for a in cand.transition.actions
    )
    step.enter_actions = tuple(a for n in entered for a in states[n].on_enter)
    step.done_events = done_events_of(index, entered, new_leaves)
    return step


def done_events_of(
    index: MachineIndex, entered: tuple[str, ...], leaves: tuple[str, ...]
) -> tuple[str, ...]:
    """``done.state.X`` events raised by final states just entered (SCXML 3.7.1)."""
    states = index.states
    events: list[str] = []
    active: frozenset[str] | None = None
    for name in entered:
        node = states[name]
        if not node.is_terminal or node.parent == ROOT:
            continue
        events.append(f"done.state.{node.parent}")
        grand = states[node.parent].parent
        if grand != ROOT and states[grand].kind == "parallel":
            if active is None:
                active = active_of(states, leaves)
            if all(in_final(index, region, active) for region in states[grand].children):
                events.append(f"done.state.{grand}")
    return tuple(dict.fromkeys(events))


def in_final(index: MachineIndex, name: str, active: frozenset[str]) -> bool:
    node = index.states[name]
    if node.kind == "parallel":
        return all(in_final(index, r, active) for r in node.children)
    return any(c in active and index.states[c].is_terminal for c in node.children)


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
