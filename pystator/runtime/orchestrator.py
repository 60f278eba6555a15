"""``Orchestrator``: persistence by entity id, with one atomic write per event.

The loop for one event (the "sandwich"): load the entity (state, context, version, history,
timers) -> ``process`` the event on the stored context with the payload merged in (the
machine validates the payload, the context and its model) -> write the new state, the context
after the step (``machine.context_json(result.context)``: the payload merged in, then every
``assign``; a context model's JSON), the history row, the actions to run (outbox) and the
idempotency key in ONE version-checked commit -> tell the scheduler about timers -> run the
actions (with the context after the step; an instance of the context model when there is one)
-> record their outcomes. Stores only ever see JSON dicts.

Guarantees (see docs/guides/orchestrator.md):
* a version conflict is retried with random backoff, re-reading and re-processing, so no
  event is applied twice and no update is lost; past ``max_retries`` it raises
  ``StaleVersionError``;
* an idempotency key is stored in the same commit: a duplicate returns the earlier result;
* actions are at least once: they are in the outbox before they run; ``recover()`` runs the
  ones a crashed process left behind. Each call gets a stable ``action_id``.

This module is the facade: the class, its constructor and thin public methods, each of which
runs one procedure. The procedures live in ``pystator.runtime.orchestration``, one concept per
module: each is a generator that yields typed effects (``effects``: ``Load``, ``Save``,
``Process``, ``RunAction``, ...) and is driven by the sync runner or the async runner
(``runners``), so it is written once for both. ``events`` is the one event procedure, which
consults the record policy (``record_policy``: no cache, or the opt-in record cache);
``creation`` makes new entities, ``outbox`` runs actions and ``recover``, ``timer_handoff``
hands timers to the scheduler, ``idempotency`` replays keys, ``checks`` checks options and
arguments, ``commit`` builds what a commit writes.

Names follow one rule: a sync method has the plain name, its async twin the ``a`` prefix
(``process_event``/``aprocess_event``, ``close``/``aclose``). The ``async_*`` names of earlier
releases stay as aliases of the ``a`` names, because the original description uses them
(``await orchestrator.async_process_event(...)``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from pystator.models.entity import EntityRecord, Page, TransitionRecord
from pystator.models.result import TransitionResult
from pystator.runtime.clock import SYSTEM_CLOCK, Clock
from pystator.runtime.hooks import TransitionObserver
from pystator.runtime.machine import StateMachine
from pystator.runtime.orchestration import creation, outbox
from pystator.runtime.orchestration.checks import ContextValidatorFn, check_options
from pystator.runtime.orchestration.events import event_procedure
from pystator.runtime.orchestration.idempotency import fingerprint
from pystator.runtime.orchestration.record_policy import RecordPolicy, record_policy
from pystator.runtime.orchestration.result_json import ResultJson
from pystator.runtime.orchestration.retry import RetryPolicy
from pystator.runtime.orchestration.runners import arun, run
from pystator.runtime.orchestration.timer_handoff import acancel_deleted, cancel_deleted
from pystator.runtime.ports import Scheduler, StateStore
from pystator.runtime.registry import ActionRegistry, GuardRegistry


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """What one event did: its result, and the entity exactly as the event left it.

    ``entity`` is the record this event committed when it fired; the record it was processed
    against when it was refused or a lenient no-op (nothing written); the entity as read by
    this call when an idempotency key replayed an earlier result (nothing applied again);
    ``None`` when no such entity is stored. Never a later read: another event committed in
    between is not in it.
    """

    result: TransitionResult
    entity: EntityRecord | None


class Closed:
    """What ``Orchestrator.close()`` returns when it closed at once (no running event loop):
    an awaitable that is already done, so ``await orchestrator.close()`` is harmless there."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield from ()


class Orchestrator:
    """Processes events for entities kept in a ``StateStore``.

    Args:
        machine: the machine of every entity this orchestrator handles.
        state_store: where entities live (``InMemoryStateStore``, ``SQLStateStore``,
            ``RedisStateStore``, or your own ``StateStore``).
        guards: a ``GuardRegistry`` bound to the machine (``machine.bind_guards``).
        actions: an ``ActionRegistry`` bound to the machine (``machine.bind_actions``).
        context_validator: ``(entity_id, state, trigger, context) -> (ok, errors)``, run
            before guards (after the machine's own context contract, if any).
        scheduler: arms and cancels timers of delayed transitions (a ``Scheduler``, see
            ``pystator.scheduler``); ``None`` when the machine has none.
        use_initial_state_when_missing: an event for an unknown entity creates it in the
            initial state; otherwise ``EntityNotFoundError`` is raised.
        hooks: hooks that see every orchestrated event, rejected ones included (objects with
            any of ``TransitionHook``'s methods).
        max_retries: version conflicts retried before ``StaleVersionError``.
        action_retry: how failing actions are retried.
        action_lease: seconds a runner holds an outbox item before ``recover`` may take it.
        run_actions: run actions right after the commit (``False``: leave them to
            ``recover()``, e.g. in a separate worker).
        clock: where due times of timers come from (default: wall clock).
        timer_skew: seconds a timer may be fired before its due time (clocks of replicas
            differ a little).
        record_cache: opt-in: how many entities' last committed records to keep, so that
            the next event for one of them skips the load (one round trip instead of two on
            SQL and Redis). ``0`` (the default): no cache, every event loads the entity.
            How the cache behaves: ``pystator.runtime.orchestration.record_policy``.
        max_context_bytes: opt-in: the largest context an entity may store, as compact JSON
            in UTF-8 bytes (see ``pystator.runtime.context_limit``). An event that would
            grow the context past it is a failed result (reason ``context_too_large``,
            ``ContextTooLargeError``, nothing written); ``create_entity`` raises
            ``ContextTooLargeError``. ``None`` (the default): no cap, and no cost.

    Every method that does I/O has an async twin named with the ``a`` prefix; the
    ``async_*`` names are aliases of those. ``close()`` closes the scheduler and the store:
    synchronously when no asyncio loop runs on the thread, else it returns ``aclose()`` to
    await (so ``await orchestrator.close()`` works in async code).
    """

    def __init__(
        self,
        machine: StateMachine,
        state_store: StateStore,
        guards: GuardRegistry | None = None,
        actions: ActionRegistry | None = None,
        context_validator: ContextValidatorFn | None = None,
        scheduler: Scheduler | None = None,
        use_initial_state_when_missing: bool = True,
        *,
        hooks: Sequence[object] = (),
        max_retries: int = 50,
        retry_backoff: float = 0.02,
        action_retry: RetryPolicy | None = None,
        action_lease: float = 30.0,
        run_actions: bool = True,
        clock: Clock | None = None,
        timer_skew: float = 1.0,
        record_cache: int = 0,
        max_context_bytes: int | None = None,
    ) -> None:
        check_options(machine, state_store, max_retries, record_cache, max_context_bytes)
        self.machine = machine
        self.store = state_store
        if guards is not None:
            machine.bind_guards(guards)
        if actions is not None:
            machine.bind_actions(actions)
        self.context_validator = context_validator
        self.scheduler = scheduler
        self.use_initial_state_when_missing = use_initial_state_when_missing
        self.observer = TransitionObserver(list(hooks))
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.action_retry = action_retry or RetryPolicy()
        self.action_lease = action_lease
        self.run_actions = run_actions
        self.clock = clock or SYSTEM_CLOCK
        self.timer_skew = timer_skew
        self.max_context_bytes = max_context_bytes
        # A bound method of one ``ResultJson`` (a method of the orchestrator around it would
        # add a call to every event).
        self.result_json: Callable[[TransitionResult], dict[str, Any]] = ResultJson().__call__
        """``result_json(result)``: ``result`` as JSON without its ``context``, as this
        orchestrator stores it: what may leave the entity (a job's result, a log) never
        copies the entity's data. A new dict on every call."""
        # The record policy (no cache, or the opt-in record cache); tests reach it here.
        self._records: RecordPolicy = record_policy(record_cache)
        if scheduler is not None and hasattr(scheduler, "register"):
            scheduler.register(self)

    @property
    def machine_name(self) -> str:
        return self.machine.name

    def add_hook(self, hook: object) -> None:
        self.observer.add_hook(hook)

    # ------------------------------------------------------------------ events
    def process_event(
        self,
        entity_id: str,
        trigger: str,
        context: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> TransitionResult:
        """Load, process, commit and run actions for one event; returns its result."""
        procedure = event_procedure(
            self, self._records, entity_id, trigger, context, idempotency_key, None
        )
        return run(self, procedure)[0]

    async def aprocess_event(
        self,
        entity_id: str,
        trigger: str,
        context: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> TransitionResult:
        """``process_event`` for asyncio (async guards and actions are awaited)."""
        procedure = event_procedure(
            self, self._records, entity_id, trigger, context, idempotency_key, None
        )
        return (await arun(self, procedure))[0]

    def process_event_outcome(
        self,
        entity_id: str,
        trigger: str,
        context: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> EventOutcome:
        """``process_event``, returning the result and the entity as this event left it.

        Read the entity from here, not with a later ``get_entity``: another event for the
        same entity may commit in between (see ``EventOutcome``).
        """
        procedure = event_procedure(
            self, self._records, entity_id, trigger, context, idempotency_key, None
        )
        return EventOutcome(*run(self, procedure))

    async def aprocess_event_outcome(
        self,
        entity_id: str,
        trigger: str,
        context: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> EventOutcome:
        """``process_event_outcome`` for asyncio."""
        procedure = event_procedure(
            self, self._records, entity_id, trigger, context, idempotency_key, None
        )
        return EventOutcome(*await arun(self, procedure))

    def fire_timer(self, entity_id: str, timer_id: str) -> TransitionResult:
        """Fire an armed timer of an entity (schedulers call this); a timer whose state was
        left, or left and entered again, is a no-op with reason ``stale_timer``."""
        procedure = event_procedure(self, self._records, entity_id, timer_id, None, None, timer_id)
        return run(self, procedure)[0]

    async def afire_timer(self, entity_id: str, timer_id: str) -> TransitionResult:
        """``fire_timer`` for asyncio."""
        procedure = event_procedure(self, self._records, entity_id, timer_id, None, None, timer_id)
        return (await arun(self, procedure))[0]

    # ------------------------------------------------------------------ entities
    def create_entity(
        self,
        entity_id: str,
        context: Mapping[str, Any] | BaseModel | None = None,
        *,
        initial_state: str | None = None,
    ) -> EntityRecord:
        """Store a new entity in the initial configuration (``StaleVersionError`` if it
        exists). No action runs; timers of the initial states are armed.

        With a context model, ``context`` (a dict, or an instance of the model) is validated
        into the model and its JSON stored; a bad one raises ``ContextValidationError``
        listing the fields, and nothing is stored. The initial states' ``assign`` items
        apply to it.
        """
        return run(self, creation.create(self, self._records, entity_id, context, initial_state))

    async def acreate_entity(
        self,
        entity_id: str,
        context: Mapping[str, Any] | BaseModel | None = None,
        *,
        initial_state: str | None = None,
    ) -> EntityRecord:
        """``create_entity`` for asyncio."""
        return await arun(
            self, creation.create(self, self._records, entity_id, context, initial_state)
        )

    def get_entity(self, entity_id: str) -> EntityRecord | None:
        return self.store.load(self.machine_name, entity_id)

    async def aget_entity(self, entity_id: str) -> EntityRecord | None:
        return await self.store.aload(self.machine_name, entity_id)

    def delete_entity(self, entity_id: str) -> bool:
        """Delete an entity with its history, outbox items and idempotency keys (and forget
        it in the record cache), and cancel the timers it had armed with the scheduler;
        ``False`` if it did not exist."""
        self.forget(entity_id)
        # Read first, for the timers to cancel (a delete does not return them); an event
        # committed in between arms a timer that fires as a no-op.
        record = self.get_entity(entity_id) if self.scheduler is not None else None
        deleted = self.store.delete_entity(self.machine_name, entity_id)
        self.forget(entity_id)
        if deleted and record is not None:
            cancel_deleted(self.scheduler, self.machine_name, record)
        return deleted

    async def adelete_entity(self, entity_id: str) -> bool:
        """``delete_entity`` for asyncio."""
        self.forget(entity_id)
        record = await self.aget_entity(entity_id) if self.scheduler is not None else None
        deleted = await self.store.adelete_entity(self.machine_name, entity_id)
        self.forget(entity_id)
        if deleted and record is not None:
            await acancel_deleted(self.scheduler, self.machine_name, record)
        return deleted

    def forget(self, entity_id: str | None = None) -> None:
        """Drop ``entity_id`` (every entity, when ``None``) from the record cache.

        Never needed for correctness (a stale entry only costs a refused commit); useful to
        free memory, or after changing entities behind the orchestrator's back.
        """
        self._records.forget(entity_id)

    def get_history(
        self, entity_id: str, *, limit: int = 100, offset: int = 0
    ) -> list[TransitionRecord]:
        return self.store.get_history(self.machine_name, entity_id, limit=limit, offset=offset)

    async def aget_history(
        self, entity_id: str, *, limit: int = 100, offset: int = 0
    ) -> list[TransitionRecord]:
        return await self.store.aget_history(
            self.machine_name, entity_id, limit=limit, offset=offset
        )

    def list_entities(self, *, state: str | None = None, limit: int = 100, offset: int = 0) -> Page:
        return self.store.list_entities(self.machine_name, state=state, limit=limit, offset=offset)

    async def alist_entities(
        self, *, state: str | None = None, limit: int = 100, offset: int = 0
    ) -> Page:
        return await self.store.alist_entities(
            self.machine_name, state=state, limit=limit, offset=offset
        )

    # ------------------------------------------------------------------ outbox, closing
    def recover(self, *, limit: int = 1000) -> int:
        """Run outbox actions whose runner died (lease expired); returns how many ran.

        Call it at start-up and periodically (``pystator worker`` does both).
        """
        return run(self, outbox.recover(self, limit))

    async def arecover(self, *, limit: int = 1000) -> int:
        """``recover`` for asyncio."""
        return await arun(self, outbox.recover(self, limit))

    def close(self) -> Awaitable[None]:
        """Stop the scheduler (if any) and close the store.

        With no asyncio loop running on this thread, closes now (the scheduler's ``close``,
        then the store's) and returns an awaitable that is already done. Called where a loop
        runs, returns ``aclose()``, which does it asynchronously: ``await
        orchestrator.close()`` (as the original description writes it) is the async close
        there, and does no harm elsewhere.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            if self.scheduler is not None:
                self.scheduler.close()
            self.store.close()
            return Closed()
        return self.aclose()

    async def aclose(self) -> None:
        """Stop the scheduler (if any) and close the store, for asyncio."""
        if self.scheduler is not None:
            await self.scheduler.aclose()
        await self.store.aclose()

    # The names of earlier releases, kept because the original description uses them.
    async_process_event = aprocess_event
    async_process_event_outcome = aprocess_event_outcome
    async_fire_timer = afire_timer
    async_create_entity = acreate_entity
    async_get_entity = aget_entity
    async_delete_entity = adelete_entity
    async_get_history = aget_history
    async_list_entities = alist_entities


__all__ = ["ContextValidatorFn", "EventOutcome", "Orchestrator", "RetryPolicy", "fingerprint"]
