"""``InMemoryStateStore``: the first-class in-process store (tests, single-process apps).

It honours the same contract as the SQL and Redis stores (the shared store test suite runs on
all of them): one lock makes every ``commit`` atomic and version-checked, and records are
copied in and out so callers never share mutable state with the store.
"""

from __future__ import annotations

import threading

from pystator.errors import StaleVersionError
from pystator.models.entity import (
    Commit,
    EntityRecord,
    IdempotencyRecord,
    OutboxItem,
    Page,
    TransitionRecord,
)


class InMemoryStateStore:
    """Entities, history, outbox and idempotency keys in dictionaries, behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entities: dict[tuple[str, str], EntityRecord] = {}
        self._history: dict[tuple[str, str], list[TransitionRecord]] = {}
        self._outbox: dict[str, OutboxItem] = {}
        self._keys: dict[tuple[str, str, str], IdempotencyRecord] = {}

    # Records are frozen Pydantic models; a deep copy on the way in and out keeps the
    # nested context dicts private to the store.
    def load(self, machine_name: str, entity_id: str) -> EntityRecord | None:
        with self._lock:
            record = self._entities.get((machine_name, entity_id))
        return record.model_copy(deep=True) if record is not None else None

    def commit(self, commit: Commit) -> None:
        entity = commit.entity
        key = (entity.machine_name, entity.entity_id)
        with self._lock:
            current = self._entities.get(key)
            actual = current.version if current is not None else 0
            if actual != commit.expected_version:
                raise StaleVersionError(
                    f"entity '{entity.entity_id}' is at version {actual}, not "
                    f"{commit.expected_version}",
                    entity_id=entity.entity_id,
                    expected_version=commit.expected_version,
                    actual_version=actual,
                )
            if commit.idempotency is not None:
                ikey = (entity.machine_name, entity.entity_id, commit.idempotency.key)
                if ikey in self._keys:
                    raise StaleVersionError(
                        f"idempotency key '{commit.idempotency.key}' was applied meanwhile",
                        entity_id=entity.entity_id,
                        expected_version=commit.expected_version,
                        actual_version=actual,
                    )
                self._keys[ikey] = commit.idempotency.model_copy(deep=True)
            self._entities[key] = entity.model_copy(deep=True)
            if commit.transition is not None:
                self._history.setdefault(key, []).append(commit.transition.model_copy(deep=True))
            for item in commit.outbox:
                self._outbox[item.id] = item.model_copy(deep=True)

    def get_idempotency(
        self, machine_name: str, entity_id: str, key: str
    ) -> IdempotencyRecord | None:
        with self._lock:
            record = self._keys.get((machine_name, entity_id, key))
        return record.model_copy(deep=True) if record is not None else None

    def get_history(
        self, machine_name: str, entity_id: str, *, limit: int = 100, offset: int = 0
    ) -> list[TransitionRecord]:
        with self._lock:
            rows = list(self._history.get((machine_name, entity_id), ()))
        return [r.model_copy(deep=True) for r in rows[offset : offset + limit]]

    def list_entities(
        self, machine_name: str, *, state: str | None = None, limit: int = 100, offset: int = 0
    ) -> Page:
        with self._lock:
            rows = [
                r
                for (m, _), r in self._entities.items()
                if m == machine_name and (state is None or r.state == state)
            ]
        rows.sort(key=lambda r: r.entity_id)
        items = [r.model_copy(deep=True) for r in rows[offset : offset + limit]]
        return Page(items=items, total=len(rows), limit=limit, offset=offset)

    def pending_actions(
        self, *, now: float, machine_name: str | None = None, limit: int = 100
    ) -> list[OutboxItem]:
        with self._lock:
            items = [
                i
                for i in self._outbox.values()
                if i.status == "pending"
                and i.claimed_until <= now
                and (machine_name is None or i.machine_name == machine_name)
            ]
        items.sort(key=lambda i: (i.created_at, i.entity_id, i.version, i.position))
        return [i.model_copy(deep=True) for i in items[:limit]]

    def claim_action(self, item_id: str, *, now: float, until: float) -> bool:
        with self._lock:
            item = self._outbox.get(item_id)
            if item is None or item.status != "pending" or item.claimed_until > now:
                return False
            self._outbox[item_id] = item.model_copy(update={"claimed_until": until})
            return True

    def finish_action(
        self, item_id: str, *, success: bool, attempts: int, error: str | None = None
    ) -> None:
        with self._lock:
            item = self._outbox.get(item_id)
            if item is None:
                return
            self._outbox[item_id] = item.model_copy(
                update={
                    "status": "done" if success else "failed",
                    "attempts": attempts,
                    "last_error": error,
                }
            )

    def delete_entity(self, machine_name: str, entity_id: str) -> bool:
        key = (machine_name, entity_id)
        with self._lock:
            found = self._entities.pop(key, None) is not None
            self._history.pop(key, None)
            for k in [k for k in self._keys if k[:2] == key]:
                del self._keys[k]
            for i in [
                i for i, item in self._outbox.items() if (item.machine_name, item.entity_id) == key
            ]:
                del self._outbox[i]
        return found

    def close(self) -> None:
        return None

    # The async half: nothing blocks, so it calls the sync methods directly.
    async def aload(self, machine_name: str, entity_id: str) -> EntityRecord | None:
        return self.load(machine_name, entity_id)

    async def acommit(self, commit: Commit) -> None:
        self.commit(commit)

    async def aget_idempotency(
        self, machine_name: str, entity_id: str, key: str
    ) -> IdempotencyRecord | None:
        return self.get_idempotency(machine_name, entity_id, key)

    async def aget_history(
        self, machine_name: str, entity_id: str, *, limit: int = 100, offset: int = 0
    ) -> list[TransitionRecord]:
        return self.get_history(machine_name, entity_id, limit=limit, offset=offset)

    async def alist_entities(
        self, machine_name: str, *, state: str | None = None, limit: int = 100, offset: int = 0
    ) -> Page:
        return self.list_entities(machine_name, state=state, limit=limit, offset=offset)

    async def apending_actions(
        self, *, now: float, machine_name: str | None = None, limit: int = 100
    ) -> list[OutboxItem]:
        return self.pending_actions(now=now, machine_name=machine_name, limit=limit)

    async def aclaim_action(self, item_id: str, *, now: float, until: float) -> bool:
        return self.claim_action(item_id, now=now, until=until)

    async def afinish_action(
        self, item_id: str, *, success: bool, attempts: int, error: str | None = None
    ) -> None:
        self.finish_action(item_id, success=success, attempts=attempts, error=error)

    async def adelete_entity(self, machine_name: str, entity_id: str) -> bool:
        return self.delete_entity(machine_name, entity_id)

    async def aclose(self) -> None:
        return None
