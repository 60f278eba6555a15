"""The two runners of the orchestrator's procedures: ``run`` (sync) and ``arun`` (asyncio).

A runner drives a procedure (a generator of effects, see ``effects``) to its end: it performs
each effect the procedure yields and sends back the answer, or throws in the exception the
effect raised, so the procedure handles it where it yielded (a refused commit, a scheduler
that failed). ``perform`` and ``aperform`` are the one place where an effect becomes a call:
one ``match`` case per effect, an event's three (load, step, commit) in the runner's own loop
and every other one in ``perform``/``aperform``. The
method is looked up on the orchestrator's store, machine or scheduler at each call, so a
method replaced after the orchestrator was made (a test's spy, a wrapper) is the one called.

The sync runner calls the sync methods (``store.load``, ``machine.process``,
``scheduler.schedule``, ``time.sleep``); the async runner awaits their ``a``-prefixed twins
(``asyncio.sleep`` for a pause). Nothing else differs between them.
"""

from __future__ import annotations

import asyncio
import time
from typing import TypeVar, assert_never

from pystator.runtime.orchestration.effects import (
    ArmTimers,
    ClaimAction,
    FinishAction,
    Fire,
    Load,
    PendingActions,
    Process,
    ReadKey,
    RunAction,
    Save,
    Sleep,
    Start,
    Step,
)
from pystator.runtime.orchestration.parts import OrchestratorParts

T = TypeVar("T")

OtherEffect = (
    ReadKey
    | Fire
    | Start
    | RunAction
    | Sleep
    | ArmTimers
    | PendingActions
    | ClaimAction
    | FinishAction
)
"""Every effect but an event's three (``Load``, ``Process``, ``Save``): ``perform`` does them."""


def run(parts: OrchestratorParts, procedure: Step[T]) -> T:
    """Drive ``procedure`` with the sync methods of ``parts``; return what it returns."""
    value: object = None
    error: Exception | None = None
    while True:
        try:
            effect = procedure.throw(error) if error is not None else procedure.send(value)
        except StopIteration as done:
            result: T = done.value
            return result
        error = None
        try:
            # The three effects of every event are done here, without a call; the others in
            # ``perform``.
            match effect:
                case Load():
                    value = parts.store.load(effect.machine_name, effect.entity_id)
                case Process():
                    value = parts.machine.process(
                        effect.state, effect.trigger, effect.context, history=effect.history
                    )
                case Save():
                    parts.store.commit(effect.commit)
                    value = None
                case _:
                    value = perform(parts, effect)
        except Exception as exc:
            value, error = None, exc


async def arun(parts: OrchestratorParts, procedure: Step[T]) -> T:
    """Drive ``procedure`` with the async methods of ``parts``; return what it returns."""
    value: object = None
    error: Exception | None = None
    while True:
        try:
            effect = procedure.throw(error) if error is not None else procedure.send(value)
        except StopIteration as done:
            result: T = done.value
            return result
        error = None
        try:
            match effect:
                case Load():
                    value = await parts.store.aload(effect.machine_name, effect.entity_id)
                case Process():
                    value = await parts.machine.aprocess(
                        effect.state, effect.trigger, effect.context, history=effect.history
                    )
                case Save():
                    await parts.store.acommit(effect.commit)
                    value = None
                case _:
                    value = await aperform(parts, effect)
        except Exception as exc:
            value, error = None, exc


def perform(parts: OrchestratorParts, effect: OtherEffect) -> object:
    """Do what ``effect`` asks with the sync methods; return what the method returned."""
    match effect:
        case RunAction():
            return parts.machine.executor.run_one(effect.spec, effect.context, effect.action_id)
        case ReadKey():
            return parts.store.get_idempotency(effect.machine_name, effect.entity_id, effect.key)
        case Fire():
            return parts.machine.fire_timer(
                effect.state, effect.timer_key, effect.context, history=effect.history
            )
        case Start():
            return parts.machine.start(effect.context, initial_state=effect.initial_state)
        case ArmTimers():
            scheduler = parts.scheduler
            if scheduler is not None:
                scheduler.schedule(effect.machine_name, effect.entity_id, effect.arm, effect.cancel)
            return None
        case Sleep():
            time.sleep(effect.seconds)
            return None
        case FinishAction():
            parts.store.finish_action(
                effect.item_id, success=effect.success, attempts=effect.attempts, error=effect.error
            )
            return None
        case PendingActions():
            return parts.store.pending_actions(
                now=effect.now, machine_name=effect.machine_name, limit=effect.limit
            )
        case ClaimAction():
            return parts.store.claim_action(effect.item_id, now=effect.now, until=effect.until)
    assert_never(effect)


async def aperform(parts: OrchestratorParts, effect: OtherEffect) -> object:
    """Do what ``effect`` asks with the async methods; return what the method returned."""
    match effect:
        case RunAction():
            return await parts.machine.executor.arun_one(
                effect.spec, effect.context, effect.action_id
            )
        case ReadKey():
            return await parts.store.aget_idempotency(
                effect.machine_name, effect.entity_id, effect.key
            )
        case Fire():
            return await parts.machine.afire_timer(
                effect.state, effect.timer_key, effect.context, history=effect.history
            )
        case Start():
            return await parts.machine.astart(effect.context, initial_state=effect.initial_state)
        case ArmTimers():
            scheduler = parts.scheduler
            if scheduler is not None:
                await scheduler.aschedule(
                    effect.machine_name, effect.entity_id, effect.arm, effect.cancel
                )
            return None
        case Sleep():
            await asyncio.sleep(effect.seconds)
            return None
        case FinishAction():
            await parts.store.afinish_action(
                effect.item_id, success=effect.success, attempts=effect.attempts, error=effect.error
            )
            return None
        case PendingActions():
            return await parts.store.apending_actions(
                now=effect.now, machine_name=effect.machine_name, limit=effect.limit
            )
        case ClaimAction():
            return await parts.store.aclaim_action(
                effect.item_id, now=effect.now, until=effect.until
            )
    assert_never(effect)


__all__ = ["OtherEffect", "aperform", "arun", "perform", "run"]
