"""``InMemoryStateStore``: the plain reference adapter of the ``StateStore`` port, for tests
and single-process apps.

It honours the same contract as the SQL and Redis stores (the shared store test suite runs on
all of them), written as plainly as the contract allows:

* one lock makes every ``commit`` atomic and version-checked;
* records are copied in and out, so callers never share mutable state with the store. The
  copies are ``freeze`` and ``thaw`` of ``pystator.stores.frozen_records``, the one speed trick
  of this store (a ``marshal`` blob instead of ``copy.deepcopy``; that module names its
  benchmark rows and its plain twin);
* an entity or an outbox item is kept as a small row: the fields the store looks at (version,
  state, status...) and the frozen record. A row is replaced, never changed in place.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pystator.errors import StaleVersionError
from pystator.models.entity import (
    ActionStatus,
    Commit,
    EntityRecord,
    IdempotencyRecord,
    OutboxItem,
    Page,
    TransitionRecord,
)
from pystator.stores.frozen_records import Frozen, freeze, thaw

# Rows are not ``frozen=True`` dataclasses: those cost three times as much to make, and an
# entity row is made on every commit. Nothing assigns to a row's fields.


@dataclass(slots=True)
class _EntityRow:
    """A stored entity: what ``commit`` checks and ``list_entities`` filters on, and the
    record."""

    version: int
    created_at: float
    state: str
    frozen: Frozen[EntityRecord]


@dataclass(slots=True)
class _OutboxRow:
    """A stored outbox item: what ``pending_actions``, ``claim_action`` and ``delete_entity``
    look at, and the item."""

    machine_name: str
    entity_id: str
    status: ActionStatus
    claimed_until: float
    created_at: float
    version: int
    position: int
    frozen: Frozen[OutboxItem]


def _outbox_row(item: OutboxItem) -> _OutboxRow:
    return _OutboxRow(
        item.machine_name,
        item.entity_id,
        item.status,
        item.claimed_until,
        item.created_at,
        item.version,
        item.position,
        freeze(item),
    )


class InMemoryStateStore:
    """Entities, history, outbox and idempotency keys in dictionaries, behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entities: dict[tuple[str, str], _EntityRow] = {}
        self._history: dict[tuple[str, str], list[Frozen[TransitionRecord]]] = {}
        self._outbox: dict[str, _OutboxRow] = {}
        self._keys: dict[tuple[str, str, str], Frozen[IdempotencyRecord]] = {}

    def load(self, machine_name: str, entity_id: str) -> EntityRecord | None:
        with self._lock:
            row = self._entities.get((machine_name, entity_id))
        return thaw(row.frozen) if row is not None else None

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
            incarnation = commit.incarnation
            if (
                incarnation is not None
                and current is not None
                and current.created_at != incarnation
            ):
                raise StaleVersionError(
                    f"entity '{entity.entity_id}' was deleted and created again",
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
                self._keys[ikey] = freeze(commit.idempotency)
            self._entities[key] = _EntityRow(
                entity.version, entity.created_at, entity.state, freeze(entity)
            )
            if commit.transition is not None:
                self._history.setdefault(key, []).append(freeze(commit.transition))
            for item in commit.outbox:
                self._outbox[item.id] = _outbox_row(item)

    def get_idempotency(
        self, machine_name: str, entity_id: str, key: str
    ) -> IdempotencyRecord | None:
        with self._lock:
            frozen = self._keys.get((machine_name, entity_id, key))
        return thaw(frozen) if frozen is not None else None

    def get_history(
        self, machine_name: str, entity_id: str, *, limit: int = 100, offset: int = 0
    ) -> list[TransitionRecord]:
        with self._lock:
            rows = self._history.get((machine_name, entity_id), [])[offset : offset + limit]
        return [thaw(frozen) for frozen in rows]

    def list_entities(
        self, machine_name: str, *, state: str | None = None, limit: int = 100, offset: int = 0
    ) -> Page:
        with self._lock:
            found = [
                (entity_id, row)
                for (machine, entity_id), row in self._entities.items()
                if machine == machine_name and (state is None or row.state == state)
            ]
        found.sort(key=lambda pair: pair[0])  # by entity id
        items = [thaw(row.frozen) for _, row in found[offset : offset + limit]]
        return Page(items=items, total=len(found), limit=limit, offset=offset)

    def pending_actions(
        self, *, now: float, machine_name: str | None = None, limit: int = 100
    ) -> list[OutboxItem]:
        with self._lock:
            rows = [
                row
                for row in self._outbox.values()
                if row.status == "pending"
                and row.claimed_until <= now
                and (machine_name is None or row.machine_name == machine_name)
            ]
        rows.sort(key=lambda row: (row.created_at, row.entity_id, row.version, row.position))
        return [thaw(row.frozen) for row in rows[:limit]]

    def claim_action(self, item_id: str, *, now: float, until: float) -> bool:
        with self._lock:
            row = self._outbox.get(item_id)
            if row is None or row.status != "pending" or row.claimed_until > now:
                return False
            item = thaw(row.frozen).model_copy(update={"claimed_until": until})
            self._outbox[item_id] = _outbox_row(item)
            return True

    def finish_action(
        self, item_id: str, *, success: bool, attempts: int, error: str | None = None
    ) -> None:
        with self._lock:
            row = self._outbox.get(item_id)
            if row is None:
                return
            changes = {
                "status": "done" if success else "failed",
                "attempts": attempts,
                "last_error": error,
            }
            self._outbox[item_id] = _outbox_row(thaw(row.frozen).model_copy(update=changes))

    def delete_entity(self, machine_name: str, entity_id: str) -> bool:
        key = (machine_name, entity_id)
        with self._lock:
            found = self._entities.pop(key, None) is not None
            self._history.pop(key, None)
            for k in [k for k in self._keys if k[:2] == key]:
                del self._keys[k]
            for i in [
                i for i, row in self._outbox.items() if (row.machine_name, row.entity_id) == key
            ]:
                del self._outbox[i]
        return found

    def close(self) -> None:
        return None

    # The async half (``AsyncStateStore``): nothing here blocks, so each method calls its sync
    # twin directly, written out: a worker thread (``ThreadedAsyncStore``) would only add a
    # hop, and a generic forwarder (``*args, **kwargs`` and a lookup by name) costs the async
    # event path about 0.3 microseconds per store call.
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
