"""The record cache as a policy: what the one event procedure asks, and the two answers.

The event procedure (``events.event``) asks its orchestrator's ``RecordPolicy`` four things
about each event, through the ``EventRecords`` it gets for the event (``for_event``): what
record to start from, whether a refused commit means "the cache was behind" or a conflict,
whether a rejection must be confirmed by a load, and what to keep after the commit. There are
two policies:

* ``NoRecordCache`` (the default, ``record_cache=0``): every event loads its entity, a refused
  commit is a conflict, a rejection stands, nothing is kept. Its answers are one constant
  object (``LOAD_EVERY_TIME``), so the default costs a few attribute reads per event;
* ``CachedRecords`` (``record_cache=N``): the last record this orchestrator committed, for up
  to ``N`` entities (``record_cache.RecordCache``), as described below.

The record cache pays off when this orchestrator is the usual writer of its entities (one
process, or replicas with entity affinity); when replicas take turns on the same entities it
mostly costs refused commits. It never changes an outcome:

* An event for a cached entity is processed on the cached record and committed with
  ``Commit.incarnation`` set: the store writes only if the entity is still at the cached
  version AND its ``created_at`` is the cached one (not deleted and created again).
* If anyone else wrote the entity meanwhile (another orchestrator, process or replica; a raw
  store write; a delete and re-creation), that commit is refused and the event runs again on
  a fresh read, without backoff and without using up ``max_retries``; the entity is then not
  cached again until an event finds it unchanged since this orchestrator's last commit (the
  cache keeps a marker, the version committed here, in place of the record).
* A rejection (or an exception from a guard, validator or hook) computed on a cached record is
  confirmed with a load: if the entity is still at the cached version and ``created_at`` it
  stands, otherwise the event runs again on the fresh record.
* Hooks' ``on_transition_start`` may see an attempt whose commit is then refused and retried
  (as on any version conflict).
* Entries are dropped when anything raises, and on ``delete_entity``/``forget``.
* It requires a store that checks ``Commit.incarnation`` (the three stores here do); a writer
  that changes an entity without changing its version is not seen.
* ``created_at`` tells two incarnations of one entity id apart: with a cache, a new entity's
  ``created_at`` comes from ``CREATION_STAMPS`` (unique within the process).
"""

from __future__ import annotations

from typing import Protocol

from pystator.models.entity import EntityRecord
from pystator.runtime.orchestration.record_cache import CREATION_STAMPS, RecordCache


class EventRecords(Protocol):
    """The record policy's answers for one event (from ``RecordPolicy.for_event``)."""

    record: EntityRecord | None
    """The record the first attempt runs on; ``None``: load it."""

    cached: bool
    """The current attempt runs on a cached record: its rejection must be confirmed by a
    load, and its commit carries the record's ``created_at`` as ``Commit.incarnation``."""

    def confirmed(self, record: EntityRecord, fresh: EntityRecord | None) -> bool:
        """Whether a rejection computed on the cached ``record`` stands, ``fresh`` being the
        entity as loaded now; if it does not, the next attempt runs on ``fresh``."""
        ...

    def keep(self, fresh: EntityRecord) -> None:
        """Keep ``fresh``, the record that confirmed a rejection (nobody else holds it)."""
        ...

    def refused(self) -> bool:
        """A commit of this event was refused: ``True`` when the cache was behind (run again
        at once, not a conflict), ``False`` for a version conflict."""
        ...

    def committed(self, record: EntityRecord, entity: EntityRecord, conflicts: int) -> None:
        """The event, processed on ``record``, committed ``entity`` after ``conflicts``
        version conflicts: keep what the policy keeps."""
        ...

    def failed(self) -> None:
        """The event raised: forget what may be behind."""
        ...


class RecordPolicy(Protocol):
    """How an orchestrator keeps records between events (``NoRecordCache``,
    ``CachedRecords``)."""

    def for_event(self, entity_id: str) -> EventRecords:
        """The policy's answers for one event of ``entity_id``."""
        ...

    def created_at(self, machine_name: str, entity_id: str, now: float) -> float:
        """The ``created_at`` of a new entity made at ``now``."""
        ...

    def created(self, entity: EntityRecord) -> None:
        """``create_entity`` stored ``entity``."""
        ...

    def forget(self, entity_id: str | None = None) -> None:
        """Drop what is kept for ``entity_id`` (for every entity, when ``None``)."""
        ...

    def __len__(self) -> int:
        """How many entities have an entry."""
        ...


class LoadEveryTime:
    """The answers of ``NoRecordCache``: the same for every event (one instance,
    ``LOAD_EVERY_TIME``)."""

    __slots__ = ()

    record: EntityRecord | None = None
    cached: bool = False

    def confirmed(self, record: EntityRecord, fresh: EntityRecord | None) -> bool:
        return True  # never asked: no attempt runs on a cached record

    def keep(self, fresh: EntityRecord) -> None:
        return None

    def refused(self) -> bool:
        return False

    def committed(self, record: EntityRecord, entity: EntityRecord, conflicts: int) -> None:
        return None

    def failed(self) -> None:
        return None


LOAD_EVERY_TIME = LoadEveryTime()


class NoRecordCache:
    """The default policy: nothing is kept, every event loads its entity."""

    __slots__ = ()

    def for_event(self, entity_id: str) -> EventRecords:
        return LOAD_EVERY_TIME

    def created_at(self, machine_name: str, entity_id: str, now: float) -> float:
        return now

    def created(self, entity: EntityRecord) -> None:
        return None

    def forget(self, entity_id: str | None = None) -> None:
        return None

    def __len__(self) -> int:
        return 0


class CachedEvent:
    """The answers of ``CachedRecords`` for one event, and what it learnt on the way: whether
    the cache was behind (someone else writes the entity)."""

    __slots__ = ("behind", "cache", "cached", "entity_id", "marker", "record")

    def __init__(self, cache: RecordCache, entity_id: str) -> None:
        self.cache = cache
        self.entity_id = entity_id
        entry = cache.take(entity_id)
        # A marker: the version last committed here, for an entity someone else writes too.
        self.marker = entry if isinstance(entry, int) else None
        self.record = None if isinstance(entry, int) else entry
        self.cached = self.record is not None
        self.behind = False

    def confirmed(self, record: EntityRecord, fresh: EntityRecord | None) -> bool:
        if (
            fresh is not None
            and fresh.version == record.version
            and fresh.created_at == record.created_at
        ):
            return True
        self.cached, self.behind = False, True
        return False

    def keep(self, fresh: EntityRecord) -> None:
        self.cache.keep(fresh)

    def refused(self) -> bool:
        if self.cached:
            self.cached, self.behind = False, True
            return True
        return False

    def committed(self, record: EntityRecord, entity: EntityRecord, conflicts: int) -> None:
        # Kept right after the commit, before actions get the context. An entity that someone
        # else wrote since this orchestrator's last commit (a refused cached commit, a
        # conflict, a marker behind the loaded version) is not cached: its cache would mostly
        # be behind, and cost a refused commit per event.
        marker = self.marker
        if (
            self.behind
            or conflicts
            or (marker is not None and record.version != marker)
            or entity.created_at != record.created_at
        ):
            self.cache.mark(self.entity_id, entity.version)
        else:
            self.cache.put(entity)

    def failed(self) -> None:
        # Whatever failed, the cached record may be behind (or the commit's fate unknown).
        self.cache.drop(self.entity_id)


class CachedRecords:
    """The record cache's policy (``record_cache=N``), over a ``RecordCache`` of ``N``
    entries."""

    __slots__ = ("cache",)

    def __init__(self, size: int) -> None:
        self.cache = RecordCache(size)

    def for_event(self, entity_id: str) -> EventRecords:
        return CachedEvent(self.cache, entity_id)

    def created_at(self, machine_name: str, entity_id: str, now: float) -> float:
        return CREATION_STAMPS.stamp(machine_name, entity_id, now)

    def created(self, entity: EntityRecord) -> None:
        self.cache.put(entity)

    def forget(self, entity_id: str | None = None) -> None:
        if entity_id is None:
            self.cache.clear()
        else:
            self.cache.drop(entity_id)

    def __len__(self) -> int:
        return len(self.cache)


def record_policy(size: int) -> RecordPolicy:
    """The policy of ``Orchestrator(record_cache=size)``."""
    return CachedRecords(size) if size else NoRecordCache()


__all__ = [
    "LOAD_EVERY_TIME",
    "CachedEvent",
    "CachedRecords",
    "EventRecords",
    "LoadEveryTime",
    "NoRecordCache",
    "RecordPolicy",
    "record_policy",
]
