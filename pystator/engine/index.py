"""Compile a ``MachineDefinition`` into an immutable index the engine can query in O(1).

The index answers "which transitions may fire for this trigger in this state, in which order"
with one dictionary lookup per level. Selection order follows SCXML: the active state first,
then its ancestors; within one state, higher ``priority`` first, then document order. A
wildcard source (``"*"``) belongs to every non-terminal state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pystator.errors import ConfigIssue, ConfigurationError
from pystator.models.definition import (
    ActionSpec,
    GuardSpec,
    MachineDefinition,
    StateDefinition,
    TransitionDefinition,
)
from pystator.models.result import TransitionResult

ROOT = ""
"""The implicit top-level compound state that contains every top-level state."""

ExprFn = Callable[[Mapping[str, Any]], bool]


class CompiledGuard:
    """A guard reference resolved as far as the definition allows.

    ``name`` is the registry key of a named guard; ``expr`` is set for an inline expression.
    ``label`` is how results name the guard.
    """

    __slots__ = ("evaluate", "expr", "label", "name", "params")

    def __init__(
        self,
        name: str | None,
        params: Mapping[str, Any] | None,
        expr: str | None,
        evaluate: ExprFn | None,
    ) -> None:
        self.name = name
        self.params = params
        self.expr = expr
        self.evaluate = evaluate
        self.label = name if name is not None else f"expr: {expr}"


class Candidate:
    """One transition that may fire from one active state; its result is built once."""

    __slots__ = ("guards", "index", "result", "source", "state", "transition")

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
        # Built on first use by ``engine.step.accept``: a successful result depends only on the
        # active state and the transition, so one immutable object serves every call.
        self.result: TransitionResult | None = None


@dataclass(frozen=True, slots=True)
class StateNode:
    """A state with everything the engine needs precomputed."""

    name: str
    type: str
    parent: str
    """Name of the parent, ``ROOT`` for a top-level state."""
    children: tuple[str, ...]
    ancestors: tuple[str, ...]
    """Proper ancestors, innermost first, ``ROOT`` excluded."""
    on_enter: tuple[ActionSpec, ...]
    on_exit: tuple[ActionSpec, ...]
    initial_child: str | None
    definition: StateDefinition

    @property
    def is_compound(self) -> bool:
        return bool(self.children)

    @property
    def is_final(self) -> bool:
        """A top-level terminal state: the entity is done, no event applies."""
        return self.type == "terminal" and self.parent == ROOT


@dataclass(slots=True)
class MachineIndex:
    """The compiled, read-only form of a definition (caches fill in on use)."""

    definition: MachineDefinition
    states: dict[str, StateNode]
    initial_state: str
    """The leaf the machine starts in."""
    initial_path: tuple[str, ...]
    """States entered to reach ``initial_state``, outermost first."""
    triggers: frozenset[str]
    table: dict[str, dict[str, tuple[Candidate, ...]]]
    """active state -> trigger -> candidates in selection order."""
    strict: bool
    allowed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """active state -> triggers with at least one candidate, in document order."""


def _action_specs(refs: tuple[str | ActionSpec, ...]) -> tuple[ActionSpec, ...]:
    return tuple(ActionSpec(name=r) if isinstance(r, str) else r for r in refs)


def compile_guard(
    ref: str | GuardSpec, compile_expr: Callable[[str], ExprFn] | None
) -> CompiledGuard:
    """Resolve one guard reference; an ``expr`` is compiled once, here."""
    if isinstance(ref, str):
        return CompiledGuard(ref, None, None, None)
    if ref.expr is not None:
        if compile_expr is None:
            raise ValueError("inline expressions need an expression compiler")
        return CompiledGuard(None, None, ref.expr, compile_expr(ref.expr))
    return CompiledGuard(ref.name, ref.params or None, None, None)


def _default_initial_child(node_def: StateDefinition, kids: list[StateDefinition]) -> str:
    if node_def.initial_child is not None:
        return node_def.initial_child
    for kid in kids:
        if kid.type == "initial":
            return kid.name
    # SCXML: without an explicit initial, the first child in document order is entered.
    return kids[0].name


def default_entry(states: Mapping[str, StateNode], name: str) -> tuple[str, ...]:
    """States entered below ``name`` (excluded) when it is entered by default, outermost first."""
    path: list[str] = []
    node = states[name]
    while node.initial_child is not None:
        path.append(node.initial_child)
        node = states[node.initial_child]
    return tuple(path)


def compile_machine(
    definition: MachineDefinition,
    *,
    compile_expr: Callable[[str], ExprFn] | None = None,
) -> MachineIndex:
    """Build the index of an already validated definition."""
    by_name = {s.name: s for s in definition.states}
    kids: dict[str, list[StateDefinition]] = {}
    for s in definition.states:
        kids.setdefault(s.parent or ROOT, []).append(s)

    states: dict[str, StateNode] = {}
    for s in definition.states:
        ancestors: list[str] = []
        current = s.parent
        while current is not None:
            ancestors.append(current)
            current = by_name[current].parent
        children = kids.get(s.name, [])
        states[s.name] = StateNode(
            name=s.name,
            type=s.type,
            parent=s.parent or ROOT,
            children=tuple(c.name for c in children),
            ancestors=tuple(ancestors),
            on_enter=_action_specs(s.on_enter),
            on_exit=_action_specs(s.on_exit),
            initial_child=_default_initial_child(s, children) if children else None,
            definition=s,
        )

    top = kids[ROOT]
    top_initial = next((s.name for s in top if s.type == "initial"), top[0].name)
    initial_path = (top_initial, *default_entry(states, top_initial))

    # Own transitions of each state, sorted by priority (stable sort keeps document order).
    own: dict[str, dict[str, list[tuple[int, TransitionDefinition]]]] = {}
    wildcard_sources = [n for n, node in states.items() if node.type != "terminal"]
    triggers: set[str] = set()
    guard_cache: dict[int, tuple[CompiledGuard, ...]] = {}
    issues: list[ConfigIssue] = []
    for i, t in enumerate(definition.transitions):
        triggers.add(t.trigger)
        try:
            guard_cache[i] = tuple(compile_guard(g, compile_expr) for g in t.guards)
        except ConfigurationError as exc:
            issues.extend(
                ConfigIssue(f"transitions[{i}].guards{('.' + x.path) if x.path else ''}", x.message)
                for x in exc.issues
            )
            continue
        except ValueError as exc:
            issues.append(ConfigIssue(f"transitions[{i}].guards", str(exc)))
            continue
        sources = wildcard_sources if t.source == "*" else t.sources
        for source in sources:
            own.setdefault(source, {}).setdefault(t.trigger, []).append((i, t))
    if issues:
        raise ConfigurationError(issues)
    for per_trigger in own.values():
        for entries in per_trigger.values():
            if len(entries) > 1:
                entries.sort(key=lambda e: -e[1].priority)

    table: dict[str, dict[str, tuple[Candidate, ...]]] = {}
    allowed: dict[str, tuple[str, ...]] = {}
    for name, node in states.items():
        if node.is_final:
            continue
        merged: dict[str, list[Candidate]] = {}
        seen: set[int] = set()
        for level in (name, *node.ancestors):
            for trigger, entries in own.get(level, {}).items():
                bucket = merged.setdefault(trigger, [])
                for i, t in entries:
                    # A transition listed at several levels ("*", or a source list naming a
                    # state and its ancestor) is selected once, at the innermost level.
                    if i in seen:
                        continue
                    seen.add(i)
                    bucket.append(Candidate(name, level, t, i, guard_cache[i]))
        if merged:
            table[name] = {k: tuple(v) for k, v in merged.items()}
            allowed[name] = tuple(
                sorted(merged, key=lambda trig: min(c.index for c in merged[trig]))
            )
        else:
            allowed[name] = ()

    return MachineIndex(
        definition=definition,
        states=states,
        initial_state=initial_path[-1],
        initial_path=initial_path,
        triggers=frozenset(triggers),
        table=table,
        strict=definition.meta.strict_mode,
        allowed=allowed,
    )
