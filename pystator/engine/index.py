"""Compile a ``MachineDefinition`` into an immutable index the engine can query in O(1).

``MachineIndex`` is frozen: its fields are what ``build_index`` compiled. What the engine
fills in on use (a state's candidate table, results built once) lives in its
``IndexCaches`` (``engine.caches``), reached as ``index.caches``.

The index answers "which transitions may fire for this trigger in this state, in which order"
with one dictionary lookup per level. Selection order follows SCXML: the active state first,
then its ancestors; within one state, higher ``priority`` first, then document order. A
wildcard source (``"*"``) belongs to every non-terminal state.

Regions of parallel states become compound nodes of the tree (SCXML's children of
``<parallel>``), so every algorithm sees one uniform tree rooted at ``ROOT``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pystator.engine.caches import IndexCaches
from pystator.engine.datamodel import CompiledAssign, ValueFn
from pystator.errors import ConfigIssue, ConfigurationError
from pystator.models.definition import (
    ActionItem,
    ActionSpec,
    AssignSpec,
    GuardSpec,
    MachineDefinition,
    RaiseSpec,
    StateDefinition,
    TransitionDefinition,
    duration_ms,
)
from pystator.models.result import TimerSpec, TransitionResult
from pystator.models.tree import flatten

ROOT = ""
"""The implicit top-level compound state that contains every top-level state."""

AUTO = ""
"""Table key of eventless (``auto``) transitions; no trigger can be empty."""

ExprFn = Callable[[Mapping[str, Any]], bool]
WhyNotFn = Callable[[Mapping[str, Any]], str | None]


class CompiledGuard:
    """A guard reference resolved as far as the definition allows.

    ``name`` is the registry key of a named guard; ``evaluate`` is set for an inline
    expression. ``label`` is how results name the guard. ``why_not``, set by
    ``compile_guard`` for an expression, answers in one call whether the guard holds
    (``None``) or why not, so a rejection needs no second evaluation for its detail.
    """

    __slots__ = ("evaluate", "expr", "label", "name", "params", "why_not")

    def __init__(
        self,
        name: str | None,
        params: Mapping[str, Any] | None,
        expr: str | None,
        evaluate: ExprFn | None,
        why_not: WhyNotFn | None = None,
    ) -> None:
        self.name = name
        self.params = params
        self.expr = expr
        self.evaluate = evaluate
        self.label = name if name is not None else f"expr: {expr}"
        self.why_not = why_not


class Rejection:
    """A guard outcome that is false and says why (e.g. the context key that is missing).

    Drivers send it back to the engine instead of ``False`` when they know more.
    """

    __slots__ = ("detail",)

    def __init__(self, detail: str) -> None:
        self.detail = detail

    def __bool__(self) -> bool:
        return False


class Candidate:
    """One transition that may fire from one active state; its result is built once.

    The candidates of a state are made on its first event and kept in ``IndexCaches.table``,
    so the memos below (``result``, ``assigns``, ``carried``) are part of that cache. They
    stay slots of the candidate: a dictionary keyed by candidate would add a lookup to the
    fast path (rows 1 to 3).
    """

    __slots__ = (
        "assigns",
        "carried",
        "guards",
        "index",
        "result",
        "source",
        "state",
        "transition",
    )

    def __init__(
        self,
        state: str,
        source: str,
        transition: TransitionDefinition,
        index: int,
        guards: tuple[CompiledGuard, ...],
    ) -> None:
        self.state = state
        self.source = source
        self.transition = transition
        self.index = index
        self.guards = guards
        # Built on first use by ``engine.step.accept``: in a machine without eventless,
        # done or history transitions a successful result depends only on the active state
        # and the transition, so one immutable object serves every call.
        self.result: TransitionResult | None = None
        # Set with ``result``: the assign items of that one microstep, in SCXML order.
        self.assigns: tuple[CompiledAssign, ...] = ()
        # The last copy of ``result`` that carried a call's context (the driver's, see
        # ``runtime.machine``): a session sends with one context object until an event
        # changes it, so that copy serves its next calls.
        self.carried: TransitionResult | None = None


@dataclass(slots=True)
class StateNode:
    """A state (or region) with everything the engine needs precomputed (read-only by
    convention: not frozen, because a frozen dataclass is several times slower to build and a
    large machine builds thousands)."""

    name: str
    kind: str
    """``atomic``, ``compound``, ``parallel``, ``region`` or ``history``."""
    type: str
    """The definition's type (``initial``, ``stable``, ``terminal``, ...); ``region``."""
    parent: str
    """Name of the parent, ``ROOT`` for a top-level state."""
    children: tuple[str, ...]
    """Real children (history pseudo-states excluded), in document order."""
    history_children: tuple[str, ...]
    ancestors: tuple[str, ...]
    """Proper ancestors, innermost first, ``ROOT`` excluded."""
    order: int
    """Position in document order (parents before children)."""
    on_enter: tuple[ActionSpec, ...]
    on_exit: tuple[ActionSpec, ...]
    initial_child: str | None
    in_parallel: bool
    """Some ancestor is a parallel state: the state is never a configuration on its own."""
    timers: tuple[TimerSpec, ...]
    """Timers armed when the state is entered."""
    deep: bool = False
    """History pseudo-states: deep (leaves) rather than shallow (children)."""
    default: str | None = None
    """History pseudo-states: where to go without memory."""
    definition: StateDefinition | None = None
    enter_assigns: tuple[CompiledAssign, ...] = ()
    """``{assign: ...}`` items of ``on_enter``, in order."""
    exit_assigns: tuple[CompiledAssign, ...] = ()
    """``{assign: ...}`` items of ``on_exit``, in order."""
    enter_raises: tuple[str, ...] = ()
    """Internal events raised by ``on_enter`` (``{raise: EVENT}`` items), in order."""
    exit_raises: tuple[str, ...] = ()
    """Internal events raised by ``on_exit``, in order."""
    fallback: tuple[str, ...] = ()
    """History pseudo-states: what is entered while there is no memory (SCXML's default
    history transition): ``default``, else the parent's initial child (through it when it is
    another history), else (the history is that initial child) the child of type ``initial``
    or the first real child; in a parallel state, every region. Never a history state."""

    @property
    def is_compound(self) -> bool:
        return bool(self.children)

    @property
    def is_terminal(self) -> bool:
        return self.type == "terminal"

    @property
    def is_final(self) -> bool:
        """A top-level terminal state: the entity is done, no event applies."""
        return self.type == "terminal" and self.parent == ROOT


@dataclass(frozen=True, slots=True)
class MachineIndex:
    """The compiled form of a definition; never changes once built.

    Its dictionaries are read-only by convention (a ``MappingProxyType`` lookup is slower,
    and ``states.get`` is on the hot paths). What the engine fills in on use is in
    ``caches``: ``dataclasses.replace`` makes an index that shares them.
    """

    definition: MachineDefinition
    states: dict[str, StateNode]
    initial_top: str
    """The top-level state the machine starts in."""
    initial_state: str
    """The configuration a new entity starts in (before eventless steps); resolved from
    ``initial_top`` by ``engine.step.compile_machine``."""
    triggers: frozenset[str]
    timer_triggers: frozenset[str]
    timer_table: dict[str, Candidate]
    """timer key -> the delayed transition it fires."""
    strict: bool
    simple: bool
    """No eventless, done or history transitions: a step is one microstep, results cacheable."""
    has_history: bool
    has_auto: bool
    own: dict[str, list[int]] = field(default_factory=dict)
    """state -> indexes of its own transitions (not delayed ones), in document order; grouped
    by trigger and sorted by priority in ``state_table``, on the state's first event."""
    guards: dict[int, tuple[CompiledGuard, ...]] = field(default_factory=dict)
    """transition index -> its compiled guards (absent: the transition has none)."""
    assigns: dict[int, tuple[CompiledAssign, ...]] = field(default_factory=dict)
    """transition index -> its compiled assign items (``assign:`` first, then the
    ``{assign: ...}`` items of its actions); absent: the transition assigns nothing."""
    has_assign: bool = False
    """Some transition or state assigns: results carry a context computed per call."""
    raises: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """transition index -> the internal events its actions raise, in order."""
    has_raise: bool = False
    """Some transition or state raises internal events (SCXML's ``<raise>``)."""
    caches: IndexCaches = field(default_factory=IndexCaches)
    """What the engine fills in on use (``engine.caches``)."""


def _action_specs(refs: tuple[ActionItem, ...]) -> tuple[ActionSpec, ...]:
    """The actions of an action list (``assign`` and ``raise`` items are not actions)."""
    if not refs:
        return ()
    return tuple(
        ActionSpec(name=r) if isinstance(r, str) else r
        for r in refs
        if not isinstance(r, (AssignSpec, RaiseSpec))
    )


def raised_events(refs: tuple[ActionItem, ...]) -> tuple[str, ...]:
    """The internal events an action list raises (its ``{raise: EVENT}`` items), in order."""
    return tuple(r.event for r in refs if isinstance(r, RaiseSpec))


def _compile_assign(
    path: str,
    assign: Mapping[str, str],
    compile_value: Callable[[str], ValueFn] | None,
    issues: list[ConfigIssue],
) -> CompiledAssign | None:
    """Compile one ``{field: expression}`` mapping declared at ``path``; ``None`` after
    adding its problems to ``issues``."""
    items: list[tuple[str, ValueFn, str]] = []
    for name, source in assign.items():
        if compile_value is None:
            issues.append(ConfigIssue(f"{path}.{name}", "assign needs an expression compiler"))
            continue
        try:
            items.append((name, compile_value(source), source))
        except ConfigurationError as exc:
            issues.extend(
                ConfigIssue(f"{path}.{name}{('.' + x.path) if x.path else ''}", x.message)
                for x in exc.issues
            )
    if len(items) != len(assign):
        return None
    return CompiledAssign(path, tuple(items))


def _action_assigns(
    path: str,
    refs: tuple[ActionItem, ...],
    compile_value: Callable[[str], ValueFn] | None,
    issues: list[ConfigIssue],
) -> tuple[CompiledAssign, ...]:
    """The compiled ``{assign: ...}`` items of an action list written at ``path``."""
    out: list[CompiledAssign] = []
    for j, ref in enumerate(refs):
        if isinstance(ref, AssignSpec):
            compiled = _compile_assign(f"{path}[{j}].assign", ref.assign, compile_value, issues)
            if compiled is not None:
                out.append(compiled)
    return tuple(out)


def _transition_assigns(
    i: int,
    t: TransitionDefinition,
    compile_value: Callable[[str], ValueFn] | None,
    issues: list[ConfigIssue],
) -> tuple[CompiledAssign, ...]:
    """Transition ``i``'s assign items: its ``assign:`` first, then those of its actions."""
    out: list[CompiledAssign] = []
    if t.assign:
        compiled = _compile_assign(f"transitions[{i}].assign", t.assign, compile_value, issues)
        if compiled is not None:
            out.append(compiled)
    out.extend(_action_assigns(f"transitions[{i}].actions", t.actions, compile_value, issues))
    return tuple(out)


def compile_guard(
    ref: str | GuardSpec, compile_expr: Callable[[str], ExprFn] | None
) -> CompiledGuard:
    """Resolve one guard reference; an ``expr`` is compiled once, here."""
    if isinstance(ref, str):
        return CompiledGuard(ref, None, None, None)
    if ref.expr is not None:
        if compile_expr is None:
            raise ValueError("inline expressions need an expression compiler")
        evaluate = compile_expr(ref.expr)
        return CompiledGuard(None, None, ref.expr, evaluate, _why_not_of(evaluate))
    return CompiledGuard(ref.name, ref.params or None, None, None)


def _why_not_of(evaluate: ExprFn) -> WhyNotFn | None:
    """One function saying whether an ``expr`` guard holds (``None``) and, if not, why.

    The expression language's ``explain`` is that function when a missing context key makes
    the guard false; with ``on_missing="error"`` the guard must raise instead, so it is
    evaluated first and explained only when it says no. ``None`` for an expression compiled
    without ``explain``.
    """
    explain = getattr(evaluate, "explain", None)
    if explain is None:
        return None
    if getattr(evaluate, "on_missing", None) == "false":
        return explain  # type: ignore[no-any-return]
    return lambda ctx: None if evaluate(ctx) else explain(ctx)


def _compile_guards(
    i: int,
    t: TransitionDefinition,
    compile_expr: Callable[[str], ExprFn] | None,
    issues: list[ConfigIssue],
) -> tuple[CompiledGuard, ...] | None:
    """The compiled guards of transition ``i``; ``None`` after adding its problems to
    ``issues``."""
    guards: list[CompiledGuard] = []
    failed = False
    for j, ref in enumerate(t.guards):
        where = f"transitions[{i}].guards[{j}]"
        try:
            guards.append(compile_guard(ref, compile_expr))
        except ConfigurationError as exc:
            # The compiler reports the expression; the path says which guard it is.
            issues.extend(
                ConfigIssue(f"{where}.expr{('.' + x.path) if x.path else ''}", x.message)
                for x in exc.issues
            )
            failed = True
        except ValueError as exc:
            issues.append(ConfigIssue(where, str(exc)))
            failed = True
    return None if failed else tuple(guards)


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


def timer_trigger(transition: TransitionDefinition, index: int) -> str:
    """The event a delayed transition's timer sends: its trigger, or ``after:<index>``."""
    return transition.trigger if transition.trigger is not None else f"after:{index}"


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
    kids: dict[str, list[str]] = {}
    for node in nodes:
        kids.setdefault(node.parent or ROOT, []).append(node.name)
    by_name = {n.name: n for n in nodes}
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

    order = _document_order(kids)

    # One pass over the transitions: guards compiled, delayed transitions become timers of
    # their source states, the others are listed by source state ("own" transitions; grouped
    # by trigger in ``state_table``).
    timers: dict[str, list[TimerSpec]] = {}
    timer_transitions: dict[str, tuple[int, TransitionDefinition]] = {}
    own: dict[str, list[int]] = {}
    wildcard_sources: list[str] | None = None
    triggers: set[str] = set()
    guard_cache: dict[int, tuple[CompiledGuard, ...]] = {}
    assign_cache: dict[int, tuple[CompiledAssign, ...]] = {}
    raise_cache: dict[int, tuple[str, ...]] = {}
    issues: list[ConfigIssue] = []
    has_auto = False
    for i, t in enumerate(definition.transitions):
        fields = t.__dict__  # faster than attribute lookup on a model, for thousands of them
        if fields["guards"]:
            compiled = _compile_guards(i, t, compile_expr, issues)
            if compiled is None:
                continue
            guard_cache[i] = compiled
        if fields["assign"] or fields["actions"]:
            assigns = _transition_assigns(i, t, compile_value, issues)
            if assigns:
                assign_cache[i] = assigns
            raised = raised_events(t.actions)
            if raised:
                raise_cache[i] = raised
        after = fields["after"]
        if after is not None:
            for source in t.sources:
                key = f"{source}:after:{i}"
                timers.setdefault(source, []).append(
                    TimerSpec(
                        key=key,
                        state=source,
                        trigger=timer_trigger(t, i),
                        delay_ms=duration_ms(after),
                    )
                )
                timer_transitions[key] = (i, t)
            continue
        if fields["auto"]:
            event_key = AUTO
            has_auto = True
        else:
            event_key = fields["trigger"]
            triggers.add(event_key)
        source_field = fields["source"]
        if type(source_field) is str and source_field != "*":
            listed = own.get(source_field)
            if listed is None:
                own[source_field] = [i]
            else:
                listed.append(i)
            continue
        if source_field == "*" and wildcard_sources is None:
            wildcard_sources = [
                n.name
                for n in nodes
                if kinds[n.name] != "history" and (n.state is None or n.state.type != "terminal")
            ]
        for source in wildcard_sources if source_field == "*" else t.sources:  # type: ignore[union-attr]
            own.setdefault(source, []).append(i)
    has_done = any(trigger.startswith("done.state.") for trigger in triggers)
    # Problems found so far are raised after the states' (every problem, one error).

    timeout_transitions: dict[str, TransitionDefinition] = {}
    for tree_node in nodes:
        if tree_node.state is not None and tree_node.state.timeout is not None:
            key = f"{tree_node.name}:timeout"
            spec = tree_node.state.timeout
            timers.setdefault(tree_node.name, []).append(
                TimerSpec(
                    key=key,
                    state=tree_node.name,
                    trigger=f"timeout:{tree_node.name}",
                    delay_ms=round(spec.seconds * 1000),
                )
            )
            timeout_transitions[key] = TransitionDefinition(
                trigger=None,
                after=round(spec.seconds * 1000),
                source=tree_node.name,
                dest=spec.destination,
                description=f"timeout of {tree_node.name}",
            )

    # Parents before children (tree order): the ancestors of a state are its parent followed
    # by the parent's ancestors, one tuple built in C per compound state (no Python loop per
    # level of a deep chain), shared by all its children.
    above: dict[str, tuple[str, ...]] = {ROOT: ()}
    in_parallel_below: dict[str, bool] = {ROOT: False}
    for name in order:
        parent = by_name[name].parent or ROOT
        if name in kids:
            above[name] = (name, *above[parent]) if parent != ROOT else (name,)
            in_parallel_below[name] = in_parallel_below[parent] or kinds[name] == "parallel"
    states: dict[str, StateNode] = {}
    state_assigns = False
    state_raises = False
    for tree_node in nodes:
        name = tree_node.name
        parent = tree_node.parent or ROOT
        ancestors = above[parent]
        kind = kinds[name]
        below = kids.get(name)
        children: tuple[str, ...] = ()
        history_children: tuple[str, ...] = ()
        initial_child: str | None = None
        if below is not None:
            children = tuple(c for c in below if kinds[c] != "history")
            history_children = tuple(c for c in below if kinds[c] == "history")
            if (kind == "compound" or kind == "region") and children:
                if tree_node.region is not None and tree_node.region.initial is not None:
                    initial_child = tree_node.region.initial
                elif tree_node.state is not None and tree_node.state.initial_child is not None:
                    initial_child = tree_node.state.initial_child
                else:
                    typed = [
                        c
                        for c in children
                        if by_name[c].state is not None and by_name[c].state.type == "initial"  # type: ignore[union-attr]
                    ]
                    # SCXML: without an explicit initial, the first child in document order.
                    initial_child = typed[0] if typed else children[0]
        state_def = tree_node.state
        timer_specs = timers.get(name)
        in_parallel = in_parallel_below[parent]
        enter_assigns: tuple[CompiledAssign, ...] = ()
        exit_assigns: tuple[CompiledAssign, ...] = ()
        enter_raises: tuple[str, ...] = ()
        exit_raises: tuple[str, ...] = ()
        if state_def is not None and (state_def.on_enter or state_def.on_exit):
            enter_assigns = _action_assigns(
                f"{tree_node.path}.on_enter", state_def.on_enter, compile_value, issues
            )
            exit_assigns = _action_assigns(
                f"{tree_node.path}.on_exit", state_def.on_exit, compile_value, issues
            )
            state_assigns = state_assigns or bool(enter_assigns or exit_assigns)
            enter_raises = raised_events(state_def.on_enter)
            exit_raises = raised_events(state_def.on_exit)
            state_raises = state_raises or bool(enter_raises or exit_raises)
        states[name] = StateNode(
            name=name,
            kind=kind,
            type="region" if state_def is None else state_def.type,
            parent=tree_node.parent or ROOT,
            children=children,
            history_children=history_children,
            ancestors=ancestors,
            order=order[name],
            on_enter=_action_specs(state_def.on_enter) if state_def else (),
            on_exit=_action_specs(state_def.on_exit) if state_def else (),
            initial_child=initial_child,
            in_parallel=in_parallel,
            timers=tuple(timer_specs) if timer_specs else (),
            deep=state_def is not None and state_def.history == "deep",
            default=state_def.default if state_def is not None else None,
            definition=state_def,
            enter_assigns=enter_assigns,
            exit_assigns=exit_assigns,
            enter_raises=enter_raises,
            exit_raises=exit_raises,
        )
    if issues:
        raise ConfigurationError(issues)

    top = [n for n in kids[ROOT] if kinds[n] != "history"]
    meta_initial = definition.meta.initial
    initial_top: str = meta_initial or next(
        (n for n in top if by_name[n].state is not None and by_name[n].state.type == "initial"),  # type: ignore[union-attr]
        top[0],
    )

    has_history = False
    for state_node in states.values():
        if state_node.kind == "history":
            has_history = True
            state_node.fallback = history_fallback(states, state_node)
    has_raise = bool(raise_cache) or state_raises
    simple = not (has_auto or has_done or has_history or has_raise)

    timer_table: dict[str, Candidate] = {}
    for key, (i, t) in timer_transitions.items():
        source = key.split(":", 1)[0]
        timer_table[key] = Candidate(source, source, t, i, guard_cache.get(i, ()))
    for key, t in timeout_transitions.items():
        source = key.split(":", 1)[0]
        timer_table[key] = Candidate(source, source, t, -1, ())

    return MachineIndex(
        definition=definition,
        states=states,
        initial_top=initial_top,
        initial_state=initial_top,  # resolved to a full configuration by engine.step
        triggers=frozenset(triggers),
        timer_triggers=frozenset(spec.trigger for specs in timers.values() for spec in specs),
        timer_table=timer_table,
        strict=definition.meta.strict_mode,
        simple=simple,
        has_history=has_history,
        has_auto=has_auto,
        own=own,
        guards=guard_cache,
        assigns=assign_cache,
        has_assign=bool(assign_cache) or state_assigns,
        raises=raise_cache,
        has_raise=has_raise,
    )


def history_fallback(states: Mapping[str, StateNode], node: StateNode) -> tuple[str, ...]:
    """What history pseudo-state ``node`` enters without memory (see ``StateNode.fallback``)."""
    if node.default is not None:
        return (node.default,)
    parent = states[node.parent]
    if parent.kind == "parallel":
        return parent.children
    initial = parent.initial_child
    if initial is not None and initial != node.name:
        if states[initial].kind == "history":
            # The parent starts through its other history H1: this one's default transition
            # targets H1, which remembers nothing either (both record when the parent is
            # left), so it stands for H1's own fallback (SCXML's getEffectiveTargetStates).
            return history_fallback(states, states[initial])
        return (initial,)
    real = parent.children
    typed = [c for c in real if states[c].type == "initial"]
    return (typed[0] if typed else real[0],)


def state_table(index: MachineIndex, name: str) -> dict[str, tuple[Candidate, ...]] | None:
    """trigger -> candidates of state ``name``, built on first use (``None``: no such state).

    Built lazily so that loading a machine of thousands of states costs only what it uses:
    the state's own transitions, then its ancestors', each level sorted by priority. Kept in
    ``index.caches`` (``table``, ``allowed`` and, for a plain state, ``fast_table``).
    """
    caches = index.caches
    table = caches.table.get(name)
    if table is not None:
        return table
    state_node = index.states.get(name)
    if state_node is None:
        return None
    merged: dict[str, list[Candidate]] = {}
    if not (state_node.is_final or state_node.kind == "history"):
        transitions = index.definition.transitions
        seen: set[int] = set()
        for level in (name, *state_node.ancestors):
            listed = index.own.get(level)
            if not listed:
                continue
            # This level's transitions by trigger, each group by priority (a stable sort:
            # document order among equals); inner levels come first.
            by_trigger: dict[str, list[int]] = {}
            for i in listed:
                t = transitions[i]
                by_trigger.setdefault(AUTO if t.auto else t.trigger, []).append(i)  # type: ignore[arg-type]
            for trigger, indexes in by_trigger.items():
                if len(indexes) > 1:
                    indexes.sort(key=lambda i: -transitions[i].priority)
                bucket = merged.setdefault(trigger, [])
                for i in indexes:
                    # A transition listed at several levels ("*", or a source list naming a
                    # state and its ancestor) is selected once, at the innermost level.
                    if i in seen:
                        continue
                    seen.add(i)
                    bucket.append(
                        Candidate(name, level, transitions[i], i, index.guards.get(i, ()))
                    )
    table = {k: tuple(v) for k, v in merged.items() if v}
    caches.allowed[name] = tuple(
        sorted(
            (k for k in table if k != AUTO and not k.startswith("done.state.")),
            key=lambda trig: min(c.index for c in table[trig]),
        )
    )
    caches.table[name] = table
    if index.simple and not state_node.in_parallel and state_node.kind != "parallel":
        # A plain state of a machine whose results can be built once: the fast path.
        caches.fast_table[name] = table
    return table


def allowed_of(index: MachineIndex, name: str) -> tuple[str, ...]:
    """Triggers with at least one candidate from state ``name``, in document order."""
    allowed = index.caches.allowed.get(name)
    if allowed is None:
        state_table(index, name)
        allowed = index.caches.allowed.get(name, ())
    return allowed
