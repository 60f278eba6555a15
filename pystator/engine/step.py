"""Turn a selected (or missing) transition into a ``TransitionResult``; never runs anything.

The drivers in ``pystator.runtime`` ask ``candidates`` for the transitions that may fire,
evaluate their guards in order (sync or async: the only difference between the two drivers),
and come back here with the winner (``accept``) or the first guard that said no
(``reject``). Everything here is pure and deterministic.
"""

from __future__ import annotations

from types import MappingProxyType

from pystator.engine.index import ROOT, Candidate, CompiledGuard, MachineIndex, default_entry
from pystator.errors import (
    FSMError,
    ContextValidationError,
    GuardRejectedError,
    InvalidTransitionError,
    TerminalStateError,
    UndefinedStateError,
    UndefinedTriggerError,
)
from pystator.models.checks import suggest
from pystator.models.definition import ActionSpec
from pystator.models.result import TransitionResult


def candidates(index: MachineIndex, state: str, trigger: str) -> tuple[Candidate, ...] | None:
    """Transitions that may fire, in selection order; ``None`` when there are none."""
    per_state = index.table.get(state)
    if per_state is None:
        return None
    return per_state.get(trigger)


def _domain(index: MachineIndex, source: str, dest: str, internal: bool) -> str:
    """The state whose descendants the transition exits and enters (SCXML's domain)."""
    states = index.states
    if internal and dest != source and source in states[dest].ancestors:
        return source
    dest_ancestors = {*states[dest].ancestors, ROOT}
    for ancestor in (*states[source].ancestors, ROOT):
        if ancestor in dest_ancestors:
            return ancestor
    return ROOT  # pragma: no cover - ROOT is always common


def transition_sets(
    index: MachineIndex, state: str, source: str, dest: str | None, internal: bool
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(exited innermost first, entered outermost first) for a transition taken in ``state``."""
    if dest is None or (internal and dest == source):
        return (), ()
    states = index.states
    domain = _domain(index, source, dest, internal)
    exited: list[str] = []
    for name in (state, *states[state].ancestors):
        if name == domain:
            break
        exited.append(name)
    down: list[str] = [dest]
    for name in states[dest].ancestors:
        if name == domain:
            break
        down.append(name)
    down.reverse()
    return tuple(exited), (*down, *default_entry(states, dest))


def _collect(index: MachineIndex, names: tuple[str, ...], enter: bool) -> tuple[ActionSpec, ...]:
    states = index.states
    out: list[ActionSpec] = []
    for name in names:
        out.extend(states[name].on_enter if enter else states[name].on_exit)
    return tuple(out)


def accept(index: MachineIndex, candidate: Candidate) -> TransitionResult:
    """The result of ``candidate`` firing; built once, then shared (it is immutable)."""
    result = candidate.result
    if result is not None:
        return result
    t = candidate.transition
    exited, entered = transition_sets(index, candidate.state, candidate.source, t.dest, t.internal)
    target = entered[-1] if entered else candidate.state
    result = TransitionResult(
        success=True,
        source_state=candidate.state,
        target_state=target,
        trigger=t.trigger,
        on_exit_actions=_collect(index, exited, enter=False),
        actions_to_execute=tuple(
            ActionSpec(name=a) if isinstance(a, str) else a for a in t.actions
        ),
        on_enter_actions=_collect(index, entered, enter=True),
        exited_states=exited,
        entered_states=entered,
    )
    candidate.result = result
    return result


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


def no_transition(index: MachineIndex, state: str, trigger: str) -> TransitionResult:
    """No candidate at all: terminal, undefined trigger or not from here (strict or lenient).

    Raises ``UndefinedStateError`` when ``state`` is not a state of the machine.
    """
    node = index.states.get(state)
    if node is None:
        raise UndefinedStateError(
            f"state '{state}' is not defined in machine "
            f"'{index.definition.meta.machine_name}'{suggest(state, index.states)}"
        )
    if node.is_final:
        return _failure(
            state,
            trigger,
            TerminalStateError(f"state '{state}' is terminal: trigger '{trigger}' cannot leave it"),
            {"reason": "terminal_state"},
        )
    if not index.strict:
        return TransitionResult(
            success=True,
            source_state=state,
            target_state=state,
            trigger=trigger,
            metadata=MappingProxyType({"reason": "no_transition"}),
        )
    if trigger not in index.triggers:
        error: InvalidTransitionError = UndefinedTriggerError(
            f"trigger '{trigger}' is not defined in machine "
            f"'{index.definition.meta.machine_name}'{suggest(trigger, index.triggers)}",
            current_state=state,
            trigger=trigger,
        )
        return _failure(state, trigger, error, {"reason": "undefined_trigger"})
    allowed = index.allowed.get(state, ())
    error = InvalidTransitionError(
        f"trigger '{trigger}' is not allowed in state '{state}' (allowed: "
        f"{', '.join(allowed) if allowed else 'none'})",
        current_state=state,
        trigger=trigger,
    )
    return _failure(state, trigger, error, {"reason": "invalid_transition"})


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
