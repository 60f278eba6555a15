"""Questions to a machine that change nothing: which triggers would fire here, would this one.

``allowed_triggers`` and ``can`` (bound as methods of ``StateMachine``, and asked by
``EntitySession``'s ``allowed_triggers``, ``can`` and their async twins) answer by computing
the very step ``process`` and ``send`` would compute: the same frame (payload and context
checks, ``runtime/context_frames.py``), the engine's ``macrostep`` with every guard evaluated,
then ``fast_select.finish`` (the ``context:`` contract after ``assign`` items). What they leave
out is everything a step does besides computing: no hook or observer is told (``process``
reports to them, ``runtime/observed.py``), no action runs (``process`` never runs one either),
and the result is dropped, so no state, context or history memory changes.

A question is answered by its own tiny drivers (``ask`` and ``aask``), not by the step's
(``guard_drivers.drive``), for one reason: a guard that raises. ``process`` lets the exception
go; a question answers "no" (``send`` would not succeed). Mistakes in the program still raise,
as they do from ``process``: an undefined state (``UndefinedStateError``), a named guard that
is not registered in strict mode (``GuardNotFoundError``), and an async guard met by the sync
questions (``GuardEvaluationError``: ask with ``acan`` or ``aallowed_triggers``).

A trigger counts when its step *fires* (``fires``): a successful result that is not a lenient
machine's no-op (which ``send`` reports as a success that changes nothing).

Declared payloads: ``can`` checks the payload it is given (``send``'s check, so a payload that
does not validate is a "no"). ``allowed_triggers`` has no payload: it evaluates guards on the
context alone and skips the payload check (``process`` would read the declared keys from the
context and refuse a context without them); a guard that reads a payload key sees it missing.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pystator.engine import (
    CompiledGuard,
    DataModel,
    GuardStep,
    History,
    configuration,
    macrostep,
)
from pystator.engine.outcomes import allowed_triggers as triggers_from
from pystator.errors import GuardEvaluationError, GuardNotFoundError
from pystator.models.result import TransitionResult
from pystator.runtime.context_frames import frame
from pystator.runtime.fast_select import finish
from pystator.runtime.guard_drivers import answer, rejection

if TYPE_CHECKING:
    from pystator.runtime.machine import StateMachine

Context = Mapping[str, Any]

NO_EVENT = "(no event)"
"""The label ``allowed_triggers`` frames its context with: not a trigger name (names cannot
hold spaces or brackets), so no declared payload is read or checked."""


class GuardRaised(Exception):
    """A guard raised: the question's answer is "no" (``process`` would raise)."""


def fires(result: TransitionResult) -> bool:
    """True when ``result`` takes a transition: a success that is not a lenient no-op."""
    return result.success and "reason" not in result.metadata


# --------------------------------------------------------------------------- the questions
def allowed_triggers(
    machine: StateMachine,
    state: str,
    context: Context | Any = None,
    *,
    history: History | None = None,
) -> list[str]:
    """The triggers that would fire from ``state`` with ``context``, guards evaluated; changes
    nothing, runs no action, tells no hook.

    In ``get_triggers``'s order (each active leaf's, then its ancestors', every region's).
    ``history`` is the entity's history memory. A trigger with a declared payload is asked
    about on the context alone (no payload check). Raises ``UndefinedStateError`` for an
    undefined ``state``, ``GuardNotFoundError`` for an unregistered guard in strict mode and
    ``GuardEvaluationError`` for an async guard (use ``aallowed_triggers``).
    """
    triggers = _candidates(machine, state)
    checked = frame(machine, state, NO_EVENT, context, None) if triggers else None
    if checked is None or isinstance(checked, TransitionResult):
        return []  # nothing to ask, or a context every step would refuse
    ctx, view = checked
    return [t for t in triggers if _fires(machine, state, t, ctx, view, context, history)]


async def aallowed_triggers(
    machine: StateMachine,
    state: str,
    context: Context | Any = None,
    *,
    history: History | None = None,
) -> list[str]:
    """``allowed_triggers``, awaiting guards that are async."""
    triggers = _candidates(machine, state)
    checked = frame(machine, state, NO_EVENT, context, None) if triggers else None
    if checked is None or isinstance(checked, TransitionResult):
        return []
    ctx, view = checked
    return [t for t in triggers if await _afires(machine, state, t, ctx, view, context, history)]


def can(
    machine: StateMachine,
    state: str,
    trigger: str,
    context: Context | Any = None,
    *,
    payload: Mapping[str, Any] | None = None,
    history: History | None = None,
) -> bool:
    """True exactly when ``trigger`` would fire from ``state``: what ``process`` would compute
    (``payload`` ``None``), or a session's ``send`` with ``payload``, is a transition taken.

    False for every refusal (a guard said no or raised, no transition from here, an undefined
    trigger, a terminal state, a payload or context that does not validate, a loop) and for a
    lenient no-op. Changes nothing, runs no action, tells no hook. Raises as ``process`` does
    for a mistake in the program (``UndefinedStateError``, ``GuardNotFoundError``), and
    ``GuardEvaluationError`` for an async guard (use ``acan``).
    """
    checked = frame(machine, state, trigger, context, payload)
    if isinstance(checked, TransitionResult):
        return False
    ctx, view = checked
    return _fires(machine, state, trigger, ctx, view, context, history)


async def acan(
    machine: StateMachine,
    state: str,
    trigger: str,
    context: Context | Any = None,
    *,
    payload: Mapping[str, Any] | None = None,
    history: History | None = None,
) -> bool:
    """``can``, awaiting guards that are async."""
    checked = frame(machine, state, trigger, context, payload)
    if isinstance(checked, TransitionResult):
        return False
    ctx, view = checked
    return await _afires(machine, state, trigger, ctx, view, context, history)


# --------------------------------------------------------------------------- one step
def _candidates(machine: StateMachine, state: str) -> tuple[str, ...]:
    """The triggers worth asking about: those with a transition from ``state``
    (``get_triggers``; raises ``UndefinedStateError``)."""
    index = machine.index
    return triggers_from(index, configuration(index, state))


def _fires(
    machine: StateMachine,
    state: str,
    trigger: str,
    ctx: Any,
    view: Context,
    given: Any,
    history: History | None,
) -> bool:
    """Would ``trigger`` fire: the general engine's step (``fast_select.plain_select``),
    driven by ``ask``, with the result checked by ``finish`` as ``process`` checks it."""
    data = DataModel(ctx, view, machine._rebuild)
    step = macrostep(machine.index, state, trigger, history, data=data)
    try:
        result = ask(machine, step, data)
    except GuardRaised:
        return False
    return fires(finish(machine, state, trigger, result, data, given))


async def _afires(
    machine: StateMachine,
    state: str,
    trigger: str,
    ctx: Any,
    view: Context,
    given: Any,
    history: History | None,
) -> bool:
    """``_fires`` awaiting async guards (driven by ``aask``)."""
    data = DataModel(ctx, view, machine._rebuild)
    step = macrostep(machine.index, state, trigger, history, data=data)
    try:
        result = await aask(machine, step, data)
    except GuardRaised:
        return False
    return fires(finish(machine, state, trigger, result, data, given))


# --------------------------------------------------------------------------- the drivers
def ask(machine: StateMachine, step: GuardStep, data: DataModel) -> TransitionResult:
    """Answer the step's guard requests synchronously (``guard_drivers.drive``), except that a
    guard that raises stops the step with ``GuardRaised``."""
    try:
        guard = next(step)
        while True:
            value = _value(machine, step, guard, data)
            if inspect.isawaitable(value):
                if inspect.iscoroutine(value):
                    value.close()
                step.close()
                raise GuardEvaluationError(
                    f"guard '{guard.label}' is async: ask with acan() or aallowed_triggers()"
                )
            guard = step.send(_truth(step, guard, value) or rejection(guard, data.view))
    except StopIteration as done:
        result: TransitionResult = done.value
        return result


async def aask(machine: StateMachine, step: GuardStep, data: DataModel) -> TransitionResult:
    """``ask``, awaiting the guards that are async (``guard_drivers.adrive``)."""
    try:
        guard = next(step)
        while True:
            value = _value(machine, step, guard, data)
            if inspect.isawaitable(value):
                try:
                    value = await value
                except Exception:
                    step.close()
                    raise GuardRaised(guard.label) from None
            guard = step.send(_truth(step, guard, value) or rejection(guard, data.view))
    except StopIteration as done:
        result: TransitionResult = done.value
        return result


def _value(machine: StateMachine, step: GuardStep, guard: CompiledGuard, data: DataModel) -> Any:
    """One guard's value (maybe awaitable); ``GuardRaised`` when the guard raises, but a
    named guard nobody registered raises ``GuardNotFoundError`` (strict mode) as in
    ``process``."""
    try:
        return answer(machine, guard, data.context, data.view)
    except GuardNotFoundError:
        step.close()
        raise
    except Exception:
        step.close()
        raise GuardRaised(guard.label) from None


def _truth(step: GuardStep, guard: CompiledGuard, value: Any) -> bool:
    """A guard's value as a bool (its truth, as ``process`` counts it); ``GuardRaised`` when
    even that raises."""
    try:
        return value is True or (value is not False and bool(value))
    except Exception:
        step.close()
        raise GuardRaised(guard.label) from None
