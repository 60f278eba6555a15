"""Failed results: every outcome caused by an event that does not move the entity.

A guard that said no, a trigger that does not apply, a terminal state, a context that breaks
the contract. Results, not exceptions: only an undefined state raises.

Like a successful result, the result of a rejection (``reject``) or of a trigger that does
not apply (``no_transition``) depends only on what it is built from: the state as the caller
spelled it, the trigger and, for a rejection, the guard, the candidates tried and the guard's
detail. So it is built once, by ``build_rejection`` or ``build_no_transition`` (the plain
builders, which the unit tests compare it with field for field), kept in
``index.caches.failures`` (``engine.caches``) and shared: a rejection costs a dictionary
lookup instead of a Pydantic validation, an exception and a message (benchmark rows 10a to
10h). The error in a shared result is shared too. ``TransitionResult.raise_for_error``
raises a fresh copy of it, and an error that was raised anyway (``raise result.error``: its
traceback is set) is never handed out again, so no call sees another's traceback.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from pystator.engine.caches import MAX_FAILURES
from pystator.engine.config import Configuration, parse
from pystator.engine.index import CompiledGuard, MachineIndex, allowed_of
from pystator.engine.microstep import entry_configuration
from pystator.errors import (
    ContextValidationError,
    FSMError,
    GuardRejectedError,
    InvalidTransitionError,
    PayloadValidationError,
    TerminalStateError,
    UndefinedStateError,
    UndefinedTriggerError,
)
from pystator.models.checks import suggest
from pystator.models.result import TransitionResult


def reject(
    index: MachineIndex,
    state: str,
    trigger: str,
    guard: CompiledGuard,
    tried: int,
    detail: str | None = None,
) -> TransitionResult:
    """Every candidate had a guard that said no; ``guard`` is the first candidate's.

    ``detail`` says why when the driver knows (an ``expr`` guard names a missing key).
    Built once per distinct set of arguments by ``build_rejection``, then shared (the sync
    driver's fast path, ``runtime.fast_select.select``, reads the same key before calling this).
    """
    key = (state, trigger, guard, tried, detail)
    result = index.caches.failures.get(key)
    if result is None or _was_raised(result):
        result = _keep(index, key, build_rejection(index, state, trigger, guard, tried, detail))
    return result


def no_transition(
    index: MachineIndex, state: str, trigger: str, config: Configuration | None = None
) -> TransitionResult:
    """No candidate at all: terminal, undefined trigger or not from here (strict or lenient).

    Raises ``UndefinedStateError`` when ``state`` is not a legal configuration. Built once
    per (state, trigger) by ``build_no_transition``, then shared.
    """
    key = (state, trigger)
    result = index.caches.failures.get(key)
    if result is None or _was_raised(result):
        result = _keep(index, key, build_no_transition(index, state, trigger, config))
    return result


def _was_raised(result: TransitionResult) -> bool:
    # Someone raised the shared error itself: it now holds their traceback (and raising it
    # again would lengthen it), so it is not handed out again.
    error = result.error
    return error is not None and error.__traceback__ is not None


def _keep(index: MachineIndex, key: tuple[Any, ...], result: TransitionResult) -> TransitionResult:
    failures = index.caches.failures
    if len(failures) >= MAX_FAILURES:
        failures.clear()
    failures[key] = result
    return result


def build_rejection(
    index: MachineIndex,
    state: str,
    trigger: str,
    guard: CompiledGuard,
    tried: int,
    detail: str | None = None,
) -> TransitionResult:
    """``reject``'s result, built afresh."""
    message = f"guard '{guard.label}' rejected trigger '{trigger}' in state '{state}'"
    if detail:
        message += f": {detail}"
    if tried > 1:
        message += f" (and {tried - 1} other candidate transition(s) were rejected too)"
    error = GuardRejectedError(
        message, guard_name=guard.label, current_state=state, trigger=trigger
    )
    metadata: dict[str, object] = {
        "reason": "guard_rejected",
        "guard_name": guard.label,
        "candidates": tried,
    }
    if detail:
        metadata["guard_detail"] = detail
    return failure(state, trigger, error, metadata)


def context_invalid(state: str, trigger: str, errors: list[str]) -> TransitionResult:
    """The context broke the machine's contract: nothing else was evaluated."""
    message = f"context is invalid for trigger '{trigger}' in state '{state}': " + "; ".join(errors)
    error = ContextValidationError(message, errors=errors)
    return failure(state, trigger, error, {"reason": "context_validation", "errors": errors})


def payload_invalid(state: str, trigger: str, errors: list[str]) -> TransitionResult:
    """The event's payload broke the trigger's declared payload: no guard was evaluated."""
    message = f"payload of trigger '{trigger}' is invalid in state '{state}': " + "; ".join(errors)
    error = PayloadValidationError(message, errors=errors)
    return failure(state, trigger, error, {"reason": "payload_validation", "errors": errors})


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
        if node is not None and (node.in_parallel or node.kind == "parallel"):
            raise undefined_state(index, state) from None
        raise  # the parser's message says what is wrong with a configuration string


def build_no_transition(
    index: MachineIndex, state: str, trigger: str, config: Configuration | None = None
) -> TransitionResult:
    """``no_transition``'s result, built afresh (raises ``UndefinedStateError`` likewise)."""
    if config is None:
        config = configuration(index, state)
    states = index.states
    if any(states[leaf].is_final for leaf in config.leaves):
        return failure(
            state,
            trigger,
            TerminalStateError(
                f"state '{state}' is terminal: trigger '{trigger}' cannot leave it",
                current_state=state,
                trigger=trigger,
            ),
            {"reason": "terminal_state"},
        )
    if trigger.startswith("done.state."):
        error: InvalidTransitionError = InvalidTransitionError(
            f"'{trigger}' is raised by the engine when a state completes; it cannot be sent",
            current_state=state,
            trigger=trigger,
        )
        return failure(state, trigger, error, {"reason": "invalid_transition"})
    if trigger in index.timer_triggers and trigger not in index.triggers:
        error = InvalidTransitionError(
            f"'{trigger}' is the trigger of a delayed transition: it fires from its timer, "
            "not from process()",
            current_state=state,
            trigger=trigger,
        )
        return failure(state, trigger, error, {"reason": "invalid_transition"})
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
        return failure(state, trigger, error, {"reason": "undefined_trigger"})
    allowed = allowed_triggers(index, config)
    error = InvalidTransitionError(
        f"trigger '{trigger}' is not allowed in state '{state}' (allowed: "
        f"{', '.join(allowed) if allowed else 'none'})",
        current_state=state,
        trigger=trigger,
    )
    return failure(state, trigger, error, {"reason": "invalid_transition"})


def allowed_triggers(index: MachineIndex, config: Configuration) -> tuple[str, ...]:
    """Triggers with a candidate from some active leaf, in document order."""
    if len(config.leaves) == 1:
        return allowed_of(index, config.leaves[0])
    seen: dict[str, None] = {}
    for leaf in config.leaves:
        for trig in allowed_of(index, leaf):
            seen.setdefault(trig)
    return tuple(seen)


def failure(
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


def timer_refused(
    state: str, timer_id: str, why: str, reason: str = "stale_timer"
) -> TransitionResult:
    """A timer that does nothing: not armed for this visit (``stale_timer``) or not due yet
    (``timer_not_due``). Sessions and the orchestrator give the same answer."""
    return failure(
        state,
        timer_id,
        InvalidTransitionError(
            f"timer '{timer_id}' does nothing: {why}", current_state=state, trigger=timer_id
        ),
        {"reason": reason},
    )
