"""Turn selected transitions into a ``TransitionResult``; never runs anything.

The engine is one algorithm with two entry points:

* ``accept`` builds the result of one candidate fired from one plain state, once, and the
  candidate keeps it (the fast path of ``StateMachine.process``);
* ``macrostep`` is a generator that selects transitions for every active leaf
  (``engine.selection``), yielding each guard it needs and receiving its outcome, then runs
  microsteps (``engine.microstep``: SCXML's exit set, history recording, entry set with
  default entry and parallel regions), eventless transitions and done events until the
  configuration is stable (``_take``, ``_settle``), and combines them into one result
  (``_combine``). The sync and async drivers in ``pystator.runtime.guard_drivers`` answer the
  yielded guards, the async one awaiting those that return an awaitable.

Everything here is pure and deterministic.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from dataclasses import replace
from functools import partial
from types import MappingProxyType
from typing import Any

from pystator.engine.build import build_index
from pystator.engine.caches import MAX_RESULTS
from pystator.engine.config import Configuration, active_of, serialize
from pystator.engine.datamodel import AssignFailed, DataModel, ValueFn
from pystator.engine.index import AUTO, ROOT, Candidate, CompiledGuard, ExprFn, MachineIndex
from pystator.engine.microstep import (
    History,
    Microstep,
    entry_leaves,
    microstep,
    queued_events,
    timer_changes,
)
from pystator.engine.outcomes import (
    configuration,
    context_invalid,
    failure,
    no_transition,
    reject,
)
from pystator.engine.selection import (
    GuardOutcome,
    remove_conflicting_transitions,
    select_transitions,
)
from pystator.errors import InvalidTransitionError, LoopLimitError
from pystator.models.definition import ActionSpec, MachineDefinition
from pystator.models.result import TransitionResult

MAX_MICROSTEPS = 100
"""Eventless and done transitions taken after one event, at most (stops cycles)."""

GuardStep = Generator[CompiledGuard, GuardOutcome, TransitionResult]


def expression_language(source: str, *, on_missing: str = "false") -> ExprFn:
    """Compile with the safe expression language, imported on the first ``expr`` guard."""
    from pystator.engine.expr import compile_expression

    return compile_expression(source, on_missing="error" if on_missing == "error" else "false")


def value_language(source: str) -> ValueFn:
    """Compile an ``assign`` expression with the safe expression language."""
    from pystator.engine.expr import compile_value

    return compile_value(source)


def compile_machine(
    definition: MachineDefinition,
    *,
    compile_expr: Callable[[str], ExprFn] | None = expression_language,
    compile_value: Callable[[str], ValueFn] | None = value_language,
) -> MachineIndex:
    """Compile a validated definition into the engine's index.

    ``expr`` guards and ``assign`` expressions are compiled once, here, by ``compile_expr``
    and ``compile_value`` (the safe expression language of ``engine.expr`` by default;
    ``None`` refuses them).
    """
    if compile_expr is expression_language and definition.meta.expr_on_missing == "error":
        compile_expr = partial(expression_language, on_missing="error")
    index = build_index(definition, compile_expr=compile_expr, compile_value=compile_value)
    # The initial configuration needs the built tree (default entry of compound and parallel
    # states), so it is resolved here and the frozen index copied with it (same caches).
    leaves = entry_leaves(index, (), [], None)[0]
    return replace(index, initial_state=serialize(index, leaves))


def accept(index: MachineIndex, candidate: Candidate) -> TransitionResult:
    """The result of ``candidate`` firing from its plain state; built once, then shared."""
    result = candidate.result
    if result is not None:
        return result
    step = microstep(index, (candidate.state,), [candidate], None)
    before = active_of(index.states, (candidate.state,))
    arm, cancel = timer_changes(
        index, before, active_of(index.states, step.leaves), set(step.exited), set(step.entered)
    )
    result = TransitionResult(
        success=True,
        source_state=candidate.state,
        target_state=serialize(index, step.leaves) if step.entered else candidate.state,
        trigger=_trigger_label(candidate),
        internal_events=step.internal,  # done events no transition takes (a simple machine)
        on_exit_actions=step.exit_actions,
        actions_to_execute=step.transition_actions,
        on_enter_actions=step.enter_actions,
        exited_states=step.exited,
        entered_states=step.entered,
        timers_to_arm=arm,
        timers_to_cancel=cancel,
    )
    candidate.assigns = step.assigns
    candidate.result = result
    return result


def _trigger_label(candidate: Candidate) -> str:
    t = candidate.transition
    if t.trigger is not None:
        return t.trigger
    if t.auto:
        return "auto"
    return f"after:{candidate.index}" if candidate.index >= 0 else f"timeout:{candidate.source}"


def macrostep(
    index: MachineIndex,
    state: str,
    trigger: str,
    history: History | None,
    *,
    timer_key: str | None = None,
    config: Configuration | None = None,
    data: DataModel | None = None,
) -> GuardStep:
    """Process ``trigger`` (or fire the timer ``timer_key``) until the configuration is stable.

    Yields every guard to evaluate and expects its outcome back; returns the result. ``data``
    holds the context the driver evaluates guards with: each microstep's assign items update
    it before the next selection (machines with ``assign``; required for them).

    The phases: selectTransitions for the event (or the timer's one transition), the results
    cache of machines whose steps are one microstep, then ``_take``: the microsteps.
    """
    if config is None:
        config = configuration(index, state)
    outcomes: dict[int, bool] = {}
    if timer_key is not None:
        fired = yield from _timer_transition(index, state, trigger, timer_key, config)
        if not isinstance(fired, Candidate):
            return fired
        selected, label, event = [fired], _trigger_label(fired), timer_key
    else:
        if any(index.states[leaf].is_final for leaf in config.leaves) or trigger.startswith(
            "done.state."
        ):
            return no_transition(index, state, trigger, config)
        selected, first_no, tried = yield from select_transitions(
            index, config.leaves, trigger, outcomes
        )
        if not selected:
            if first_no is not None:
                return reject(index, state, trigger, first_no[0], tried, first_no[1])
            return no_transition(index, state, trigger, config)
        label = event = trigger

    cache_key: tuple[Any, ...] | None = None
    if index.simple and not index.has_assign:
        # Keyed by the caller's spelling: the result's source_state is that spelling.
        cache_key = (state, event, *(c.index for c in selected))
        cached = index.caches.results.get(cache_key)
        if cached is not None:
            return cached

    result = yield from _take(index, state, trigger, label, config, selected, history, data)
    if cache_key is not None and result.success:
        _remember(index, cache_key, result, state, trigger, timer_key, outcomes)
    return result


def _timer_transition(
    index: MachineIndex, state: str, trigger: str, timer_key: str, config: Configuration
) -> Generator[CompiledGuard, GuardOutcome, Candidate | TransitionResult]:
    """The transition of the timer ``timer_key`` once its guards pass, or the failure: a
    timer the machine does not have or whose state was left (``stale_timer``), a guard that
    says no."""
    cand = index.timer_table.get(timer_key)
    if cand is None or cand.source not in config.active:
        why = (
            f"machine '{index.definition.meta.machine_name}' has no timer '{timer_key}'"
            if cand is None
            else f"timer '{timer_key}' is not armed in state '{state}' (its state was left)"
        )
        return failure(
            state,
            trigger,
            InvalidTransitionError(why, current_state=state, trigger=trigger),
            {"reason": "stale_timer"},
        )
    for guard in cand.guards:
        outcome = yield guard
        if not outcome:
            return reject(index, state, trigger, guard, 1, getattr(outcome, "detail", None))
    return cand


def _take(
    index: MachineIndex,
    state: str,
    trigger: str,
    label: str,
    config: Configuration,
    selected: list[Candidate],
    history: History | None,
    data: DataModel | None,
) -> GuardStep:
    """Take ``selected`` (removeConflictingTransitions, then one microstep), then run the
    macrostep loop (``_settle``) until the configuration is stable; the result is every
    microstep combined, its trigger ``label``. A failure (an assign item that cannot
    compute, a loop) names ``trigger`` and changes nothing."""
    selected = remove_conflicting_transitions(index, config.active, selected, history)
    steps = [microstep(index, config.leaves, selected, history)]
    if steps[0].assigns and data is not None:
        try:
            data.apply(steps[0].assigns)
        except AssignFailed as exc:
            return context_invalid(state, trigger, exc.errors)
    processed: list[str] = []
    if index.has_auto or steps[0].internal:
        settled = yield from _settle(index, steps, data, processed)
        if settled is not None:
            return _unsettled(state, trigger, settled)
    return _combine(index, state, label, config, steps, history, processed)


def _unsettled(state: str, trigger: str, settled: str | AssignFailed) -> TransitionResult:
    """The failure of a macrostep loop that did not become stable (``_settle``'s outcome)."""
    if isinstance(settled, AssignFailed):
        return context_invalid(state, trigger, settled.errors)
    return failure(
        state,
        trigger,
        LoopLimitError(
            f"more than {MAX_MICROSTEPS} eventless, done or internal-event transitions "
            f"followed '{trigger}' in state '{state}': the machine loops; nothing was applied"
        ),
        {"reason": "loop_limit"},
    )


def _remember(
    index: MachineIndex,
    cache_key: tuple[Any, ...],
    result: TransitionResult,
    state: str,
    trigger: str,
    timer_key: str | None,
    outcomes: dict[int, bool],
) -> None:
    """Keep ``result`` in the results cache; also in ``settled`` when no guard was read."""
    caches = index.caches
    if len(caches.results) >= MAX_RESULTS:
        caches.results.clear()
        caches.settled.clear()
    caches.results[cache_key] = result
    if timer_key is None and not any(index.guards.get(i) for i in outcomes):
        # No guard was evaluated (``outcomes`` holds every candidate the selection
        # reached): the result depends on (state, trigger) alone, and the drivers may
        # return it without running the engine.
        caches.settled[(state, trigger)] = result


_LOOP = "loop"
"""What ``_settle`` returns when the machine does not become stable."""


def _settle(
    index: MachineIndex,
    steps: list[Microstep],
    data: DataModel | None,
    processed: list[str],
) -> Generator[CompiledGuard, GuardOutcome, str | AssignFailed | None]:
    """Run SCXML's macrostep loop after the first microstep (``steps[0]``) until stable.

    Eventless transitions first; when none is enabled, the next event of the internal queue
    (raised events and ``done.state`` events, in the order the microsteps queued them, each
    appended to ``processed`` when dequeued, whether or not it selects a transition). Appends
    a microstep to ``steps`` for each set of transitions taken. Stops at a top-level final
    state, where SCXML halts (what is left on the queue is not processed). Returns ``None``
    once stable, ``_LOOP`` past ``MAX_MICROSTEPS``, or the ``AssignFailed`` of an assign item.
    """
    states = index.states
    queue = deque(steps[-1].internal)
    while index.has_auto or queue:
        current = steps[-1]
        if states[current.leaves[0]].is_final:
            # A top-level final state: SCXML's interpreter halts here and leaves the rest of
            # the internal queue unprocessed.
            return None
        nxt: list[Candidate] = []
        if index.has_auto:
            nxt, _, _ = yield from select_transitions(index, current.leaves, AUTO, {})
        while queue and not nxt:
            event = queue.popleft()
            processed.append(event)
            nxt, _, _ = yield from select_transitions(index, current.leaves, event, {})
        if not nxt:
            return None
        if len(steps) > MAX_MICROSTEPS:  # steps[0] is the event (or entry) itself
            return _LOOP
        step = microstep(
            index,
            current.leaves,
            remove_conflicting_transitions(
                index, active_of(states, current.leaves), nxt, current.history
            ),
            current.history,
        )
        if step.assigns and data is not None:
            try:
                data.apply(step.assigns)
            except AssignFailed as exc:
                return exc
        steps.append(step)
        queue.extend(step.internal)
    return None


def _combine(
    index: MachineIndex,
    state: str,
    trigger: str,
    config: Configuration,
    steps: list[Microstep],
    history: History | None,
    processed: list[str],
) -> TransitionResult:
    states = index.states
    last = steps[-1]
    exited: list[str] = []
    entered: list[str] = []
    for step in steps:
        exited.extend(step.exited)
        entered.extend(step.entered)
    after = active_of(states, last.leaves)
    arm, cancel = timer_changes(index, config.active, after, set(exited), set(entered))
    ordered = _ordered_actions(steps) if len(steps) > 1 else None
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
        internal_events=tuple(processed),
    )


def _ordered_actions(steps: list[Microstep]) -> tuple[ActionSpec, ...]:
    """The actions of several microsteps in the order they run: each microstep's exit,
    transition and entry actions, microstep after microstep."""
    return tuple(
        a
        for step in steps
        for a in (*step.exit_actions, *step.transition_actions, *step.enter_actions)
    )


def start(
    index: MachineIndex,
    history: History | None = None,
    target: str | None = None,
    data: DataModel | None = None,
) -> GuardStep:
    """Enter the initial configuration (or ``target``) from nothing, then run eventless and
    done steps.

    The result's ``source_state`` is ``""``; ``target_state`` is where a new entity begins.
    ``data``: as for ``macrostep`` (entry assign items update it).
    """
    leaves, entered = entry_leaves(index, (), [(target, ROOT)] if target else [], history)
    first = Microstep()
    first.leaves = leaves
    first.entered = entered
    first.enter_actions = tuple(a for n in entered for a in index.states[n].on_enter)
    first.internal = queued_events(index, (), [], entered, leaves)
    first.history = history
    if index.has_assign:
        first.assigns = tuple(a for n in entered for a in index.states[n].enter_assigns)
        if first.assigns and data is not None:
            try:
                data.apply(first.assigns)
            except AssignFailed as exc:
                return context_invalid("", "__start__", exc.errors)
    steps = [first]
    processed: list[str] = []
    settled = yield from _settle(index, steps, data, processed)
    if settled is _LOOP:
        raise LoopLimitError(
            f"more than {MAX_MICROSTEPS} eventless, done or internal-event transitions follow "
            "the initial state: the machine loops"
        )
    if isinstance(settled, AssignFailed):
        return context_invalid("", "__start__", settled.errors)
    empty = Configuration("", (), frozenset())
    return _combine(index, "", "__start__", empty, steps, history, processed)
