"""Turn selected transitions into a ``TransitionResult``; never runs anything.

The engine is one algorithm with two entry points:

* ``accept`` builds the result of one candidate fired from one plain state, once, and the
  candidate keeps it (the fast path of ``StateMachine.process``);
* ``macrostep`` is a generator that selects transitions for every active leaf, yielding each
  guard it needs and receiving its outcome, then runs microsteps (SCXML's exit set, history
  recording, entry set with default entry and parallel regions), eventless transitions and
  done events until the configuration is stable. The sync and async drivers in
  ``pystator.runtime.machine`` answer the yielded guards; that is their only difference.

Everything here is pure and deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from types import MappingProxyType
from typing import Any

from pystator.engine.config import Configuration, active_of, parse, serialize
from pystator.engine.expr import compile_expression
from pystator.engine.index import (
    AUTO,
    ROOT,
    Candidate,
    CompiledGuard,
    ExprFn,
    MachineIndex,
    build_index,
)
from pystator.errors import (
    ContextValidationError,
    FSMError,
    GuardRejectedError,
    InvalidTransitionError,
    LoopLimitError,
    TerminalStateError,
    UndefinedStateError,
    UndefinedTriggerError,
)
from pystator.models.checks import suggest
from pystator.models.definition import ActionSpec, MachineDefinition
from pystator.models.result import TimerSpec, TransitionResult

MAX_MICROSTEPS = 100
"""Eventless and done transitions taken after one event, at most (stops cycles)."""

History = Mapping[str, tuple[str, ...]]
GuardStep = Generator[CompiledGuard, bool, TransitionResult]


def compile_machine(
    definition: MachineDefinition,
    *,
    compile_expr: Callable[[str], ExprFn] | None = compile_expression,
) -> MachineIndex:
    """Compile a validated definition into the engine's index.

    ``expr`` guards are compiled once, here, by ``compile_expr`` (the safe expression language
    of ``engine.expr`` by default; ``None`` refuses them).
    """
    index = build_index(definition, compile_expr=compile_expr)
    leaves = _entry_leaves(index, (), [], None)[0]
    index.initial_state = serialize(index, leaves)
    return index


# ---------------------------------------------------------------------------- microsteps
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


def _domain(index: MachineIndex, source: str, dest: str, internal: bool) -> str:
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


def _moves(candidate: Candidate) -> bool:
    t = candidate.transition
    return t.dest is not None and not (t.internal and t.dest == candidate.source)


def _exit_set(
    index: MachineIndex, active: frozenset[str], candidate: Candidate
) -> tuple[str, frozenset[str]]:
    t = candidate.transition
    assert t.dest is not None
    domain = _domain(index, candidate.source, t.dest, t.internal)
    states = index.states
    if domain == ROOT:
        return domain, active
    return domain, frozenset(s for s in active if domain in states[s].ancestors)


def _entry_leaves(
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
    exit_set: set[str] = set()
    targets: list[tuple[str, str]] = []
    for cand in selected:
        if not _moves(cand):
            continue
        domain, exits = _exit_set(index, active, cand)
        exit_set |= exits
        assert cand.transition.dest is not None
        targets.append((cand.transition.dest, domain))
    exited = tuple(sorted(exit_set, key=lambda n: states[n].order, reverse=True))

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

    remaining = frozenset(active - exit_set)
    if targets:
        new_leaves, entered = _entry_leaves(index, remaining, targets, step.history)
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
    step.done_events = _done_events(index, entered, new_leaves)
    return step


def _done_events(
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
            if all(_in_final(index, region, active) for region in states[grand].children):
                events.append(f"done.state.{grand}")
    return tuple(dict.fromkeys(events))


def _in_final(index: MachineIndex, name: str, active: frozenset[str]) -> bool:
    node = index.states[name]
    if node.kind == "parallel":
        return all(_in_final(index, r, active) for r in node.children)
    return any(c in active and index.states[c].is_terminal for c in node.children)


def _timers(
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


# ---------------------------------------------------------------------------- fast path
def accept(index: MachineIndex, candidate: Candidate) -> TransitionResult:
    """The result of ``candidate`` firing from its plain state; built once, then shared."""
    result = candidate.result
    if result is not None:
        return result
    step = microstep(index, (candidate.state,), [candidate], None)
    before = active_of(index.states, (candidate.state,))
    arm, cancel = _timers(
        index, before, active_of(index.states, step.leaves), set(step.exited), set(step.entered)
    )
    result = TransitionResult(
        success=True,
        source_state=candidate.state,
        target_state=serialize(index, step.leaves) if step.entered else candidate.state,
        trigger=_trigger_label(candidate),
        on_exit_actions=step.exit_actions,
        actions_to_execute=step.transition_actions,
        on_enter_actions=step.enter_actions,
        exited_states=step.exited,
        entered_states=step.entered,
        timers_to_arm=arm,
        timers_to_cancel=cancel,
    )
    candidate.result = result
    return result


def _trigger_label(candidate: Candidate) -> str:
    t = candidate.transition
    if t.trigger is not None:
        return t.trigger
    if t.auto:
        return "auto"
    return f"after:{candidate.index}" if candidate.index >= 0 else f"timeout:{candidate.source}"


# ---------------------------------------------------------------------------- failures
def reject(
    index: MachineIndex, state: str, trigger: str, guard: CompiledGuard, tried: int
) -> TransitionResult:
    """Every candidate had a guard that said no; ``guard`` is the first candidate's."""
    message = f"guard '{guard.label}' rejected trigger '{trigger}' in state '{state}'"
    if tried > 1:
        message += f" (and {tried - 1} other candidate transition(s) were rejected too)"
    error = GuardRejectedError(message, guard_name=guard.label, current_state=state)
    return _failure(
        state,
        trigger,
        error,
        {"reason": "guard_rejected", "guard_name": guard.label, "candidates": tried},
    )


def context_invalid(state: str, trigger: str, errors: list[str]) -> TransitionResult:
    """The context broke the machine's contract: nothing else was evaluated."""
    message = f"context is invalid for trigger '{trigger}' in state '{state}': " + "; ".join(errors)
    error = ContextValidationError(message, errors=errors)
    return _failure(state, trigger, error, {"reason": "context_validation", "errors": errors})


def undefined_state(index: MachineIndex, state: str) -> UndefinedStateError:
    node = index.states.get(state)
    machine = index.definition.meta.machine_name
    if node is not None and (node.in_parallel or node.kind == "parallel"):
        outer = next(
            (a for a in reversed(node.ancestors) if index.states[a].kind == "parallel"), state
        )
        example = entry_configuration(index, outer)
        where = "is inside a parallel state" if node.in_parallel else "is a parallel state"
        return UndefinedStateError(
            f"state '{state}' {where} of machine '{machine}': pass the whole configuration, "
            f"e.g. '{example}'"
        )
    return UndefinedStateError(
        f"state '{state}' is not defined in machine '{machine}'{suggest(state, index.states)}"
    )


def configuration(index: MachineIndex, state: str) -> Configuration:
    """The parsed configuration of ``state``; raises ``UndefinedStateError``."""
    try:
        return parse(index, state)
    except UndefinedStateError:
        node = index.states.get(state)
        if node is None or node.in_parallel or node.kind == "parallel":
            raise undefined_state(index, state) from None
        raise


def no_transition(
    index: MachineIndex, state: str, trigger: str, config: Configuration | None = None
) -> TransitionResult:
    """No candidate at all: terminal, undefined trigger or not from here (strict or lenient).

    Raises ``UndefinedStateError`` when ``state`` is not a legal configuration.
    """
    if config is None:
        config = configuration(index, state)
    states = index.states
    if any(states[leaf].is_final for leaf in config.leaves):
        return _failure(
            state,
            trigger,
            TerminalStateError(f"state '{state}' is terminal: trigger '{trigger}' cannot leave it"),
            {"reason": "terminal_state"},
        )
    if trigger.startswith("done.state."):
        error: InvalidTransitionError = InvalidTransitionError(
            f"'{trigger}' is raised by the engine when a state completes; it cannot be sent",
            current_state=state,
            trigger=trigger,
        )
        return _failure(state, trigger, error, {"reason": "invalid_transition"})
    if trigger in index.timer_triggers and trigger not in index.triggers:
        error = InvalidTransitionError(
            f"'{trigger}' is the trigger of a delayed transition: it fires from its timer, "
            "not from process()",
            current_state=state,
            trigger=trigger,
        )
        return _failure(state, trigger, error, {"reason": "invalid_transition"})
    if not index.strict:
        return TransitionResult(
            success=True,
            source_state=state,
            target_state=config.text,
            trigger=trigger,
            metadata=MappingProxyType({"reason": "no_transition"}),
        )
    if trigger not in index.triggers:
        error = UndefinedTriggerError(
            f"trigger '{trigger}' is not defined in machine "
            f"'{index.definition.meta.machine_name}'{suggest(trigger, index.triggers)}",
            current_state=state,
            trigger=trigger,
        )
        return _failure(state, trigger, error, {"reason": "undefined_trigger"})
    allowed = allowed_triggers(index, config)
    error = InvalidTransitionError(
        f"trigger '{trigger}' is not allowed in state '{state}' (allowed: "
        f"{', '.join(allowed) if allowed else 'none'})",
        current_state=state,
        trigger=trigger,
    )
    return _failure(state, trigger, error, {"reason": "invalid_transition"})


def allowed_triggers(index: MachineIndex, config: Configuration) -> tuple[str, ...]:
    """Triggers with a candidate from some active leaf, in document order."""
    if len(config.leaves) == 1:
        return index.allowed.get(config.leaves[0], ())
    seen: dict[str, None] = {}
    for leaf in config.leaves:
        for trig in index.allowed.get(leaf, ()):
            seen.setdefault(trig)
    return tuple(seen)


def _failure(
    state: str, trigger: str, error: FSMError, metadata: dict[str, object]
) -> TransitionResult:
    return TransitionResult(
        success=False,
        source_state=state,
        target_state=None,
        trigger=trigger,
        error=error,
        metadata=MappingProxyType(metadata),
    )


# ---------------------------------------------------------------------------- macrosteps
def _select(
    index: MachineIndex, leaves: tuple[str, ...], key: str, outcomes: dict[int, bool]
) -> Generator[CompiledGuard, bool, tuple[list[Candidate], CompiledGuard | None, int]]:
    """Pick, for each active leaf, the first candidate for ``key`` whose guards pass."""
    table = index.table
    selected: list[Candidate] = []
    chosen: set[int] = set()
    first_no: CompiledGuard | None = None
    tried = 0
    for leaf in leaves:
        per_state = table.get(leaf)
        cands = per_state.get(key) if per_state is not None else None
        if not cands:
            continue
        for cand in cands:
            tried += 1
            if cand.index in chosen:
                break  # this leaf selects a transition another leaf already selected
            ok = outcomes.get(cand.index)
            if ok is None:
                ok = True
                for guard in cand.guards:
                    if not (yield guard):
                        ok = False
                        if first_no is None:
                            first_no = guard
                        break
                outcomes[cand.index] = ok
            if ok:
                selected.append(cand)
                chosen.add(cand.index)
                break
    return selected, first_no, tried


def _without_conflicts(
    index: MachineIndex, active: frozenset[str], selected: list[Candidate]
) -> list[Candidate]:
    """SCXML's removeConflictingTransitions: a descendant source preempts, else first wins."""
    if len(selected) < 2:
        return selected
    states = index.states
    exits = {
        id(c): (_exit_set(index, active, c)[1] if _moves(c) else frozenset()) for c in selected
    }
    kept: list[Candidate] = []
    for t1 in selected:
        preempted = False
        to_remove: list[Candidate] = []
        for t2 in kept:
            if exits[id(t1)] & exits[id(t2)]:
                if t2.source in states[t1.source].ancestors:
                    to_remove.append(t2)
                else:
                    preempted = True
                    break
        if not preempted:
            kept = [k for k in kept if k not in to_remove]
            kept.append(t1)
    return kept


def macrostep(
    index: MachineIndex,
    state: str,
    trigger: str,
    history: History | None,
    *,
    timer_key: str | None = None,
    config: Configuration | None = None,
) -> GuardStep:
    """Process ``trigger`` (or fire the timer ``timer_key``) until the configuration is stable.

    Yields every guard to evaluate and expects its outcome back; returns the result.
    """
    if config is None:
        config = configuration(index, state)
    states = index.states
    outcomes: dict[int, bool] = {}
    if timer_key is not None:
        cand = index.timer_table.get(timer_key)
        if cand is None or cand.source not in config.active:
            return _failure(
                state,
                trigger,
                InvalidTransitionError(
                    f"timer '{timer_key}' is not armed in state '{state}' (its state was left)",
                    current_state=state,
                    trigger=trigger,
                ),
                {"reason": "stale_timer"},
            )
        ok = True
        first_no: CompiledGuard | None = None
        for guard in cand.guards:
            if not (yield guard):
                ok, first_no = False, guard
                break
        if not ok:
            assert first_no is not None
            return reject(index, state, trigger, first_no, 1)
        selected = [cand]
    else:
        if any(states[leaf].is_final for leaf in config.leaves) or trigger.startswith(
            "done.state."
        ):
            return no_transition(index, state, trigger, config)
        selected, first_no, tried = yield from _select(index, config.leaves, trigger, outcomes)
        if not selected:
            if first_no is not None:
                return reject(index, state, trigger, first_no, tried)
            return no_transition(index, state, trigger, config)

    cache_key: tuple[Any, ...] | None = None
    if index.simple:
        cache_key = (config.text, timer_key or trigger, *(c.index for c in selected))
        cached = index.results.get(cache_key)
        if cached is not None:
            return cached

    selected = _without_conflicts(index, config.active, selected)
    steps = [microstep(index, config.leaves, selected, history)]
    queue = list(steps[0].done_events)
    while index.has_auto or queue:
        leaves = steps[-1].leaves
        memory = steps[-1].history
        nxt: list[Candidate] = []
        if index.has_auto:
            nxt, _, _ = yield from _select(index, leaves, AUTO, {})
        if not nxt:
            while queue and not nxt:
                event = queue.pop(0)
                nxt, _, _ = yield from _select(index, leaves, event, {})
        if not nxt:
            break
        if len(steps) >= MAX_MICROSTEPS:
            return _failure(
                state,
                trigger,
                LoopLimitError(
                    f"more than {MAX_MICROSTEPS} eventless/done transitions followed "
                    f"'{trigger}' in state '{state}': the machine loops; nothing was applied"
                ),
                {"reason": "loop_limit"},
            )
        step = microstep(
            index, leaves, _without_conflicts(index, active_of(states, leaves), nxt), memory
        )
        steps.append(step)
        queue.extend(step.done_events)

    result = _combine(
        index,
        state,
        trigger if timer_key is None else _trigger_label(selected[0]),
        config,
        steps,
        history,
    )
    if cache_key is not None:
        if len(index.results) >= 65_536:
            index.results.clear()
        index.results[cache_key] = result
    return result


def _combine(
    index: MachineIndex,
    state: str,
    trigger: str,
    config: Configuration,
    steps: list[Microstep],
    history: History | None,
) -> TransitionResult:
    states = index.states
    last = steps[-1]
    exited: list[str] = []
    entered: list[str] = []
    for step in steps:
        exited.extend(step.exited)
        entered.extend(step.entered)
    after = active_of(states, last.leaves)
    arm, cancel = _timers(index, config.active, after, set(exited), set(entered))
    ordered: tuple[ActionSpec, ...] | None = None
    if len(steps) > 1:
        ordered = tuple(
            a
            for step in steps
            for a in (*step.exit_actions, *step.transition_actions, *step.enter_actions)
        )
    moved = any(step.exited or step.entered for step in steps)
    return TransitionResult(
        success=True,
        source_state=state,
        target_state=serialize(index, last.leaves) if moved else config.text,
        trigger=trigger,
        on_exit_actions=tuple(a for s in steps for a in s.exit_actions),
        actions_to_execute=tuple(a for s in steps for a in s.transition_actions),
        on_enter_actions=tuple(a for s in steps for a in s.enter_actions),
        exited_states=tuple(exited),
        entered_states=tuple(entered),
        timers_to_arm=arm,
        timers_to_cancel=cancel,
        history=(last.history or MappingProxyType({})) if index.has_history else None,
        ordered_actions=ordered,
    )


def start(
    index: MachineIndex, history: History | None = None, target: str | None = None
) -> GuardStep:
    """Enter the initial configuration (or ``target``) from nothing, then run eventless and
    done steps.

    The result's ``source_state`` is ``""``; ``target_state`` is where a new entity begins.
    """
    leaves, entered = _entry_leaves(index, (), [(target, ROOT)] if target else [], history)
    first = Microstep()
    first.leaves = leaves
    first.entered = entered
    first.enter_actions = tuple(a for n in entered for a in index.states[n].on_enter)
    first.done_events = _done_events(index, entered, leaves)
    first.history = history
    steps = [first]
    queue = list(first.done_events)
    while index.has_auto or queue:
        nxt: list[Candidate] = []
        current = steps[-1]
        if index.has_auto:
            nxt, _, _ = yield from _select(index, current.leaves, AUTO, {})
        while queue and not nxt:
            nxt, _, _ = yield from _select(index, current.leaves, queue.pop(0), {})
        if not nxt:
            break
        if len(steps) >= MAX_MICROSTEPS:
            raise LoopLimitError(
                f"more than {MAX_MICROSTEPS} eventless/done transitions follow the initial "
                "state: the machine loops"
            )
        step = microstep(
            index,
            current.leaves,
            _without_conflicts(index, active_of(index.states, current.leaves), nxt),
            current.history,
        )
        steps.append(step)
        queue.extend(step.done_events)
    empty = Configuration("", (), frozenset())
    return _combine(index, "", "__start__", empty, steps, history)


def entry_configuration(index: MachineIndex, state: str) -> str:
    """The configuration reached by entering ``state`` (and its ancestors) by default."""
    leaves, _ = _entry_leaves(index, (), [(state, ROOT)], None)
    return serialize(index, leaves)
