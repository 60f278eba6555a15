"""A machine's hooks around its steps.

``StateMachine.hooks`` is ``None`` until ``machine.observer`` (or ``add_hook``) makes a
``TransitionObserver`` (``runtime/hooks.py``); the step entry points test it and, when it is
set, run the step through here: the observer sees the step before it runs
(``before_process``), an exception it raises (``transition_error``), and its result
(``transition_start`` for a transition that fired, then ``transition_complete``, with the
time taken). What lives here:

* ``select_observed`` (``StateMachine.select_observed``): the sync fast path with the hooks;
* ``aselect_observed``: the async driver with the hooks;
* ``StepWatch``: what both report, around the one line where they differ (an ``await``);
* ``failed_early``: a payload or context that failed before any guard, which the hooks see
  too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pystator.engine import History
from pystator.models.result import TransitionResult
from pystator.runtime.fast_select import aselect, carry
from pystator.runtime.guard_drivers import NO_CONTEXT
from pystator.runtime.hooks import TransitionObserver

if TYPE_CHECKING:
    from pystator.runtime.machine import StateMachine


def select_observed(
    machine: StateMachine,
    state: str,
    trigger: str,
    ctx: Any,
    view: Mapping[str, Any],
    given: Any,
    history: History | None = None,
) -> TransitionResult:
    """``select`` with the hooks of ``machine.hooks`` called around it (same arguments)."""
    with StepWatch(machine, state, trigger, ctx) as watch:
        result = machine.select(state, trigger, ctx, view, given, history)
    return watch.done(result)


async def aselect_observed(
    machine: StateMachine,
    state: str,
    trigger: str,
    ctx: Any,
    view: Mapping[str, Any],
    given: Any,
    history: History | None = None,
) -> TransitionResult:
    """``fast_select.aselect`` with the hooks of ``machine.hooks`` called around it."""
    with StepWatch(machine, state, trigger, ctx) as watch:
        result = await aselect(machine, state, trigger, ctx, view, given, history)
    return watch.done(result)


class StepWatch:
    """One step as the hooks see it, for the sync and the async driver alike: announced when
    the watch is made (``before_process``), an exception leaving its ``with`` block reported
    (``transition_error``; the exception goes on), the result reported by ``done``."""

    __slots__ = ("observer", "started", "state", "trigger")

    def __init__(self, machine: StateMachine, state: str, trigger: str, ctx: Any) -> None:
        observer = machine.hooks
        assert observer is not None
        self.observer = observer
        self.state = state
        self.trigger = trigger
        observer.before_process(state, trigger, ctx)
        self.started = time.perf_counter()

    def __enter__(self) -> StepWatch:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, Exception):
            elapsed = (time.perf_counter() - self.started) * 1e3
            self.observer.transition_error(self.state, self.trigger, exc, elapsed)

    def done(self, result: TransitionResult) -> TransitionResult:
        """Report ``result`` to the hooks; returns it."""
        notify(self.observer, result, self.started)
        return result


def failed_early(
    machine: StateMachine, state: str, trigger: str, given: Any, failed: TransitionResult
) -> TransitionResult:
    """A payload or context that failed before any guard, carrying ``given``: the hooks
    see it as well."""
    failed = carry(failed, given)
    observer = machine.hooks
    if observer:
        observer.before_process(state, trigger, NO_CONTEXT if given is None else given)
        notify(observer, failed, time.perf_counter())
    return failed


def notify(observer: TransitionObserver, result: TransitionResult, started: float) -> None:
    """Show ``result`` of a step that began at ``started`` (``perf_counter``) to the hooks."""
    if result.success and "reason" not in result.metadata:
        observer.transition_start(result)
    observer.transition_complete(result, (time.perf_counter() - started) * 1e3)
