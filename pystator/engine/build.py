"""``build_index``: compile a validated ``MachineDefinition`` into a ``MachineIndex``, in phases.

``build_index`` reads as its list of phases, each one concern and one loop, named after the
SCXML Recommendation's concept where SCXML has one: the tree and ``_state_kinds`` (3.3
``<state>``, 3.4 ``<parallel>``, 3.10 ``<history>``; a region is a child of ``<parallel>``),
``_document_order`` (Appendix D ``documentOrder``), ``_select_tables`` (the transitions by
source, for ``selectTransitions``/``selectEventlessTransitions``, with their guards, 5.9.1
``cond``), the timers of ``after`` and ``timeout`` (PyStator's own), ``_proper_ancestors``
(``getProperAncestors``), ``_initial_children`` (3.3 ``initial``, 3.6 ``<initial>``),
``_executable_content`` (3.8 ``<onentry>``, 3.9 ``<onexit>``, 4.2 ``<raise>``, 5.4
``<assign>``), ``_state_nodes`` (assembly), ``_initial_top`` (3.2 ``<scxml initial>``) and
``_history_defaults`` (3.10.2, ``getEffectiveTargetStates``).

Problems (expressions that do not compile) are collected, transitions first, then states in
document order, and raised as ONE ``ConfigurationError``. Speed (benchmark row 4, loading
10,000 states): ``_select_tables`` is the only loop over the transitions, and per-item work
stays inline in each phase's loop (no function call per state or transition it does not need).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from pystator.engine.datamodel import CompiledAssign, ValueFn
from pystator.engine.guards import (
    CompiledGuard,
    ExprFn,
    action_assigns,
    compile_assign,
    compile_guards,
)
from pystator.engine.index import ROOT, Candidate, MachineIndex, StateNode
from pystator.errors import ConfigIssue, ConfigurationError
from pystator.models.definition import (
    ActionItem,
    ActionSpec,
    AssignSpec,
    MachineDefinition,
    RaiseSpec,
    TransitionDefinition,
    duration_ms,
)
from pystator.models.result import TimerSpec
from pystator.models.tree import TreeNode, flatten

_Names = tuple[str, ...]
_Children = tuple[_Names, _Names]  # real children, history children
_Specs = tuple[ActionSpec, ...]
_Assigns = tuple[CompiledAssign, ...]
_Content = tuple[_Specs, _Specs, _Assigns, _Assigns, _Names, _Names]
"""A state's ``on_enter`` and ``on_exit`` actions, assigns and raised events (that order)."""
_NO_CONTENT: _Content = ((), (), (), (), (), ())
_NO_CHILDREN: _Children = ((), ())


@dataclass(slots=True)
class _Tables:
    """What the one pass over the transitions compiled (see ``MachineIndex`` for each field);
    ``delayed`` lists the indexes of the delayed (``after``) transitions."""

    own: dict[str, list[int]] = field(default_factory=dict)
    guards: dict[int, tuple[CompiledGuard, ...]] = field(default_factory=dict)
    assigns: dict[int, tuple[CompiledAssign, ...]] = field(default_factory=dict)
    raises: dict[int, tuple[str, ...]] = field(default_factory=dict)
    triggers: set[str] = field(default_factory=set)
    has_auto: bool = False
    delayed: list[int] = field(default_factory=list)


def build_index(
    definition: MachineDefinition,
    *,
    compile_expr: Callable[[str], ExprFn] | None = None,
    compile_value: Callable[[str], ValueFn] | None = None,
) -> MachineIndex:
    """Build the index of an already validated definition.

    ``compile_value`` compiles the expressions of ``assign`` items (a definition with one and
    no compiler is refused)."""
    nodes = flatten(definition.states)
    kids: dict[str, list[str]] = {}  # parent (ROOT at the top) -> its children's names
    for node in nodes:
        kids.setdefault(node.parent or ROOT, []).append(node.name)
    by_name = {n.name: n for n in nodes}
    kinds = _state_kinds(nodes, kids)
    order = _document_order(kids)

    issues: list[ConfigIssue] = []
    tables = _select_tables(definition, nodes, kinds, compile_expr, compile_value, issues)
    timers: dict[str, list[TimerSpec]] = {}
    delayed = _delayed_transitions(definition.transitions, tables.delayed, timers)
    timeouts = _timeout_transitions(nodes, timers)

    above, in_parallel_below = _proper_ancestors(order, kids, by_name, kinds)
    children = _child_states(kids, kinds)
    initials = _initial_children(children, kinds, by_name)
    content, state_assigns, state_raises = _executable_content(nodes, compile_value, issues)
    states = _state_nodes(
        nodes, kinds, order, above, in_parallel_below, children, initials, content, timers
    )
    if issues:
        raise ConfigurationError(issues)

    initial_top = _initial_top(definition, kids, kinds, by_name)
    has_history = _history_defaults(states)
    has_raise = bool(tables.raises) or state_raises
    has_done = any(trigger.startswith("done.state.") for trigger in tables.triggers)
    return MachineIndex(
        definition=definition,
        states=states,
        initial_top=initial_top,
        initial_state=initial_top,  # resolved to a full configuration by engine.step
        triggers=frozenset(tables.triggers),
        timer_triggers=frozenset(spec.trigger for specs in timers.values() for spec in specs),
        timer_table=_timer_table(delayed, timeouts, tables.guards),
        strict=definition.meta.strict_mode,
        # No eventless, done or history transitions: a step is one microstep.
        simple=not (tables.has_auto or has_done or has_history or has_raise),
        has_history=has_history,
        has_auto=tables.has_auto,
        own=tables.own,
        guards=tables.guards,
        assigns=tables.assigns,
        has_assign=bool(tables.assigns) or state_assigns,
        raises=tables.raises,
        has_raise=has_raise,
    )


def _state_kinds(nodes: Sequence[TreeNode], kids: Mapping[str, list[str]]) -> dict[str, str]:
    """Each node's kind: ``atomic``, ``compound``, ``parallel``, ``region`` or ``history``."""
    kinds: dict[str, str] = {}
    for node in nodes:
        if node.state is None:
            kinds[node.name] = "region"
        else:
            state_type = node.state.type
            if state_type == "parallel" or state_type == "history":
                kinds[node.name] = state_type
            else:
                kinds[node.name] = "compound" if node.name in kids else "atomic"
    return kinds


def _document_order(kids: Mapping[str, list[str]]) -> dict[str, int]:
    """Position of every state in document order (parents before children), by a depth-first
    walk with an explicit stack: parent chains can be thousands of states long."""
    order: dict[str, int] = {}
    todo = list(reversed(kids.get(ROOT, ())))
    while todo:
        name = todo.pop()
        order[name] = len(order)
        below = kids.get(name)
        if below:
            todo.extend(reversed(below))
    return order


def _select_tables(
    definition: MachineDefinition,
    nodes: Sequence[TreeNode],
    kinds: Mapping[str, str],
    compile_expr: Callable[[str], ExprFn] | None,
    compile_value: Callable[[str], ValueFn] | None,
    issues: list[ConfigIssue],
) -> _Tables:
    """The one pass over the transitions: guards and executable content compiled, delayed
    transitions set aside for their timers, the others listed by source state ("own"; grouped
    by trigger on the state's first event, in ``index.state_table``). A transition whose guards
    do not compile is left out of every table (its problems are in ``issues``)."""
    tables = _Tables()
    own, guards, triggers, delayed = tables.own, tables.guards, tables.triggers, tables.delayed
    wildcard: list[str] | None = None
    for i, t in enumerate(definition.transitions):
        fields = t.__dict__  # faster than attribute lookup on a model, for thousands of them
        if fields["guards"]:
            compiled = compile_guards(i, t, compile_expr, issues)
            if compiled is None:
                continue
            guards[i] = compiled
        if fields["assign"] or fields["actions"]:
            _transition_content(i, t, compile_value, issues, tables)
        if fields["after"] is not None:
            delayed.append(i)
            continue
        if fields["auto"]:
            tables.has_auto = True
        else:
            triggers.add(fields["trigger"])
        source_field = fields["source"]
        if type(source_field) is str and source_field != "*":
            listed = own.get(source_field)
            if listed is None:
                own[source_field] = [i]
            else:
                listed.append(i)
            continue
        sources: Sequence[str]
        if source_field != "*":
            sources = t.sources
        elif wildcard is None:
            sources = wildcard = _wildcard_sources(nodes, kinds)
        else:
            sources = wildcard
        for source in sources:
            own.setdefault(source, []).append(i)
    return tables


def _wildcard_sources(nodes: Sequence[TreeNode], kinds: Mapping[str, str]) -> list[str]:
    """The states a ``"*"`` source stands for: every non-terminal state (and region)."""
    return [
        n.name
        for n in nodes
        if kinds[n.name] != "history" and (n.state is None or n.state.type != "terminal")
    ]


def _transition_content(
    i: int,
    t: TransitionDefinition,
    compile_value: Callable[[str], ValueFn] | None,
    issues: list[ConfigIssue],
    tables: _Tables,
) -> None:
    """Transition ``i``'s executable content: its assign items (``assign:`` first, then the
    ``{assign: ...}`` items of its actions) and the events its actions raise."""
    assigns: list[CompiledAssign] = []
    if t.assign:
        compiled = compile_assign(f"transitions[{i}].assign", t.assign, compile_value, issues)
        if compiled is not None:
            assigns.append(compiled)
    assigns.extend(action_assigns(f"transitions[{i}].actions", t.actions, compile_value, issues))
    if assigns:
        tables.assigns[i] = tuple(assigns)
    raised = _raised_events(t.actions)
    if raised:
        tables.raises[i] = raised


def _delayed_transitions(
    transitions: Sequence[TransitionDefinition],
    delayed: list[int],
    timers: dict[str, list[TimerSpec]],
) -> dict[str, tuple[int, TransitionDefinition]]:
    """A timer per delayed transition and source (into ``timers``); key -> (index, transition)."""
    timer_transitions: dict[str, tuple[int, TransitionDefinition]] = {}
    for i in delayed:
        t = transitions[i]
        # The event the timer sends: the transition's trigger, or ``after:<index>``.
        trigger = t.trigger if t.trigger is not None else f"after:{i}"
        after: int | str = t.after  # type: ignore[assignment]  # set: a delayed transition
        for source in t.sources:
            key = f"{source}:after:{i}"
            timers.setdefault(source, []).append(
                TimerSpec(key=key, state=source, trigger=trigger, delay_ms=duration_ms(after))
            )
            timer_transitions[key] = (i, t)
    return timer_transitions


def _timeout_transitions(
    nodes: Sequence[TreeNode], timers: dict[str, list[TimerSpec]]
) -> dict[str, TransitionDefinition]:
    """Each state's ``timeout`` becomes a timer of the state (added to ``timers``) and the
    transition it fires; returns timer key -> that transition."""
    timeouts: dict[str, TransitionDefinition] = {}
    for tree_node in nodes:
        if tree_node.state is not None and tree_node.state.timeout is not None:
            name = tree_node.name
            key = f"{name}:timeout"
            spec = tree_node.state.timeout
            delay_ms = round(spec.seconds * 1000)
            timers.setdefault(name, []).append(
                TimerSpec(key=key, state=name, trigger=f"timeout:{name}", delay_ms=delay_ms)
            )
            timeouts[key] = TransitionDefinition(
                trigger=None,
                after=delay_ms,
                source=name,
                dest=spec.destination,
                description=f"timeout of {name}",
            )
    return timeouts


def _proper_ancestors(
    order: Mapping[str, int],
    kids: Mapping[str, list[str]],
    by_name: Mapping[str, TreeNode],
    kinds: Mapping[str, str],
) -> tuple[dict[str, tuple[str, ...]], dict[str, bool]]:
    """parent -> the proper ancestors of its children (innermost first, ``ROOT`` excluded), and
    whether they lie inside a parallel state. In document order, one tuple built in C per
    compound state (its name, then its parent's), shared by all its children."""
    above: dict[str, tuple[str, ...]] = {ROOT: ()}
    in_parallel_below: dict[str, bool] = {ROOT: False}
    for name in order:
        parent = by_name[name].parent or ROOT
        if name in kids:
            above[name] = (name, *above[parent]) if parent != ROOT else (name,)
            in_parallel_below[name] = in_parallel_below[parent] or kinds[name] == "parallel"
    return above, in_parallel_below


def _child_states(kids: Mapping[str, list[str]], kinds: Mapping[str, str]) -> dict[str, _Children]:
    """state with children -> its real and its history children, each in document order."""
    children: dict[str, _Children] = {}
    for name, below in kids.items():
        if name != ROOT:
            children[name] = (
                tuple(c for c in below if kinds[c] != "history"),
                tuple(c for c in below if kinds[c] == "history"),
            )
    return children


def _initial_children(
    children: Mapping[str, _Children],
    kinds: Mapping[str, str],
    by_name: Mapping[str, TreeNode],
) -> dict[str, str]:
    """compound state or region -> the child it enters by default: its ``initial``, else its
    child of type ``initial``, else (SCXML) its first child in document order."""
    initials: dict[str, str] = {}
    for name, (real, _) in children.items():
        kind = kinds[name]
        if not real or (kind != "compound" and kind != "region"):
            continue
        tree_node = by_name[name]
        if tree_node.region is not None and tree_node.region.initial is not None:
            initials[name] = tree_node.region.initial
        elif tree_node.state is not None and tree_node.state.initial_child is not None:
            initials[name] = tree_node.state.initial_child
        else:
            typed = [
                c
                for c in real
                if by_name[c].state is not None and by_name[c].state.type == "initial"  # type: ignore[union-attr]
            ]
            initials[name] = typed[0] if typed else real[0]
    return initials


def _executable_content(
    nodes: Sequence[TreeNode],
    compile_value: Callable[[str], ValueFn] | None,
    issues: list[ConfigIssue],
) -> tuple[dict[str, _Content], bool, bool]:
    """state -> its ``on_enter``/``on_exit`` content (absent: it has none); whether some
    state assigns; whether some state raises internal events."""
    content: dict[str, _Content] = {}
    assigns = False
    raises = False
    for tree_node in nodes:
        state_def = tree_node.state
        if state_def is None or not (state_def.on_enter or state_def.on_exit):
            continue
        path, on_enter, on_exit = tree_node.path, state_def.on_enter, state_def.on_exit
        enter_assigns = action_assigns(f"{path}.on_enter", on_enter, compile_value, issues)
        exit_assigns = action_assigns(f"{path}.on_exit", on_exit, compile_value, issues)
        assigns = assigns or bool(enter_assigns or exit_assigns)
        enter_raises = _raised_events(on_enter)
        exit_raises = _raised_events(on_exit)
        raises = raises or bool(enter_raises or exit_raises)
        content[tree_node.name] = (
            _action_specs(on_enter),
            _action_specs(on_exit),
            enter_assigns,
            exit_assigns,
            enter_raises,
            exit_raises,
        )
    return content, assigns, raises


def _state_nodes(
    nodes: Sequence[TreeNode],
    kinds: Mapping[str, str],
    order: Mapping[str, int],
    above: Mapping[str, tuple[str, ...]],
    in_parallel_below: Mapping[str, bool],
    children: Mapping[str, _Children],
    initials: Mapping[str, str],
    content: Mapping[str, _Content],
    timers: Mapping[str, list[TimerSpec]],
) -> dict[str, StateNode]:
    """The ``StateNode`` of every state and region, from what the other phases computed."""
    states: dict[str, StateNode] = {}
    for tree_node in nodes:
        name = tree_node.name
        parent = tree_node.parent or ROOT
        state_def = tree_node.state
        real, history = children.get(name, _NO_CHILDREN)
        on_enter, on_exit, enter_assigns, exit_assigns, enter_raises, exit_raises = content.get(
            name, _NO_CONTENT
        )
        timer_specs = timers.get(name)
        states[name] = StateNode(
            name=name,
            kind=kinds[name],
            type="region" if state_def is None else state_def.type,
            parent=parent,
            children=real,
            history_children=history,
            ancestors=above[parent],
            order=order[name],
            on_enter=on_enter,
            on_exit=on_exit,
            initial_child=initials.get(name),
            in_parallel=in_parallel_below[parent],
            timers=tuple(timer_specs) if timer_specs else (),
            deep=state_def is not None and state_def.history == "deep",
            default=state_def.default if state_def is not None else None,
            definition=state_def,
            enter_assigns=enter_assigns,
            exit_assigns=exit_assigns,
            enter_raises=enter_raises,
            exit_raises=exit_raises,
        )
    return states


def _initial_top(
    definition: MachineDefinition,
    kids: Mapping[str, list[str]],
    kinds: Mapping[str, str],
    by_name: Mapping[str, TreeNode],
) -> str:
    """The top-level state to start in: ``meta.initial``, else typed ``initial``, else the first."""
    top = [n for n in kids[ROOT] if kinds[n] != "history"]
    meta_initial = definition.meta.initial
    return meta_initial or next(
        (n for n in top if by_name[n].state is not None and by_name[n].state.type == "initial"),  # type: ignore[union-attr]
        top[0],
    )


def _history_defaults(states: Mapping[str, StateNode]) -> bool:
    """Set the ``fallback`` of every history pseudo-state; whether there is one."""
    has_history = False
    for state_node in states.values():
        if state_node.kind == "history":
            has_history = True
            state_node.fallback = _history_fallback(states, state_node)
    return has_history


def _history_fallback(states: Mapping[str, StateNode], node: StateNode) -> tuple[str, ...]:
    """What history pseudo-state ``node`` enters without memory (see ``StateNode.fallback``)."""
    if node.default is not None:
        return (node.default,)
    parent = states[node.parent]
    if parent.kind == "parallel":
        return parent.children
    initial = parent.initial_child
    if initial is not None and initial != node.name:
        if states[initial].kind == "history":
            # The parent starts through its other history H1, which remembers nothing either
            # (both record when the parent is left): H1's fallback (getEffectiveTargetStates).
            return _history_fallback(states, states[initial])
        return (initial,)
    real = parent.children
    typed = [c for c in real if states[c].type == "initial"]
    return (typed[0] if typed else real[0],)


def _timer_table(
    delayed: Mapping[str, tuple[int, TransitionDefinition]],
    timeouts: Mapping[str, TransitionDefinition],
    guards: Mapping[int, tuple[CompiledGuard, ...]],
) -> dict[str, Candidate]:
    """timer key -> the candidate it fires: delayed transitions (with guards), then timeouts."""
    table: dict[str, Candidate] = {}
    for key, (i, t) in delayed.items():
        source = key.split(":", 1)[0]
        table[key] = Candidate(source, source, t, i, guards.get(i, ()))
    for key, t in timeouts.items():
        source = key.split(":", 1)[0]
        table[key] = Candidate(source, source, t, -1, ())
    return table


def _action_specs(refs: tuple[ActionItem, ...]) -> tuple[ActionSpec, ...]:
    """The actions of an action list (``assign`` and ``raise`` items are not actions)."""
    if not refs:
        return ()
    return tuple(
        ActionSpec(name=r) if isinstance(r, str) else r
        for r in refs
        if not isinstance(r, (AssignSpec, RaiseSpec))
    )


def _raised_events(refs: tuple[ActionItem, ...]) -> tuple[str, ...]:
    """The internal events an action list raises (its ``{raise: EVENT}`` items), in order."""
    return tuple(r.event for r in refs if isinstance(r, RaiseSpec))
