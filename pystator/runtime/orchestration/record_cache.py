"""The orchestrator's opt-in record cache (``Orchestrator(record_cache=...)``).

What lives here:

* ``RecordCache``: the last record an orchestrator committed per entity (or a marker, for an
  entity someone else writes too), bounded, thread-safe. The policy that uses it (when an
  event runs on a cached record, when a rejection computed on one is confirmed by a load, when
  an entity stops being cached) is ``record_policy.CachedRecords``, described in that
  module's docstring;
* ``private_copy``: the cache's own copy of a committed record's context and history;
* ``CreationStamps`` and its one instance ``CREATION_STAMPS``: unique ``created_at`` stamps,
  which the cache relies on to tell a deleted and re-created entity from the cached one.

The speed trick here is in ``private_copy``: the copy is a JSON round trip through the C
encoder (``pystator._json.compact_iterencode``) and the C scanner
(``json.JSONDecoder().scan_once``), both made once, instead of ``json.dumps``/``json.loads``,
which set up an encoder and a decoder on every call. It runs once per commit of an
orchestrator with a record cache: the "cached" figure (``record_cache=10_000``) of every row of
``benchmarks.stores_bench``, most visibly ``memory/1 entity`` and ``memory/1,000 entities``
(the default orchestrator and row 10h of ``python -m benchmarks`` have no cache, so no copy).
Plain twin: ``plain_private_copy``, the same round trip through ``json.dumps``/``json.loads``
(``PYSTATOR_PLAIN_TWINS=private_copy`` swaps it in, see ``pystator._twins``); and
``copy.deepcopy`` of the context and history, which ``private_copy`` must equal for every value
it keeps (``tests/integration/test_record_cache.py`` compares them).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable
from typing import Any

from pystator._json import compact_iterencode
from pystator._twins import use_plain_twin
from pystator.models.entity import EntityRecord, build_record

# The orchestrator's logger: what the cache logs is about the orchestrator's events.
logger = logging.getLogger("pystator.orchestrator")


class CreationStamps:
    """``now`` as the ``created_at`` of a new entity, for orchestrators with a record cache.

    ``created_at`` tells two incarnations of one entity id apart (the record cache relies on
    it). A clock that stands still, like ``ManualClock``, reads the same for a deleted entity
    and its re-creation: a reading given before for the same entity becomes the next float
    after the last stamp made from it (a difference of one unit in the last place). Unique
    within this process only (and only among orchestrators with a cache): so there is one
    instance, ``CREATION_STAMPS``, shared by every orchestrator of the process, since two
    orchestrators with a cache must not stamp a deleted entity and its re-creation alike.
    At most 4,096 stamps are remembered (the oldest goes first).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (machine, entity id, clock reading) -> the last created_at given for them
        self._given: dict[tuple[str, str, float], float] = {}

    def stamp(self, machine_name: str, entity_id: str, now: float) -> float:
        """The ``created_at`` for a new entity ``entity_id`` of ``machine_name`` made at
        ``now``: ``now``, or the next float after the last stamp given for that reading."""
        key = (machine_name, entity_id, now)
        given = self._given
        with self._lock:
            last = given.pop(key, None)
            stamp = now if last is None else math.nextafter(last, math.inf)
            given[key] = stamp
            if len(given) > 4096:
                del given[next(iter(given))]
            return stamp


CREATION_STAMPS = CreationStamps()
"""The process's creation stamps (process-global on purpose: see ``CreationStamps``)."""


def _not_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


# JSON without the per-call set-up of ``json.dumps``/``json.loads`` (the C encoder and
# scanner, made once): the record cache copies every committed context through them.
_encode = compact_iterencode(_not_json, allow_nan=False)
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def private_copy(record: EntityRecord) -> EntityRecord | None:
    """``record`` with its own copy of its context and history, for the record cache; or
    ``None`` if a store could read back something else than ``record``.

    A SQL or Redis store keeps JSON, so the copy goes through JSON and is kept only if it
    equals the original: a tuple, a number as a key, a datetime, NaN... are not cached (such
    an entity is read from the store every time).
    """
    containers = [record.context, record.history]
    try:
        copy, _ = _scan("".join(_encode(containers, 0)), 0)
    except (TypeError, ValueError, RecursionError):
        return None
    if copy != containers:
        return None
    # Pydantic keeps a model's field values in its ``__dict__``: copy them from there.
    fields = dict(record.__dict__)
    fields["context"], fields["history"] = copy
    fields["timers"] = list(record.timers)  # frozen models: a new list is enough
    return build_record(EntityRecord, fields)


def plain_private_copy(record: EntityRecord) -> EntityRecord | None:
    """``private_copy``'s plain twin: the same JSON round trip through ``json.dumps`` and
    ``json.loads``, and a validated record."""
    containers = [record.context, record.history]
    try:
        text = json.dumps(
            containers,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
            default=_not_json,
        )
        copy = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None
    if copy != containers:
        return None
    context, history = copy
    return record.model_copy(
        update={"context": context, "history": history, "timers": list(record.timers)}
    )


# Measuring only (``pystator._twins``): the plain twin in place of the trick.
if use_plain_twin("private_copy"):
    private_copy = plain_private_copy


class RecordCache:
    """The last record this orchestrator committed per entity, at most ``size`` entries.

    An entry is either a record nobody else holds, handed out once (``take`` removes it; the
    commit that follows puts its successor back), so it is never copied on the way out; or,
    for an entity someone else writes too, the version this orchestrator last committed (a
    marker: the entity is loaded, and cached again once an event finds it at that version,
    i.e. nobody else wrote it in between). Bounded in order of the last commit (the oldest
    entry goes first). Thread-safe: every change is made under the lock.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: dict[str, EntityRecord | int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def take(self, entity_id: str) -> EntityRecord | int | None:
        """The cached record (removed: two callers never share one), the marker (kept until
        replaced) or ``None``."""
        with self._lock:
            entry = self._items.get(entity_id)
            if entry is not None and not isinstance(entry, int):
                del self._items[entity_id]
            return entry

    def put(self, record: EntityRecord) -> None:
        """Cache a private copy of a committed ``record`` (or nothing, if a store could read
        back something else). Never raises: the event it follows is committed."""
        try:
            self._set(record.entity_id, private_copy(record))
        except Exception:  # a bug: the cache must never fail an event that is committed
            logger.exception("record cache: could not keep entity %r", record.entity_id)
            self.drop(record.entity_id)

    def keep(self, record: EntityRecord) -> None:
        """Cache ``record`` as it is: one just loaded, that nobody else holds."""
        self._set(record.entity_id, record)

    def mark(self, entity_id: str, version: int) -> None:
        """Someone else writes the entity too: remember the version committed here."""
        self._set(entity_id, version)

    def _set(self, entity_id: str, entry: EntityRecord | int | None) -> None:
        items = self._items
        with self._lock:
            items.pop(entity_id, None)
            if entry is None:
                return
            items[entity_id] = entry
            while len(items) > self.size:
                items.pop(next(iter(items)), None)

    def drop(self, entity_id: str) -> None:
        with self._lock:
            self._items.pop(entity_id, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


__all__ = [
    "CREATION_STAMPS",
    "CreationStamps",
    "RecordCache",
    "plain_private_copy",
    "private_copy",
]
