"""Answering the engine's guard requests: one guard, and the sync and async drivers.

The engine's steps (``macrostep`` and ``start``, ``engine/step.py``) are generators: they
yield each guard they need and are sent its answer, so the procedure is written once and only
the driver knows whether a guard may be awaited. What lives here:

* ``NO_CONTEXT``: what guards read when a call gives no context (empty, read-only);
* ``answer``: one guard's value. An ``expr`` guard reads the view (the context, or a
  ``ModelView`` of a context model's instance); a named guard is the function registered
  under its name (``machine.guard``, ``bind_guards``), called with the context and the
  guard's ``params``;
* the rules around an answer: ``unregistered_guard`` (a named guard nobody registered:
  ``GuardNotFoundError`` in strict mode, a "no" in lenient mode), ``truth`` (a value that is
  not a bool: an awaitable is an error in a sync driver, anything else counts by its truth)
  and ``rejection`` (a "no" with the detail an ``expr`` guard can give: a missing key);
* ``drive`` and ``adrive``: the sync and async drivers, the same loop, the async one awaiting.

The sync fast path (``runtime/fast_select.py``) applies the same rules without the engine's
generator; ``tests/unit/test_fast_select.py`` compares the two.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pystator.engine import CompiledGuard, DataModel, GuardStep, Rejection
from pystator.errors import GuardEvaluationError, GuardNotFoundError
from pystator.models.result import TransitionResult

if TYPE_CHECKING:
    from pystator.runtime.machine import StateMachine

NO_CONTEXT: Mapping[str, Any] = MappingProxyType({})
"""What guards read when a call gives no context. Results carry it as ``None``."""


def unregistered_guard(machine: StateMachine, guard: CompiledGuard) -> bool:
    """A named guard that is not registered: raise in strict mode, say no in lenient mode."""
    if machine.index.strict:
        raise GuardNotFoundError(
            f"guard '{guard.name}' is not registered on machine '{machine.name}'; register it "
            f"with @machine.guard('{guard.name}') or machine.bind_guards(registry)"
        )
    return False


def truth(guard: CompiledGuard, value: Any) -> bool:
    """What a guard's value that is not a bool means to a sync driver: an awaitable is an
    error (use ``aprocess`` or ``asend``), anything else counts by its truth."""
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()
        raise GuardEvaluationError(
            f"guard '{guard.label}' is async: use machine.aprocess() or session.asend()"
        )
    return bool(value)


def why_not(guard: CompiledGuard, view: Mapping[str, Any]) -> str | None:
    """Why an ``expr`` guard said no, when it can tell (a missing context key)."""
    explain = getattr(guard.evaluate, "explain", None)
    if explain is None:
        return None
    detail: str | None = explain(view)
    return detail


def rejection(guard: CompiledGuard, view: Mapping[str, Any]) -> bool | Rejection:
    """The "no" sent back to the engine: a ``Rejection`` with its detail, or ``False``."""
    detail = why_not(guard, view)
    return Rejection(detail) if detail else False


def answer(machine: StateMachine, guard: CompiledGuard, ctx: Any, view: Mapping[str, Any]) -> Any:
    """Evaluate one guard; the value may be awaitable (the async driver awaits it)."""
    if guard.evaluate is not None:
        return guard.evaluate(view)
    fn = machine._guards.get(guard.name)  # type: ignore[arg-type]
    if fn is None:
        return unregistered_guard(machine, guard)
    return fn(ctx) if guard.params is None else fn(ctx, **guard.params)


def drive(machine: StateMachine, step: GuardStep, data: DataModel) -> TransitionResult:
    """Answer the engine's guard requests synchronously, with the context in ``data`` (which
    the engine's assigns update between microsteps)."""
    try:
        guard = next(step)
        while True:
            value = answer(machine, guard, data.context, data.view)
            ok = value if value is True or value is False else truth(guard, value)
            guard = step.send(ok or rejection(guard, data.view))
    except StopIteration as done:
        result: TransitionResult = done.value
        return result


async def adrive(machine: StateMachine, step: GuardStep, data: DataModel) -> TransitionResult:
    """Answer the engine's guard requests, awaiting the guards that are async."""
    try:
        guard = next(step)
        while True:
            value = answer(machine, guard, data.context, data.view)
            if inspect.isawaitable(value):
                value = await value
            guard = step.send(bool(value) or rejection(guard, data.view))
    except StopIteration as done:
        result: TransitionResult = done.value
        return result
