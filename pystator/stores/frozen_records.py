"""Private copies of records for the in-memory store: the ``marshal`` speed trick, fenced here
beside the plain twin it must equal.

``InMemoryStateStore`` copies every record on the way in (so a caller who keeps a record
shares nothing mutable with the store) and on the way out (so a caller who changes what it
read changes nothing stored). ``copy.deepcopy`` of every record, both ways, was most of the
cost of an orchestrated event on that store. Here:

* ``freeze(record)`` keeps all the record's fields as one ``marshal`` blob (``marshal`` copies
  dicts, lists and scalars in C). The caller's record and its dicts are not kept (less memory,
  less for the garbage collector to walk).
* ``thaw(frozen)`` makes a new record from the blob, that shares no mutable container with the
  store, without validation (``pystator.models.entity.build_record``): the values were the
  fields of a record already.

Writing costs one ``marshal.dumps``, and only reading pays for ``marshal.loads``: history rows
are written on every event and read far less often. A value ``marshal`` does not know (a list
of frozen timers, a value of a custom type in a context) is copied the slow way, on both sides.

Rows: ``python -m benchmarks.stores_bench``, ``memory/1 entity`` and ``memory/1,000 entities``,
the "orchestrator" figure (every event thaws the entity it loads, and freezes the entity and
the history row it commits) and the "cached" figure (the freezes: the cache saves the loads).
Row 10h of ``python -m benchmarks`` and its reference run an orchestrator on the memory store
too.

Plain twin: ``plain_freeze`` and ``plain_thaw``, both ``copy.deepcopy``. The store only reads
what it freezes through ``thaw``, so either pair can be swapped in: for an A/B measure, run
with ``PYSTATOR_PLAIN_TWINS=frozen_records`` (``pystator._twins``; ``python -m
benchmarks.tricks`` does it). ``tests/unit/test_frozen_records.py`` compares the two.
"""

from __future__ import annotations

import copy
import marshal
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from pystator._twins import use_plain_twin
from pystator.models.entity import build_record

R = TypeVar("R", bound=BaseModel)


class Frozen(Generic[R]):
    """A record kept as a private copy: its class, its fields as a ``marshal`` blob, and (in
    ``others``) the fields ``marshal`` cannot write, each already copied."""

    __slots__ = ("blob", "cls", "others")

    def __init__(self, cls: type[R], blob: bytes, others: dict[str, Any] | None) -> None:
        self.cls = cls
        self.blob = blob
        self.others = others


def freeze(record: R) -> Frozen[R]:
    """A private copy of ``record``'s fields, to keep."""
    fields = record.__dict__  # a Pydantic model keeps its field values in ``__dict__``
    try:
        return Frozen(type(record), marshal.dumps(fields), None)
    except ValueError:  # a value marshal does not know
        plain = dict(fields)
        others: dict[str, Any] = {}
        for name, value in fields.items():
            try:
                marshal.dumps(value)
            except ValueError:
                others[name] = _copy_other(value)
                plain[name] = None  # a place holder: keeps the order of the fields
        return Frozen(type(record), marshal.dumps(plain), others)


def thaw(frozen: Frozen[R]) -> R:
    """A new record equal to the one frozen, sharing no mutable container with the store."""
    fields = marshal.loads(frozen.blob)
    if frozen.others:
        for name, value in frozen.others.items():
            fields[name] = _copy_other(value)
    return build_record(frozen.cls, fields)


def plain_freeze(record: R) -> R:
    """``freeze``'s plain twin: a deep copy of the record, kept as it is."""
    return copy.deepcopy(record)


def plain_thaw(kept: R) -> R:
    """``thaw``'s plain twin: a deep copy of what ``plain_freeze`` kept."""
    return copy.deepcopy(kept)


def _copy_other(value: Any) -> Any:
    # A list of frozen models (the entity's timers) only needs a new list.
    if type(value) is list and all(
        isinstance(v, BaseModel) and v.model_config.get("frozen") for v in value
    ):
        return list(value)
    return copy.deepcopy(value)


# Measuring only (``pystator._twins``): the plain twins in place of the trick. The store
# keeps whatever ``freeze`` returns and gives it back to ``thaw`` only.
if use_plain_twin("frozen_records"):
    freeze = plain_freeze  # type: ignore[assignment]
    thaw = plain_thaw  # type: ignore[assignment]
