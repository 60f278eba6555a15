"""``InMemoryStateStore``: the first-class in-process store (tests, single-process apps).

It honours the same contract as the SQL and Redis stores (the shared store test suite runs on
all of them): one lock makes every ``commit`` atomic and version-checked, and records are
copied in and out so callers never share mutable state with the store.
"""

from __future__ import annotations

import copy
import marshal
import threading
import types
import typing
from collections import namedtuple
from collections.abc import Callable
from operator import itemgetter
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from pystator.errors import StaleVersionError
from pystator.models.entity import (
    Commit,
    EntityRecord,
    IdempotencyRecord,
    OutboxItem,
    Page,
    TransitionRecord,
    build_record,
)

R = TypeVar("R", bound=BaseModel)


class _Kept(Generic[R]):
    """A record as the store keeps it: a private copy of all its fields as one ``marshal``
    blob, and (``head=True``) its scalar fields as a named tuple in ``record``, for the
    store's own look-ups (version, state, status...).

    ``marshal`` copies dicts, lists and scalars in C; ``copy.deepcopy`` of every record on the
    way in and out was most of the cost of an orchestrated event. Writing costs one
    ``marshal.dumps``; only reading pays for ``marshal.loads``, and history is written far
    more often than it is read. Values that marshal does not know (a list of frozen timers,
    or a value of a custom type in a context) are copied the slow way. The caller's record
    and its dicts are not kept (less memory, less for the GC to walk).
    """

    __slots__ = ("blob", "cls", "others", "record")

    record: Any

    def __init__(self, record: R, *, head: bool = False) -> None:
        fields = record.__dict__
        others: dict[str, Any] | None = None
        try:
            blob = marshal.dumps(fields)
        except ValueError:
            plain = dict(fields)
            others = {}
            for name, value in fields.items():
                try:
                    marshal.dumps(value)
                except ValueError:
                    others[name] = _copy_other(value)
                    plain[name] = None  # a place holder: keeps the order of the fields
            blob = marshal.dumps(plain)
        cls = type(record)
        self.cls: type[R] = cls
        self.blob = blob
        self.others = others
        if head:
            shape = _HEADS.get(cls) or _head_shape(cls)
            self.record = _new_tuple(shape[0], shape[1](fields))  # two C calls
        else:
            self.record = None

    def replace(self, **scalars: Any) -> _Kept[R]:
        """The same record with some of its head's (scalar) fields changed (the blob is
        rewritten in C, without building a model). Only for records kept with ``head=True``;
        another field is refused (``ValueError``)."""
        fields = marshal.loads(self.blob)
        fields.update(scalars)
        new: _Kept[R] = _Kept.__new__(_Kept)
        new.cls = self.cls
        new.blob = marshal.dumps(fields)
        new.others = self.others  # copied again by every thaw(): safe to share
        new.record = None if self.record is None else self.record._replace(**scalars)
        return new

    def thaw(self) -> R:
        """A new record that shares no mutable container with the store."""
        fields = marshal.loads(self.blob)
        if self.others:
            for name, value in self.others.items():
                fields[name] = _copy_other(value)
        return build_record(self.cls, fields)


_new_tuple = tuple.__new__
# record class -> (its head's named tuple class, a getter of the head's values from fields)
_HEADS: dict[type[Any], tuple[type[tuple[Any, ...]], Callable[[dict[str, Any]], Any]]] = {}


def _head_shape(
    cls: type[BaseModel],
) -> tuple[type[tuple[Any, ...]], Callable[[dict[str, Any]], Any]]:
    """The named tuple of ``cls``'s scalar fields (strings, numbers, booleans or ``None``;
    not lists, dicts or models) and a getter of their values, as a tuple, from a record's
    fields."""
    scalar = (str, int, float, bool, type(None))
    names = []
    for name, info in cls.model_fields.items():
        annotation = info.annotation
        origin = typing.get_origin(annotation)
        # ``X | None`` and ``Optional[X]`` are scalar if their members are; ``list[int]`` not.
        union = origin is typing.Union or origin is types.UnionType
        options = typing.get_args(annotation) if union else (annotation,)
        if origin is typing.Literal or all(t in scalar for t in options):
            names.append(name)
    head = namedtuple(f"{cls.__name__}Head", names)  # type: ignore[misc]  # a name per class
    values: Callable[[dict[str, Any]], Any]
    if len(names) > 1:
        values = itemgetter(*names)
    elif names:
        one = itemgetter(names[0])
        values = lambda fields: (one(fields),)  # noqa: E731  # itemgetter of one: no tuple
    else:
        values = lambda fields: ()  # noqa: E731
    _HEADS[cls] = (head, values)
    return head, values


def _copy_other(value: Any) -> Any:
    # A list of frozen models (timers) only needs a new list.
    if type(value) is list and all(
        isinstance(v, BaseModel) and v.model_config.get("frozen") for v in value
    ):
        return list(value)
    return copy.deepcopy(value)


class InMemoryStateStore:
    """Entities, history, outbox and idempotency keys in dictionaries, behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entities: dict[tuple[str, str], _Kept[EntityRecord]] = {}
        self._history: dict[tuple[str, str], list[_Kept[TransitionRecord]]] = {}
        self._outbox: dict[str, _Kept[OutboxItem]] = {}
        self._keys: dict[tuple[str, str, str], _Kept[IdempotencyRecord]] = {}

    # Records are frozen Pydantic models; copying their containers on the way in (_Kept) and
    # out (thaw) keeps the nested context dicts private to the store.
    def load(self, machine_name: str, entity_id: str) -> EntityRecord | None:
        with self._lock:
            kept = self._entities.get((machine_name, entity_id))
        return kept.thaw() if kept is not None else None

    def commit(self, commit: Commit) -> None:
        entity = commit.entity
        key = (entity.machine_name, entity.entity_id)
        with self._lock:
            current = self._entities.get(key)
            actual = current.record.version if current is not None else 0
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
                and current.record.created_at != incarnation
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
                self._keys[ikey] = _Kept(commit.idempotency)
            self._entities[key] = _Kept(entity, head=True)
            if commit.transition is not None:
                self._history.setdefault(key, []).append(_Kept(commit.transition))
            for item in commit.outbox:
                self._outbox[item.id] = _Kept(item, head=True)

    def get_idempotency(
        self, machine_name: str, entity_id: str, key: str
    ) -> IdempotencyRecord | None:
        with self._lock:
            kept = self._keys.get((machine_name, entity_id, key))
        return kept.thaw() if kept is not None else None

    def get_history(
        self, machine_name: str, entity_id: str, *, limit: int = 100, offset: int = 0
    ) -> list[TransitionRecord]:
        with self._lock:
            rows = self._history.get((machine_name, entity_id), [])[offset : offset + limit]
        return [r.thaw() for r in rows]

    def list_entities(
        self, machine_name: str, *, state: str | None = None, limit: int = 100, offset: int = 0
    ) -> Page:
        with self._lock:
            rows = [
                r
                for (m, _), r in self._entities.items()
                if m == machine_name and (state is None or r.record.state == state)
            ]
        rows.sort(key=lambda r: r.record.entity_id)
        items = [r.thaw() for r in rows[offset : offset + limit]]
        return Page(items=items, total=len(rows), limit=limit, offset=offset)

    def pending_actions(
        self, *, now: float, machine_name: str | None = None, limit: int = 100
    ) -> list[OutboxItem]:
        with self._lock:
            items = [
                kept
                for kept in self._outbox.values()
                if (i := kept.record).status == "pending"
                and i.claimed_until <= now
                and (machine_name is None or i.machine_name == machine_name)
            ]
        items.sort(
            key=lambda k: (
                k.record.created_at,
                k.record.entity_id,
                k.record.version,
                k.record.position,
            )
        )
        return [k.thaw() for k in items[:limit]]

    def claim_action(self, item_id: str, *, now: float, until: float) -> bool:
        with self._lock:
            kept = self._outbox.get(item_id)
            if kept is None:
                return False
            item = kept.record
            if item.status != "pending" or item.claimed_until > now:
                return False
            self._outbox[item_id] = kept.replace(claimed_until=until)
            return True

    def finish_action(
        self, item_id: str, *, success: bool, attempts: int, error: str | None = None
    ) -> None:
        with self._lock:
            kept = self._outbox.get(item_id)
            if kept is None:
                return
            self._outbox[item_id] = kept.replace(
                status="done" if success else "failed", attempts=attempts, last_error=error
            )

    def delete_entity(self, machine_name: str, entity_id: str) -> bool:
        key = (machine_name, entity_id)
        with self._lock:
            found = self._entities.pop(key, None) is not None
            self._history.pop(key, None)
            for k in [k for k in self._keys if k[:2] == key]:
                del self._keys[k]
            for i in [
                i
                for i, kept in self._outbox.items()
                if (kept.record.machine_name, kept.record.entity_id) == key
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
