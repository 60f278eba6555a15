"""The steps no event sends: entering the initial configuration, and firing a due timer.

``start`` enters the machine's initial configuration (or a given state) from nothing: the
step a new entity begins with, its entry actions, the timers to arm and the context after
the entry's ``assign`` items. ``fire_timer`` fires the delayed transition (or timeout) of one
timer in the state that armed it. Both run the general engine (``engine.start``,
``macrostep`` with a ``timer_key``) under the guard drivers of ``runtime/guard_drivers.py``,
with the context of ``context_frames.entry_frame``, and each has an async twin (``astart``,
``afire_timer``) that awaits async guards; the twins share all but the driver
(``start_step``, ``timer_step``). They are bound as methods of ``StateMachine``.

Knowing *when* a timer is due is the runtime's part, not the machine's: a session
(``runtime/session.py``) or a scheduler arms timers with ids and due times by the one timer
rule of ``runtime/timers.py`` and calls ``fire_timer`` once one is due.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from pystator.engine import DataModel, GuardStep, History, macrostep
from pystator.engine import start as engine_start
from pystator.models.result import TransitionResult
from pystator.runtime.configurations import state_node
from pystator.runtime.context_frames import entry_frame
from pystator.runtime.fast_select import carry, finish
from pystator.runtime.guard_drivers import adrive, drive

if TYPE_CHECKING:
    from pystator.runtime.machine import StateMachine

Context = Mapping[str, Any]
START = "__start__"
"""How results and failed checks of ``start`` name its step (its ``trigger``)."""


def fire_timer(
    machine: StateMachine,
    state: str,
    timer_key: str,
    context: Context | BaseModel | None = None,
    *,
    history: History | None = None,
) -> TransitionResult:
    """Fire the delayed transition (or timeout) of timer ``timer_key`` in ``state``.

    Only a runtime that knows the timer is due calls this (a session or a scheduler); the
    timer's trigger sent through ``process`` does not fire it. A timer whose state is no
    longer active gives a failed result with ``metadata["reason"] == "stale_timer"``.
    """
    prepared = timer_step(machine, state, timer_key, context, history)
    if isinstance(prepared, TransitionResult):
        return prepared
    step, data = prepared
    return finish(machine, state, timer_key, drive(machine, step, data), data, context)


async def afire_timer(
    machine: StateMachine,
    state: str,
    timer_key: str,
    context: Context | BaseModel | None = None,
    *,
    history: History | None = None,
) -> TransitionResult:
    """``fire_timer`` with async guards."""
    prepared = timer_step(machine, state, timer_key, context, history)
    if isinstance(prepared, TransitionResult):
        return prepared
    step, data = prepared
    return finish(machine, state, timer_key, await adrive(machine, step, data), data, context)


def timer_step(
    machine: StateMachine,
    state: str,
    timer_key: str,
    context: Context | BaseModel | None,
    history: History | None,
) -> tuple[GuardStep, DataModel] | TransitionResult:
    """The engine's step of timer ``timer_key`` in ``state`` (its results name the timer's
    trigger, or the key of a timer without one) and its data model, or the failed result of
    a context that does not validate."""
    frame = entry_frame(machine, context, timer_key, state)
    if isinstance(frame, TransitionResult):
        return carry(frame, context)
    data = DataModel(frame[0], frame[1], machine._rebuild)
    spec = machine.index.timer_table.get(timer_key)
    label = (spec.transition.trigger if spec is not None else None) or timer_key
    step = macrostep(machine.index, state, label, history, timer_key=timer_key, data=data)
    return step, data


def start(
    machine: StateMachine,
    context: Context | BaseModel | None = None,
    *,
    initial_state: str | None = None,
    history: History | None = None,
) -> TransitionResult:
    """Enter the initial configuration (or ``initial_state``) from nothing.

    The result's ``target_state`` is where a new entity begins after eventless and done
    transitions; it lists the entry actions and the timers to arm, and ``context`` is the
    context after the entry's assigns. ``source_state`` is ``""``.
    """
    prepared = start_step(machine, context, initial_state, history)
    if isinstance(prepared, TransitionResult):
        return prepared
    step, data = prepared
    return finish(machine, "", START, drive(machine, step, data), data, context)


async def astart(
    machine: StateMachine,
    context: Context | BaseModel | None = None,
    *,
    initial_state: str | None = None,
    history: History | None = None,
) -> TransitionResult:
    """``start`` with async guards."""
    prepared = start_step(machine, context, initial_state, history)
    if isinstance(prepared, TransitionResult):
        return prepared
    step, data = prepared
    return finish(machine, "", START, await adrive(machine, step, data), data, context)


def start_step(
    machine: StateMachine,
    context: Context | BaseModel | None,
    initial_state: str | None,
    history: History | None,
) -> tuple[GuardStep, DataModel] | TransitionResult:
    """The engine's entry step into the initial configuration (or ``initial_state``, which
    must be a state: ``UndefinedStateError``) and its data model, or the failed result of a
    context that does not validate."""
    if initial_state is not None:
        state_node(machine, initial_state)
    frame = entry_frame(machine, context, START)
    if isinstance(frame, TransitionResult):
        return carry(frame, context)
    data = DataModel(frame[0], frame[1], machine._rebuild)
    return engine_start(machine.index, history, initial_state, data), data
