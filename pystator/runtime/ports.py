"""Ports: what the orchestrator needs from a state store and a scheduler.

Adapters live in ``pystator.stores`` and ``pystator.scheduler``; the runtime only knows these
protocols. A store has two halves with the same methods: ``SyncStateStore`` (``load``,
``commit``, ... ``close``) and ``AsyncStateStore`` (``aload``, ``acommit``, ... ``aclose``);
``StateStore``, what the orchestrator takes, is both. ``ThreadedAsyncStore`` is the one
adapter between the halves: it derives the async half of a blocking backend (SQL, Redis) from
its sync half, each method made by ``in_worker_thread``. A scheduler (``Scheduler``) fires
timers through a ``TimerTarget``, and follows the same naming rule: a sync method has the
plain name, its async twin the ``a`` prefix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, runtime_checkable

from pystator.models.entity import (
    Commit,
    EntityRecord,
    IdempotencyRecord,
    OutboxItem,
    Page,
    TransitionRecord,
)
from pystator.models.snapshot import TimerSnapshot

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")


@runtime_checkable
class SyncStateStore(Protocol):
    """Where entities, their history, the action outbox and idempotency keys live (the sync
    half of ``StateStore``).

    ``commit`` is the one write: atomic, and only if the stored version equals
    ``commit.expected_version`` (``0`` = the entity does not exist yet) and, when
    ``commit.incarnation`` is set (the orchestrator's record cache sets it), the stored entity's
    ``created_at`` equals it (an entity deleted and created again is another incarnation);
    otherwise it raises ``StaleVersionError`` and writes nothing. A store reads back exactly
    what it wrote. A store that ignores ``incarnation`` works, except with an orchestrator's
    record cache (``record_cache=``), which must not be turned on over it.
    """

    def load(self, machine_name: str, entity_id: str) -> EntityRecord | None: ...

    def commit(self, commit: Commit) -> None: ...

    def get_idempotency(
        self, machine_name: str, entity_id: str, key: str
    ) -> IdempotencyRecord | None: ...

    def get_history(
        self, machine_name: str, entity_id: str, *, limit: int = 100, offset: int = 0
    ) -> list[TransitionRecord]: ...

    def list_entities(
        self, machine_name: str, *, state: str | None = None, limit: int = 100, offset: int = 0
    ) -> Page: ...

    def pending_actions(
        self, *, now: float, machine_name: str | None = None, limit: int = 100
    ) -> list[OutboxItem]: ...

    def claim_action(self, item_id: str, *, now: float, until: float) -> bool: ...

    def finish_action(
        self, item_id: str, *, success: bool, attempts: int, error: str | None = None
    ) -> None: ...

    def delete_entity(self, machine_name: str, entity_id: str) -> bool: ...

    def close(self) -> None: ...


@runtime_checkable
class AsyncStateStore(Protocol):
    """The async half of ``StateStore``: ``SyncStateStore``'s methods, ``a``-prefixed and
    awaited, with the same contract."""

    async def aload(self, machine_name: str, entity_id: str) -> EntityRecord | None: ...

    async def acommit(self, commit: Commit) -> None: ...

    async def aget_idempotency(
        self, machine_name: str, entity_id: str, key: str
    ) -> IdempotencyRecord | None: ...

    async def aget_history(
        self, machine_name: str, entity_id: str, *, limit: int = 100, offset: int = 0
    ) -> list[TransitionRecord]: ...

    async def alist_entities(
        self, machine_name: str, *, state: str | None = None, limit: int = 100, offset: int = 0
    ) -> Page: ...

    async def apending_actions(
        self, *, now: float, machine_name: str | None = None, limit: int = 100
    ) -> list[OutboxItem]: ...

    async def aclaim_action(self, item_id: str, *, now: float, until: float) -> bool: ...

    async def afinish_action(
        self, item_id: str, *, success: bool, attempts: int, error: str | None = None
    ) -> None: ...

    async def adelete_entity(self, machine_name: str, entity_id: str) -> bool: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class StateStore(SyncStateStore, AsyncStateStore, Protocol):
    """A state store with both halves: what the orchestrator takes (its sync entry points use
    the sync half, its async ones the async half). See ``SyncStateStore`` for the contract."""


def in_worker_thread(
    method: Callable[Concatenate[S, P], R],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """The async twin of a blocking sync method: the same call, run in a worker thread.

    ``aload = in_worker_thread(SyncStateStore.load)`` makes ``await store.aload(m, e)`` run
    ``store.load(m, e)`` with ``asyncio.to_thread``. The sync method is looked up on the
    instance by name at each call, so a subclass's own ``load`` is the one that runs; the
    method passed in gives only the name and the signature (checked by mypy).
    """
    name = method.__name__

    async def run_in_thread(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        result: R = await asyncio.to_thread(getattr(self, name), *args, **kwargs)
        return result

    run_in_thread.__name__ = "a" + name
    run_in_thread.__qualname__ = "a" + name
    run_in_thread.__doc__ = f"``{name}``, run in a worker thread (the sync method blocks)."
    return run_in_thread


class ThreadedAsyncStore(SyncStateStore):
    """The adapter from a sync store to a whole ``StateStore``, for blocking backends: each
    async method runs its sync twin in a worker thread (``in_worker_thread``).

    Subclass it and write the sync methods (``close`` does nothing unless overridden).
    """

    def close(self) -> None:
        return None

    aload = in_worker_thread(SyncStateStore.load)
    acommit = in_worker_thread(SyncStateStore.commit)
    aget_idempotency = in_worker_thread(SyncStateStore.get_idempotency)
    aget_history = in_worker_thread(SyncStateStore.get_history)
    alist_entities = in_worker_thread(SyncStateStore.list_entities)
    apending_actions = in_worker_thread(SyncStateStore.pending_actions)
    aclaim_action = in_worker_thread(SyncStateStore.claim_action)
    afinish_action = in_worker_thread(SyncStateStore.finish_action)
    adelete_entity = in_worker_thread(SyncStateStore.delete_entity)
    aclose = in_worker_thread(SyncStateStore.close)


@runtime_checkable
class TimerTarget(Protocol):
    """What a scheduler fires timers through: an orchestrator of one machine."""

    @property
    def machine_name(self) -> str: ...

    def fire_timer(self, entity_id: str, timer_id: str) -> Any: ...

    async def afire_timer(self, entity_id: str, timer_id: str) -> Any: ...


@runtime_checkable
class Scheduler(Protocol):
    """Keeps armed timers and fires them, when due, through the orchestrator registered for
    their machine (``register``), with the timer's id.

    ``schedule`` (sync, from any thread) and ``aschedule`` (its async twin) arm ``arm`` and
    cancel the timer ids in ``cancel`` for one entity. A fired timer whose state was left does
    nothing (the orchestrator checks the id against the entity), so a cancel that got lost is
    harmless. ``close`` (sync) and ``aclose`` (async) stop the scheduler and close its
    connections.
    """

    def register(self, target: TimerTarget) -> None: ...

    def schedule(
        self,
        machine_name: str,
        entity_id: str,
        arm: Sequence[TimerSnapshot],
        cancel: Sequence[str],
    ) -> None: ...

    async def aschedule(
        self,
        machine_name: str,
        entity_id: str,
        arm: Sequence[TimerSnapshot],
        cancel: Sequence[str],
    ) -> None: ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...
