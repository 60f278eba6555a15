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

Each procedure is a generator that yields I/O operations; a sync and an async driver perform
them (the same trick the engine uses for guards). The event procedure still exists twice,
without and with the record cache (``_event``, ``_cached_event``).

Parts of the orchestrator live in ``pystator.runtime.orchestration``: the record cache and its
creation stamps (``record_cache``), the stored JSON of a result (``result_json``), what a commit
and a new entity are (``commit``: pure builders) and ``RetryPolicy`` (``retry``, re-exported
here). The timer id/due rule is ``pystator.runtime.timers``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter
from typing import Any, NoReturn

from pydantic import BaseModel

from pystator.engine.outcomes import context_invalid, timer_refused
from pystator.errors import (
    ContextValidationError,
    EntityNotFoundError,
    IdempotencyConflictError,
    StaleVersionError,
)
from pystator.models.definition import ActionSpec
from pystator.models.entity import (
    Commit,
    EntityRecord,
    IdempotencyRecord,
    OutboxItem,
    Page,
    TransitionRecord,
)
from pystator.models.result import TransitionResult
from pystator.models.snapshot import TimerSnapshot
from pystator.runtime.clock import SYSTEM_CLOCK, Clock
from pystator.runtime.context_limit import check_limit, too_large, too_large_error
from pystator.runtime.hooks import TransitionObserver
from pystator.runtime.machine import StateMachine
from pystator.runtime.orchestration.commit import (
    CREATE_TRIGGER,
    build_commit,
    creation_commit,
    new_entity,
)
from pystator.runtime.orchestration.record_cache import CREATION_STAMPS, RecordCache
from pystator.runtime.orchestration.result_json import NOT_DUMPED, ResultJson
from pystator.runtime.orchestration.retry import RetryPolicy
from pystator.runtime.ports import StateStore
from pystator.runtime.registry import ActionRegistry, GuardRegistry

logger = logging.getLogger("pystator.orchestrator")

ContextValidatorFn = Callable[[str, str, str, dict[str, Any]], tuple[bool, list[str]]]
"""``(entity_id, state, trigger, context) -> (ok, errors)``; runs before guards."""


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


_Op = tuple[str, tuple[Any, ...], Mapping[str, Any] | None]
"""One I/O operation the procedure needs, ``(kind, args, kwargs or None)``; a driver performs
it (a plain tuple: the cheapest thing to make). ``kind`` names a pair of methods in
``_OPERATIONS``: the sync driver calls the first, the async driver awaits the second."""

Procedure = Generator[_Op, Any, Any]

# kind -> (owner, sync method, async method): what the sync and async drivers call for an
# operation. The owner is the store, the machine, the machine's executor or the orchestrator.
_OPERATIONS: dict[str, tuple[str, str, str]] = {
    "load": ("store", "load", "aload"),
    "commit": ("store", "commit", "acommit"),
    "key": ("store", "get_idempotency", "aget_idempotency"),
    "pending": ("store", "pending_actions", "apending_actions"),
    "claim": ("store", "claim_action", "aclaim_action"),
    "finish": ("store", "finish_action", "afinish_action"),
    "process": ("machine", "process", "aprocess"),
    "fire": ("machine", "fire_timer", "afire_timer"),
    "start": ("machine", "start", "astart"),
    "action": ("machine.executor", "run_one", "arun_one"),
    "sleep": ("", "_sleep", "_asleep"),
    "timers": ("", "_schedule_sync", "_schedule_async"),
}


def _getters(index: int) -> dict[str, Callable[[Any], Callable[..., Any]]]:
    """kind -> a getter of the method an operation calls, from the orchestrator: the method
    is looked up on every call (a store or machine method may be replaced after the
    orchestrator was made), by one C call (``attrgetter`` follows the dotted path)."""
    return {
        kind: attrgetter(f"{names[0]}.{names[index]}" if names[0] else names[index])
        for kind, names in _OPERATIONS.items()
    }


_SYNC_GETTERS = _getters(1)
_ASYNC_GETTERS = _getters(2)


def fingerprint(trigger: str, context: Mapping[str, Any] | None) -> str:
    """What an idempotency key stands for: the trigger and the event's context."""
    canonical = json.dumps(
        {"trigger": trigger, "context": context or {}}, sort_keys=True, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _refuse(invalid: TransitionResult) -> NoReturn:
    """Raise the ``ContextValidationError`` of a ``context_validation`` result."""
    assert invalid.error is not None
    raise ContextValidationError(
        invalid.error.message, errors=list(invalid.metadata.get("errors", []))
    )


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
        scheduler: arms and cancels timers of delayed transitions (see
            ``pystator.scheduler``); ``None`` when the machine has none.
        use_initial_state_when_missing: an event for an unknown entity creates it in the
            initial state; otherwise ``EntityNotFoundError`` is raised.
        hooks: hooks that see every orchestrated event, rejected ones included.
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
        max_context_bytes: opt-in: the largest context an entity may store, as compact JSON
            in UTF-8 bytes (see ``pystator.runtime.context_limit``). An event that would
            grow the context past it is a failed result (reason ``context_too_large``,
            ``ContextTooLargeError``, nothing written); ``create_entity`` raises
            ``ContextTooLargeError``. ``None`` (the default): no cap, and no cost.

    The record cache (``record_cache > 0``) pays off when this orchestrator is the usual
    writer of its entities (one process, or replicas with entity affinity); when replicas
    take turns on the same entities it mostly costs refused commits. It never changes an
    outcome. An event for a cached entity is processed on the cached record and committed
    with ``Commit.incarnation`` set: the store writes only if the entity is still at the
    cached version AND its ``created_at`` is the cached one (not deleted and created again).
    If anyone else wrote the entity meanwhile (another orchestrator, process or replica; a
    raw store write; a delete and re-creation), that commit is refused and the event runs
    again on a fresh read, without backoff and without using up ``max_retries``; the entity
    is then not cached again until an event finds it unchanged since this orchestrator's last
    commit. A rejection (or an exception from a guard, validator or hook) computed on a
    cached record is confirmed with a load: if the entity is still at the cached version and
    ``created_at`` it stands, otherwise the event runs again on the fresh record. Hooks'
    ``on_transition_start`` may see an attempt whose commit is then refused and retried (as
    on any version conflict). Entries are dropped when anything raises, and on
    ``delete_entity``/``forget``. Requires a store that checks ``Commit.incarnation`` (the
    three stores here do); a writer that changes an entity without changing its version is
    not seen.
    """

    def __init__(
        self,
        machine: StateMachine,
        state_store: StateStore,
        guards: GuardRegistry | None = None,
        actions: ActionRegistry | None = None,
        context_validator: ContextValidatorFn | None = None,
        scheduler: Any = None,
        use_initial_state_when_missing: bool = True,
        *,
        hooks: list[Any] | tuple[Any, ...] = (),
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
        if not isinstance(machine, StateMachine):
            raise TypeError(f"machine must be a StateMachine, got {type(machine).__name__}")
        if state_store is None:
            raise TypeError("state_store is required (e.g. InMemoryStateStore())")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if not isinstance(record_cache, int) or isinstance(record_cache, bool):
            raise TypeError(f"record_cache must be an int >= 0, got {type(record_cache).__name__}")
        if record_cache < 0:
            raise ValueError("record_cache must be an int >= 0")
        if max_context_bytes is not None and (
            not isinstance(max_context_bytes, int)
            or isinstance(max_context_bytes, bool)
            or max_context_bytes < 1
        ):
            raise ValueError(
                f"max_context_bytes must be None or an int >= 1, got {max_context_bytes!r}"
            )
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
        # The JSON of a result as it is stored (``ResultJson``), as a bound method: calling
        # it costs what calling a method of the orchestrator did.
        self._result_json: Callable[[TransitionResult], dict[str, Any]] = ResultJson().__call__
        # The opt-in record cache (see ``orchestration/record_cache.py``); tests reach it here.
        self._records = RecordCache(record_cache) if record_cache else None
        if scheduler is not None and hasattr(scheduler, "register"):
            scheduler.register(self)

    @property
    def machine_name(self) -> str:
        return self.machine.name

    def add_hook(self, hook: Any) -> None:
        self.observer.add_hook(hook)

    # ------------------------------------------------------------------ public API
    def process_event(
        self,
        entity_id: str,
        trigger: str,
        context: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> TransitionResult:
        """Load, process, commit and run actions for one event; returns its result."""
        result: TransitionResult = self._drive(
            self._procedure(entity_id, trigger, context, idempotency_key, None)
        )[0]
        return result

    async def async_process_event(
        self,
        entity_id: str,
        trigger: str,
        context: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> TransitionResult:
        """``process_event`` for asyncio (async guards and actions are awaited)."""
        result: TransitionResult = (
            await self._adrive(self._procedure(entity_id, trigger, context, idempotency_key, None))
        )[0]
        return result

    def process_event_outcome(
        self,
        entity_id: str,
        trigger: str,
        context: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> EventOutcome:
        """``process_event``, returning the result AND the entity as this event left it.

        Read the entity from here, not with a later ``get_entity``: another event for the
        same entity may commit in between (see ``EventOutcome``).
        """
        result, entity = self._drive(
            self._procedure(entity_id, trigger, context, idempotency_key, None)
        )
        return EventOutcome(result, entity)

    async def async_process_event_outcome(
        self,
        entity_id: str,
        trigger: str,
        context: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> EventOutcome:
        """``process_event_outcome`` for asyncio."""
        result, entity = await self._adrive(
            self._procedure(entity_id, trigger, context, idempotency_key, None)
        )
        return EventOutcome(result, entity)

    def fire_timer(self, entity_id: str, timer_id: str) -> TransitionResult:
        """Fire an armed timer of an entity (schedulers call this); a timer whose state was
        left, or left and entered again, is a no-op with reason ``stale_timer``."""
        result: TransitionResult = self._drive(
            self._procedure(entity_id, timer_id, None, None, timer_id)
        )[0]
        return result

    async def async_fire_timer(self, entity_id: str, timer_id: str) -> TransitionResult:
        result: TransitionResult = (
            await self._adrive(self._procedure(entity_id, timer_id, None, None, timer_id))
        )[0]
        return result

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
        record: EntityRecord = self._drive(self._create(entity_id, context, initial_state))
        return record

    async def async_create_entity(
        self,
        entity_id: str,
        context: Mapping[str, Any] | BaseModel | None = None,
        *,
        initial_state: str | None = None,
    ) -> EntityRecord:
        record: EntityRecord = await self._adrive(self._create(entity_id, context, initial_state))
        return record

    def get_entity(self, entity_id: str) -> EntityRecord | None:
        return self.store.load(self.machine_name, entity_id)

    async def async_get_entity(self, entity_id: str) -> EntityRecord | None:
        return await self.store.aload(self.machine_name, entity_id)

    def delete_entity(self, entity_id: str) -> bool:
        """Delete an entity with its history, outbox items and idempotency keys (and forget
        it in the record cache); ``False`` if it did not exist."""
        self.forget(entity_id)
        deleted = self.store.delete_entity(self.machine_name, entity_id)
        self.forget(entity_id)
        return deleted

    async def async_delete_entity(self, entity_id: str) -> bool:
        self.forget(entity_id)
        deleted = await self.store.adelete_entity(self.machine_name, entity_id)
        self.forget(entity_id)
        return deleted

    def forget(self, entity_id: str | None = None) -> None:
        """Drop ``entity_id`` (every entity, when ``None``) from the record cache.

        Never needed for correctness (a stale entry only costs a refused commit); useful to
        free memory, or after changing entities behind the orchestrator's back.
        """
        records = self._records
        if records is None:
            return
        if entity_id is None:
            records.clear()
        else:
            records.drop(entity_id)

    def get_history(
        self, entity_id: str, *, limit: int = 100, offset: int = 0
    ) -> list[TransitionRecord]:
        return self.store.get_history(self.machine_name, entity_id, limit=limit, offset=offset)

    async def async_get_history(
        self, entity_id: str, *, limit: int = 100, offset: int = 0
    ) -> list[TransitionRecord]:
        return await self.store.aget_history(
            self.machine_name, entity_id, limit=limit, offset=offset
        )

    def list_entities(self, *, state: str | None = None, limit: int = 100, offset: int = 0) -> Page:
        return self.store.list_entities(self.machine_name, state=state, limit=limit, offset=offset)

    async def async_list_entities(
        self, *, state: str | None = None, limit: int = 100, offset: int = 0
    ) -> Page:
        return await self.store.alist_entities(
            self.machine_name, state=state, limit=limit, offset=offset
        )

    def recover(self, *, limit: int = 1000) -> int:
        """Run outbox actions whose runner died (lease expired); returns how many ran.

        Call it at start-up and periodically (``pystator worker`` does both).
        """
        count: int = self._drive(self._recover(limit))
        return count

    async def arecover(self, *, limit: int = 1000) -> int:
        count: int = await self._adrive(self._recover(limit))
        return count

    async def close(self) -> None:
        """Stop the scheduler (if any) and close the store (``await orchestrator.close()``)."""
        if self.scheduler is not None:
            await self.scheduler.close()
        await self.store.aclose()

    def close_sync(self) -> None:
        """``close`` for sync code."""
        if self.scheduler is not None and hasattr(self.scheduler, "close_sync"):
            self.scheduler.close_sync()
        self.store.close()

    async def aclose(self) -> None:
        """Alias of ``close``."""
        await self.close()

    # ------------------------------------------------------------------ drivers
    def _drive(self, procedure: Procedure) -> Any:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                op = procedure.throw(error) if error is not None else procedure.send(value)
            except StopIteration as done:
                return done.value
            error = None
            try:
                kind, args, kwargs = op
                fn = _SYNC_GETTERS[kind](self)
                value = fn(*args, **kwargs) if kwargs else fn(*args)
            except Exception as exc:
                value, error = None, exc

    async def _adrive(self, procedure: Procedure) -> Any:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                op = procedure.throw(error) if error is not None else procedure.send(value)
            except StopIteration as done:
                return done.value
            error = None
            try:
                kind, args, kwargs = op
                fn = _ASYNC_GETTERS[kind](self)
                value = await (fn(*args, **kwargs) if kwargs else fn(*args))
            except Exception as exc:
                value, error = None, exc

    @staticmethod
    def _sleep(seconds: float) -> None:
        time.sleep(seconds)

    @staticmethod
    async def _asleep(seconds: float) -> None:
        await asyncio.sleep(seconds)

    def _schedule_sync(self, entity_id: str, arm: list[TimerSnapshot], cancel: list[str]) -> None:
        scheduler = self.scheduler
        if scheduler is None:
            return
        scheduler.schedule_sync(self.machine_name, entity_id, arm, cancel)

    async def _schedule_async(
        self, entity_id: str, arm: list[TimerSnapshot], cancel: list[str]
    ) -> None:
        scheduler = self.scheduler
        if scheduler is None:
            return
        await scheduler.schedule(self.machine_name, entity_id, arm, cancel)

    # ------------------------------------------------------------------ procedures
    def _procedure(
        self,
        entity_id: str,
        trigger: str,
        context: Mapping[str, Any] | None,
        idempotency_key: str | None,
        timer_id: str | None,
    ) -> Procedure:
        """The procedure of one event, with the hooks around it if there are any; it returns
        ``(result, entity)`` as ``EventOutcome`` describes them."""
        if self.observer:
            return self._observed(entity_id, trigger, context, idempotency_key, timer_id)
        return self._event(entity_id, trigger, context, idempotency_key, timer_id)

    def _observed(
        self,
        entity_id: str,
        trigger: str,
        context: Mapping[str, Any] | None,
        idempotency_key: str | None,
        timer_id: str | None,
    ) -> Procedure:
        """``_event`` with the hooks around it (``_procedure`` calls it when there are any)."""
        observer = self.observer
        observer.before_process(entity_id, trigger, context or {})
        started = time.perf_counter()
        try:
            done: tuple[TransitionResult, EntityRecord | None] = yield from self._event(
                entity_id, trigger, context, idempotency_key, timer_id
            )
        except Exception as exc:
            observer.transition_error(
                entity_id, trigger, exc, (time.perf_counter() - started) * 1e3
            )
            raise
        observer.transition_complete(done[0], (time.perf_counter() - started) * 1e3)
        return done

    def _created_at(self, entity_id: str, now: float) -> float:
        """The ``created_at`` of a new entity: the clock's reading (made unique per entity
        with a record cache, see ``CreationStamps``)."""
        if self._records is None:
            return now
        return CREATION_STAMPS.stamp(self.machine_name, entity_id, now)

    def _initial(self, entity_id: str, ctx: dict[str, Any]) -> Procedure:
        if not self.use_initial_state_when_missing:
            raise EntityNotFoundError(
                f"entity '{entity_id}' of machine '{self.machine_name}' does not exist"
            )
        entry: TransitionResult = yield ("start", (ctx,), None)
        # What the initial states' ``assign`` items made of the payload, for the event to
        # start from (a context model's JSON, even when nothing was assigned). The record is
        # not stored: its version 0 stands for "nothing yet" (see ``build_commit``).
        base = self._stored_context(entry, ctx) if entry.success else ctx
        now = self.clock.now()
        return new_entity(
            self.machine_name,
            entity_id,
            entry,
            {} if base is ctx else base,
            version=0,
            now=now,
            created_at=self._created_at(entity_id, now),
            fallback_state=self.machine.get_initial_state(),
        )

    def _event(
        self,
        entity_id: str,
        trigger: str,
        context: Mapping[str, Any] | None,
        idempotency_key: str | None,
        timer_id: str | None,
    ) -> Procedure:
        if not isinstance(entity_id, str) or not entity_id:
            raise ValueError("entity_id must be a non-empty string")
        if context is not None:
            if type(context) is not dict and not isinstance(context, Mapping):
                raise TypeError("context must be a mapping")
            # Stored records are made without validation (``build_commit``): check here.
            if not all(map(isinstance, context, repeat(str))):
                raise TypeError("context keys must be strings")
        if self._records is not None:
            return (
                yield from self._cached_event(
                    entity_id, trigger, context, idempotency_key, timer_id
                )
            )
        machine_name = self.machine_name
        fp = fingerprint(trigger, context) if idempotency_key is not None else ""
        last_error: StaleVersionError | None = None
        for attempt in range(self.max_retries + 1):
            loaded: EntityRecord | None = yield ("load", (machine_name, entity_id), None)
            begun = yield from self._begin(
                loaded, entity_id, context, idempotency_key, fp, timer_id
            )
            if isinstance(begun, TransitionResult):
                return begun, loaded  # replayed, or a timer of an entity that does not exist
            record, ctx = begun
            result, after = yield from self._decide(record, trigger, ctx, entity_id, timer_id)
            if after is None:
                # Rejected, or a lenient no-op: nothing to write.
                return result, record if record.version else None
            if self.observer:
                self.observer.transition_start(result)  # before anything is persisted
            now = self.clock.now()
            commit, outbox = build_commit(
                record,
                result,
                after,
                now=now,
                result_json=self._result_json(result),
                idempotency_key=idempotency_key,
                fingerprint=fp,
                timer_id=timer_id,
                incarnation=None,
                claimed_until=now + self.action_lease if self.run_actions else 0.0,
            )
            try:
                yield ("commit", (commit,), None)
            except StaleVersionError as exc:
                last_error = exc
                if attempt < self.max_retries:
                    yield (
                        "sleep",
                        (random.uniform(0, self.retry_backoff * min(8, attempt + 1)),),
                        None,
                    )
                continue
            yield from self._after_commit(entity_id, record, commit, outbox)
            return result, commit.entity
        raise self._gave_up(entity_id, last_error)

    def _cached_event(
        self,
        entity_id: str,
        trigger: str,
        context: Mapping[str, Any] | None,
        idempotency_key: str | None,
        timer_id: str | None,
    ) -> Procedure:
        """``_event`` with the record cache (``record_cache > 0``): see the class docstring.

        The first attempt runs on the cached record, if there is one, and its commit carries
        the record's ``created_at`` as ``Commit.incarnation``. A cached attempt that is
        refused, or whose rejection a load does not confirm, marks the entity as written by
        someone else too and goes on as ``_event`` does, on a fresh read.
        """
        cache = self._records
        assert cache is not None
        machine_name = self.machine_name
        fp = fingerprint(trigger, context) if idempotency_key is not None else ""
        try:
            entry = cache.take(entity_id)
            record: EntityRecord | None = None
            marker: int | None = None  # the version last committed here (someone else writes)
            if isinstance(entry, int):
                marker = entry
            else:
                record = entry
            cached = record is not None  # this attempt runs on the cached record
            loaded = False  # ``record`` was just loaded (to confirm a cached rejection)
            behind = False  # the cache was behind: someone else writes this entity
            conflicts = 0
            last_error: StaleVersionError | None = None
            while True:
                if not cached and not loaded:
                    record = yield ("load", (machine_name, entity_id), None)
                loaded = False
                # A cached record was read or written before the key is read, so ``_begin``'s
                # order (the entity first, then the key) holds for it too.
                begun = yield from self._begin(
                    record, entity_id, context, idempotency_key, fp, timer_id
                )
                if isinstance(begun, TransitionResult):
                    return begun, record  # replayed, or a timer of an entity that does not exist
                record, ctx = begun
                result: TransitionResult | None = None
                after: dict[str, Any] | None = None
                error: Exception | None = None
                try:
                    result, after = yield from self._decide(
                        record, trigger, ctx, entity_id, timer_id
                    )
                except Exception as exc:
                    if not cached:
                        raise
                    error = exc
                if result is None or after is None:
                    if not cached:
                        assert result is not None
                        # Rejected, or a lenient no-op: nothing to write.
                        return result, record if record.version else None
                    # Computed on the cached record: it stands if the entity is unchanged.
                    fresh: EntityRecord | None = yield ("load", (machine_name, entity_id), None)
                    if (
                        fresh is not None
                        and fresh.version == record.version
                        and fresh.created_at == record.created_at
                    ):
                        if error is not None:
                            raise error
                        assert result is not None
                        cache.keep(fresh)
                        # ``record`` (taken from the cache) equals ``fresh``; the cache
                        # keeps ``fresh``, so the caller gets the one nobody else holds.
                        return result, record
                    record, cached, loaded, behind = fresh, False, True, True
                    continue
                if self.observer:
                    # Before anything is persisted (a cached attempt may be refused: then the
                    # event runs again, as after a version conflict).
                    self.observer.transition_start(result)
                now = self.clock.now()
                commit, outbox = build_commit(
                    record,
                    result,
                    after,
                    now=now,
                    result_json=self._result_json(result),
                    idempotency_key=idempotency_key,
                    fingerprint=fp,
                    timer_id=timer_id,
                    incarnation=record.created_at if cached else None,
                    claimed_until=now + self.action_lease if self.run_actions else 0.0,
                )
                try:
                    yield ("commit", (commit,), None)
                except StaleVersionError as exc:
                    if cached:
                        # The cache fell behind: not a conflict of this event.
                        cached, behind = False, True
                        continue
                    last_error = exc
                    conflicts += 1
                    if conflicts > self.max_retries:
                        break
                    yield (
                        "sleep",
                        (random.uniform(0, self.retry_backoff * min(8, conflicts)),),
                        None,
                    )
                    continue
                # Kept right after the commit, before actions get the context. An entity that
                # someone else wrote since this orchestrator's last commit (a refused cached
                # commit, a conflict, a marker behind the loaded version) is not cached: its
                # cache would mostly be behind, and cost a refused commit per event.
                entity = commit.entity
                if (
                    behind
                    or conflicts
                    or (marker is not None and record.version != marker)
                    or entity.created_at != record.created_at
                ):
                    cache.mark(entity_id, entity.version)
                else:
                    cache.put(entity)
                yield from self._after_commit(entity_id, record, commit, outbox)
                return result, commit.entity
            raise self._gave_up(entity_id, last_error)
        except Exception:
            # Whatever failed, the cached record may be behind (or the commit's fate unknown).
            cache.drop(entity_id)
            raise

    def _begin(
        self,
        record: EntityRecord | None,
        entity_id: str,
        context: Mapping[str, Any] | None,
        idempotency_key: str | None,
        fp: str,
        timer_id: str | None,
    ) -> Procedure:
        """What every attempt does once it has the entity's record (``None``: not stored):
        the stored result of an applied idempotency key, a refusal for a timer of an entity
        that does not exist, or the record (a new entity's, for ``None``) and the context
        the event sees, as ``(record, ctx)``.

        The key is read AFTER the entity: a key committed at or before the version read is
        then always seen. Read before, a duplicate committed in between would be processed
        against the newer state (and, say, rejected) instead of replayed.
        """
        if idempotency_key is not None:
            done: IdempotencyRecord | None = yield (
                "key",
                (self.machine_name, entity_id, idempotency_key),
                None,
            )
            if done is not None:
                return self._replay(done, fp, idempotency_key)
        if record is None:
            if timer_id is not None:
                return timer_refused(entity_id, timer_id, "the entity does not exist")
            record = yield from self._initial(entity_id, dict(context or {}))
        assert record is not None
        ctx = {**record.context, **context} if context else dict(record.context)
        return record, ctx

    def _decide(
        self,
        record: EntityRecord,
        trigger: str,
        ctx: dict[str, Any],
        entity_id: str,
        timer_id: str | None,
    ) -> Procedure:
        """The engine's result for the event on ``record`` (nothing written yet) and the
        context to commit with it, as ``(result, context)``; the context is ``None`` when
        there is nothing to write (a rejection, a lenient no-op, a context over
        ``max_context_bytes``)."""
        history = {k: tuple(v) for k, v in record.history.items()} if record.history else None
        result: TransitionResult
        if timer_id is not None:
            timer = next((t for t in record.timers if t.id == timer_id), None)
            if timer is None:
                return timer_refused(record.state, timer_id, "it is not armed (stale)"), None
            if timer.due > self.clock.now() + self.timer_skew:
                refused = timer_refused(
                    record.state, timer_id, "it is not due yet", "timer_not_due"
                )
                return refused, None
            result = yield ("fire", (record.state, timer.key, ctx), {"history": history})
        else:
            invalid = self._validate(entity_id, record.state, trigger, ctx)
            if invalid is not None:
                return invalid, None
            result = yield ("process", (record.state, trigger, ctx), {"history": history})
        if not result.success or "reason" in result.metadata:
            return result, None
        after = self._stored_context(result, ctx)
        limit = self.max_context_bytes
        # A context equal to the stored one cannot grow (a timer, an event without a
        # payload): comparing is far cheaper than encoding it again.
        if limit is not None and after != record.context:
            size = check_limit(limit, after, record.context if record.version else None)
            if size is not None:
                return too_large(record.state, result.trigger, entity_id, size, limit), None
        return result, after

    def _stored_context(self, result: TransitionResult, ctx: dict[str, Any]) -> dict[str, Any]:
        """The context to commit after ``result``: ``machine.context_json(result.context)``.

        ``ctx`` (the stored context with the payload merged in) is this event's own dict:
        when the step assigned nothing and the machine has no context model, the result
        carries ``ctx`` itself and it is committed as it is (no copy).
        """
        after = result.context
        if after is None or after is ctx:
            return ctx
        stored: dict[str, Any] = self.machine.context_json(after)
        return stored

    def _after_commit(
        self, entity_id: str, record: EntityRecord, commit: Commit, outbox: list[OutboxItem]
    ) -> Procedure:
        """Timers to the scheduler, then the actions (if this orchestrator runs them)."""
        # A new entity's initial timers were never handed to the scheduler.
        if record.timers or commit.entity.timers:  # most entities have none
            scheduled = record.timers if record.version > 0 else []
            arm = [t for t in commit.entity.timers if t not in scheduled]
            cancel = [t.id for t in scheduled if t not in commit.entity.timers]
            if arm or cancel:
                yield from self._hand_timers(entity_id, arm, cancel)
        if self.run_actions and outbox:
            yield from self._run_items(outbox)

    def _gave_up(self, entity_id: str, last_error: StaleVersionError | None) -> StaleVersionError:
        return StaleVersionError(
            f"entity '{entity_id}' kept changing: gave up after {self.max_retries + 1} attempts",
            entity_id=entity_id,
            expected_version=last_error.expected_version if last_error else None,
            actual_version=last_error.actual_version if last_error else None,
        )

    def _validate(
        self, entity_id: str, state: str, trigger: str, ctx: dict[str, Any]
    ) -> TransitionResult | None:
        """The refusal of ``context_validator``, run after the machine's own contract (so it
        sees only contexts that satisfy it); ``None`` when there is none or it accepts."""
        validator = self.context_validator
        if validator is None:
            return None  # ``process`` checks the machine's own contract (and payload) itself
        invalid = self.machine.check_context(state, trigger, ctx)
        if invalid is not None:
            return invalid
        ok, errors = validator(entity_id, state, trigger, ctx)
        if ok:
            return None
        return context_invalid(state, trigger, list(errors) or ["rejected by context_validator"])

    def _replay(self, done: IdempotencyRecord, fp: str, key: str) -> TransitionResult:
        if done.fingerprint != fp:
            raise IdempotencyConflictError(
                f"idempotency key '{key}' was already used for a different event "
                "(another trigger or payload)"
            )
        data = dict(done.result)
        data["metadata"] = {**data.get("metadata", {}), "replayed": True}
        context = data.get("context")
        if context is not None and self.machine.context_model is not None:
            # The context the event committed, as the machine's model (a fresh result has
            # an instance); kept as JSON if the model no longer accepts it.
            try:
                data["context"] = self.machine.coerce_context(context)
            except ContextValidationError as exc:
                logger.warning(
                    "idempotency key %r: the stored context no longer fits %s (%s); "
                    "replaying it as JSON",
                    key,
                    self.machine.context_model.__name__,
                    "; ".join(exc.errors),
                )
        return TransitionResult.model_validate(data)

    def result_json(self, result: TransitionResult) -> dict[str, Any]:
        """``result`` as JSON without its ``context``, as this orchestrator stores it: what
        may leave the entity (a job's result, a log) never copies the entity's data. A new
        dict on every call."""
        return self._result_json(result)

    def _run_items(self, items: list[OutboxItem]) -> Procedure:
        """Run outbox items in order with the retry policy; record each outcome."""
        ran = 0
        policy = self.action_retry
        typed = self.machine.context_model is not None
        for item in items:
            spec = ActionSpec(name=item.name, params=item.params)
            error: str | None = None
            attempt = 0
            for attempt in range(1, policy.max_attempts + 1):
                # Each attempt gets its own copy of the context the event committed (the
                # model's instance for a typed machine): an action that changes it changes
                # nothing for the next one.
                ctx: Any
                try:
                    ctx = self.machine.coerce_context(item.context) if typed else dict(item.context)
                except ContextValidationError as exc:
                    # Only if the model changed since the commit: no attempt can pass.
                    error = f"{type(exc).__name__}: {exc}"
                    logger.error("action %s (%s) not run: %s", item.name, item.id, error)
                    break
                outcome = yield ("action", (spec, ctx, item.id), None)
                if outcome.success:
                    error = None
                    break
                error = outcome.error
                logger.warning(
                    "action %s (%s) failed on attempt %d: %s", item.name, item.id, attempt, error
                )
                if attempt < policy.max_attempts:
                    yield ("sleep", (policy.delay(attempt),), None)
            yield (
                "finish",
                (item.id,),
                {"success": error is None, "attempts": item.attempts + attempt, "error": error},
            )
            ran += 1
        return ran

    def _create(
        self,
        entity_id: str,
        context: Mapping[str, Any] | BaseModel | None,
        initial_state: str | None,
    ) -> Procedure:
        if not isinstance(entity_id, str) or not entity_id:
            raise ValueError("entity_id must be a non-empty string")
        typed = self.machine.context_model is not None
        if isinstance(context, BaseModel) and not typed:
            raise TypeError(
                f"context must be a mapping: machine '{self.machine_name}' has no context model"
            )
        given: Any = context if isinstance(context, BaseModel) else dict(context or {})
        value: Any = given
        if typed:
            # The context is validated into the model (coerced: "5" -> 5) before anything
            # else: a bad one is refused as a context that breaks the contract is.
            try:
                value = self.machine.coerce_context(given)
            except ContextValidationError as exc:
                where = initial_state or self.machine.get_initial_state()
                _refuse(context_invalid(where, CREATE_TRIGGER, list(exc.errors)))
        entry: TransitionResult = yield ("start", (value,), {"initial_state": initial_state})
        if entry.metadata.get("reason") == "context_validation":
            _refuse(entry)  # an ``assign`` of an initial state made an invalid context
        after = value if entry.context is None else entry.context
        ctx: dict[str, Any] = (
            given if after is given and type(given) is dict else self.machine.context_json(after)
        )
        if entry.target_state:  # ``check_context`` is ``None`` without a contract
            invalid = self.machine.check_context(entry.target_state, CREATE_TRIGGER, ctx)
            if invalid is not None:
                _refuse(invalid)
        limit = self.max_context_bytes
        if limit is not None:
            size = check_limit(limit, ctx, None)
            if size is not None:
                raise too_large_error(entity_id, size, limit)
        now = self.clock.now()
        entity = new_entity(
            self.machine_name,
            entity_id,
            entry,
            ctx,
            version=1,
            now=now,
            created_at=self._created_at(entity_id, now),
            fallback_state=self.machine.get_initial_state(),
        )
        entry_json = entry.model_dump(mode="json", exclude=NOT_DUMPED)
        yield ("commit", (creation_commit(entity, entry_json, now),), None)
        if self._records is not None:
            self._records.put(entity)
        if entity.timers:
            yield from self._hand_timers(entity_id, list(entity.timers), [])
        return entity

    def _hand_timers(
        self, entity_id: str, arm: list[TimerSnapshot], cancel: list[str]
    ) -> Procedure:
        try:
            yield ("timers", (entity_id, arm, cancel), None)
        except Exception:
            # The transition is committed and its timers are recorded on the entity: raising
            # now would report a committed event as failed (and skip its actions). A lost arm
            # is recovered by ``rearm_from_store``; a lost cancel is harmless (stale timer).
            logger.exception(
                "scheduler failed to arm %s / cancel %s for %s/%s; the transition is committed "
                "(rearm_from_store() re-arms recorded timers)",
                [t.id for t in arm],
                cancel,
                self.machine_name,
                entity_id,
            )

    def _recover(self, limit: int) -> Procedure:
        now = self.clock.now()
        items: list[OutboxItem] = yield (
            "pending",
            (),
            {"now": now, "machine_name": self.machine_name, "limit": limit},
        )
        ran = 0
        for item in items:
            claimed = yield ("claim", (item.id,), {"now": now, "until": now + self.action_lease})
            if not claimed:
                continue
            ran += yield from self._run_items([item])
        return ran


__all__ = ["ContextValidatorFn", "EventOutcome", "Orchestrator", "RetryPolicy", "fingerprint"]
