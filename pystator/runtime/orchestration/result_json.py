"""A result's JSON as the orchestrator stores it, made once per shared result and copied.

Every commit stores the event's result as JSON without its context (in the history row, and in
the idempotency record with the context added back), and ``Orchestrator.result_json`` hands the
same JSON to the worker. ``ResultJson`` makes that JSON.

Two speed tricks live here, for ``benchmarks.stores_bench`` (every ``<store>/<shape>`` row,
both the "orchestrator" and the "cached" figure: one result JSON per commit; the
``memory/1 entity`` and ``memory/1,000 entities`` rows show it most, where the orchestrator's
own Python is nearly all of an event) and for the passing reference of row 10h of
``python -m benchmarks`` (``benchmarks/unhappy.py``: ``orchestrator.process_event`` on the
memory store; the rejection of 10h itself commits nothing):

* **a cache keyed by ``id(result.model_fields_set)``** (``ResultJson``): the machine hands out
  a shallow copy of one shared result per call, so ``model_dump`` (several microseconds) runs
  once per shared result instead of once per event. Plain twin:
  ``result.model_dump(mode="json", exclude=NOT_DUMPED)``, which is what a miss returns.
* **the copier** (``json_copier``): a flat result is copied container by container, anything
  deeper with ``marshal`` (1.9 to 0.8 microseconds per event for a plain result,
  ``docs/benchmarks.md``). Plain twin: ``copy.deepcopy``;
  ``tests/unit/test_result_json_copies.py`` checks that its copies equal a plain copy and share
  nothing.

``PYSTATOR_PLAIN_TWINS=result_json`` (``pystator._twins``) swaps in ``PlainResultJson``, both
plain twins at once, for measuring.
"""

from __future__ import annotations

import marshal
from collections.abc import Callable
from functools import partial
from operator import is_
from typing import Any

from pystator._twins import use_plain_twin
from pystator.models.result import TransitionResult

_FLAT = (str, int, float, bool, type(None))
NOT_DUMPED: set[str] = {"context"}
"""Fields of a result left out of its stored JSON (see ``ResultJson``)."""
_Kept = tuple[set[str], tuple[str, ...], tuple[Any, ...], Callable[[], dict[str, Any]]]
"""A result's JSON kept by ``ResultJson``: (its set of fields set, its field names and values
but the context, a copier of the JSON)."""


def json_copier(data: dict[str, Any]) -> Callable[[], dict[str, Any]] | None:
    """A function that returns a new private copy of the JSON dict ``data`` (a result kept by
    ``ResultJson``) on each call, or ``None`` if ``data`` holds a value it cannot copy.

    A dict whose values are scalars, or lists and dicts of scalars (the result of a plain
    transition), is copied by copying the dict and each container in it: a third of the
    cost of ``marshal``. Anything deeper is copied by ``marshal``.
    """
    containers: list[str] = []
    for key, value in data.items():
        kind = type(value)
        if kind in _FLAT:
            continue
        items = value.values() if kind is dict else value if kind is list else None
        if items is None or not all(type(v) in _FLAT for v in items):
            try:
                return partial(marshal.loads, marshal.dumps(data))
            except ValueError:
                return None
        containers.append(key)
    template = {**data}
    for key in containers:
        template[key] = data[key].copy()

    def flat() -> dict[str, Any]:
        out = template.copy()
        for key in containers:
            out[key] = out[key].copy()
        return out

    return flat


class ResultJson:
    """``result.model_dump(mode="json")`` without its ``context``, a private copy for every
    caller; one per orchestrator.

    The context is left out: it is the entity's (the history row keeps what changed in
    ``context_changes``, the idempotency record adds the context back), so the JSON kept
    here never holds any entity's data.

    The machine builds a plain transition's result once and hands out a shallow copy of
    it per call, carrying that call's context (``with_context``): every other value,
    and the set of fields set, are the same objects in every copy. So the JSON form is
    kept under that set's identity, with the values it was made from pinned beside it
    (so the id is not reused while the entry lives), and served only when every value (but
    the context) is the very same object; then copied by ``json_copier`` (a plain result,
    or with ``marshal``: C, several times cheaper than dumping again). At most 512 entries:
    the cache is emptied when it is full.
    """

    __slots__ = ("_kept",)

    def __init__(self) -> None:
        self._kept: dict[int, _Kept] = {}

    def __call__(self, result: TransitionResult) -> dict[str, Any]:
        """The JSON of ``result`` without its context: a new dict on every call."""
        # Pydantic keeps a model's field values in its ``__dict__``: read them from there.
        values = result.__dict__.copy()
        values.pop("context", None)
        marker = result.model_fields_set
        cache = self._kept
        hit = cache.get(id(marker))
        if (
            hit is not None
            and hit[0] is marker
            and hit[1] == tuple(values)
            and all(map(is_, hit[2], values.values()))
        ):
            return hit[3]()
        data = result.model_dump(mode="json", exclude=NOT_DUMPED)
        copy = json_copier(data)
        if copy is None:
            return data  # a value neither copier knows: do not cache
        if len(cache) >= 512:
            cache.clear()
        cache[id(marker)] = (marker, tuple(values), tuple(values.values()), copy)
        return data


class PlainResultJson:
    """``ResultJson``'s plain twin: ``model_dump`` on every call."""

    __slots__ = ()

    def __call__(self, result: TransitionResult) -> dict[str, Any]:
        return result.model_dump(mode="json", exclude=NOT_DUMPED)


# Measuring only (``pystator._twins``): the plain twin in place of both tricks.
if use_plain_twin("result_json"):
    ResultJson = PlainResultJson  # type: ignore[misc, assignment]


__all__ = ["NOT_DUMPED", "PlainResultJson", "ResultJson", "json_copier"]
