"""Ports: what the orchestrator needs from a state store and a scheduler.

Adapters live in ``pystator.stores`` and ``pystator.scheduler``; the runtime only knows these
protocols. Every store offers the same methods twice, sync and async (``a``-prefixed);
``ThreadedAsyncStore`` derives the async half from the sync one for blocking backends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from pystator.models.entity import (
    Commit,
    EntityRecord,
    IdempotencyRecord,
    OutboxItem,
    Page,
    TransitionRecord,
)
from pystator.models.snapshot import TimerSnapshot


@runtime_checkable
class StateStore(Protocol):
    """Where entities, their history, the action outbox and idempotency keys live.

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


class ThreadedAsyncStore:
    """Mixin: the async methods run the sync ones in a worker thread (blocking backends)."""

    def load(self, machine_name: str, entity_id: str) -> EntityRecord | None:
        raise NotImplementedError

    def commit(self, commit: Commit) -> None:
        raise NotImplementedError

    def get_idempotency(
        self, machine_name: str, entity_id: str, key: str
    ) -> IdempotencyRecord | None:
        raise NotImplementedError

    def get_history(
        self, machine_name: str, entity_id: str, *, limit: int = 100, offset: int = 0
    ) -> list[TransitionRecord]:
        raise NotImplementedError

    def list_entities(
        self, machine_name: str, *, state: str | None = None, limit: int = 100, offset: int = 0
    ) -> Page:
        raise NotImplementedError

    def pending_actions(
        self, *, now: float, machine_name: str | None = None, limit: int = 100
    ) -> list[OutboxItem]:
        raise NotImplementedError

    def claim_action(self, item_id: str, *, now: float, until: float) -> bool:
        raise NotImplementedError

    def finish_action(
        self, item_id: str, *, success: bool, attempts: int, error: str | None = None
    ) -> None:
        raise NotImplementedError

    def delete_entity(self, machine_name: str, entity_id: str) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        return None

    async def aload(self, machine_name: str, entity_id: str) -> EntityRecord | None:
        return await asyncio.to_thread(self.load, machine_name, entity_id)

    async def acommit(self, commit: Commit) -> None:
        await asyncio.to_thread(self.commit, commit)

    async def aget_idempotency(
        self, machine_name: str, entity_id: str, key: str
    ) -> IdempotencyRecord | None:
        return await asyncio.to_thread(self.get_idempotency, machine_name, entity_id, key)

    async def aget_history(
        self, machine_name: str, entity_id: str, *, limit: int = 100, offset: int = 0
    ) -> list[TransitionRecord]:
        return await asyncio.to_thread(
            lambda: self.get_history(machine_name, entity_id, limit=limit, offset=offset)
        )

    async def alist_entities(
        self, machine_name: str, *, state: str | None = None, limit: int = 100, offset: int = 0
    ) -> Page:
        return await asyncio.to_thread(
            lambda: self.list_entities(machine_name, state=state, limit=limit, offset=offset)
        )

    async def apending_actions(
        self, *, now: float, machine_name: str | None = None, limit: int = 100
    ) -> list[OutboxItem]:
        return await asyncio.to_thread(
            lambda: self.pending_actions(now=now, machine_name=machine_name, limit=limit)
        )

    async def aclaim_action(self, item_id: str, *, now: float, until: float) -> bool:
        return await asyncio.to_thread(lambda: self.claim_action(item_id, now=now, until=until))

    async def afinish_action(
        self, item_id: str, *, success: bool, attempts: int, error: str | None = None
    ) -> None:
        await asyncio.to_thread(
            lambda: self.finish_action(item_id, success=success, attempts=attempts, error=error)
        )

    async def adelete_entity(self, machine_name: str, entity_id: str) -> bool:
        return await asyncio.to_thread(self.delete_entity, machine_name, entity_id)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)


@runtime_checkable
class TimerTarget(Protocol):
    """What a scheduler fires timers through: an orchestrator of one machine."""

    @property
    def machine_name(self) -> str: ...

    def fire_timer(self, entity_id: str, timer_id: str) -> Any: ...

    async def async_fire_timer(self, entity_id: str, timer_id: str) -> Any: ...


@runtime_checkable
class Scheduler(Protocol):
    """Keeps armed timers and fires them, when due, through the orchestrator registered for
    their machine (``register``), with the timer's id.

    ``schedule`` arms ``arm`` and cancels the timer ids in ``cancel`` for one entity. A fired
    timer whose state was left does nothing (the orchestrator checks the id against the
    entity), so a cancel that got lost is harmless.
    """

    def register(self, target: TimerTarget) -> None: ...

    async def schedule(
        self,
        machine_name: str,
        entity_id: str,
        arm: Sequence[TimerSnapshot],
        cancel: Sequence[str],
    ) -> None: ...

    def schedule_sync(
        self,
        machine_name: str,
        entity_id: str,
        arm: Sequence[TimerSnapshot],
        cancel: Sequence[str],
    ) -> None: ...

    async def close(self) -> None: ...
