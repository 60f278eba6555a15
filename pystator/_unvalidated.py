"""Pydantic models made without validation: the speed tricks that set Pydantic's private
slots, fenced here, each beside the plain twin it must equal.

Every Pydantic model keeps its state in four slots of ``BaseModel``: ``__dict__`` (the field
values), ``__pydantic_fields_set__``, ``__pydantic_extra__`` and ``__pydantic_private__``.
Pydantic's own ways to skip validation (``model_construct``, ``model_copy``) walk every field's
default and alias in Python; the functions here set the four slots through their setters
(``slot_setters``), for values PyStator built and checked itself.

* ``construct(cls, fields)`` (re-exported as ``pystator.models.entity.build_record``): a
  record from a complete dict of its fields. Four or five per orchestrated event (the entity,
  its history row, its outbox items, the commit; and the memory store's copy out of its
  blobs): 0.88 to 0.67 µs per record (``docs/benchmarks.md``, "This session's hot-path
  work"). Rows: every row of ``python -m benchmarks.stores_bench``, "orchestrator" and
  "cached" figures, most visibly ``memory/1 entity`` and ``memory/1,000 entities``; row 10h
  of ``python -m benchmarks`` and its reference (an orchestrator on the memory store).
  Plain twin: ``plain_construct`` (``cls.model_validate(fields)``).
* ``field_copier(cls, name)``, made once as ``pystator.models.result.with_context``: a shallow
  copy of a shared, frozen result with another value of one field (its context), under a
  microsecond. Rows: ``python -m benchmarks.typed_bench`` "process, assign 1 field",
  "process, assign 1 field, fresh", "process, fresh context" and "session send, assign 1
  field" on every call; every orchestrated event (every ``stores_bench`` row, row 10h), since
  the orchestrator hands the machine a new context per event; rows 1, 2, 10a to 10e and 10g
  only when the copy kept for a shared result (``Candidate.carried``,
  ``runtime.fast_select.ATTACHED``) misses. Plain twin: ``plain_field_copier``
  (``model_copy(update=...)``).

``tests/unit/test_unvalidated.py`` compares each trick with its twin. Both tricks are for
PyStator's own models, whose contracts the functions below state; neither validates anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from pystator._twins import use_plain_twin

M = TypeVar("M", bound=BaseModel)

_SLOTS = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")


def slot_setters(slots: Mapping[str, Any] = BaseModel.__dict__) -> tuple[Any, Any, Any, Any]:
    """The setters of the four slots every Pydantic model has (``__dict__``, the set of
    fields set, extra and private values), from ``slots`` (``BaseModel``'s attributes):
    calling them directly costs half of going through ``object.__setattr__``, which looks
    each one up again. A Pydantic that keeps them elsewhere gets ``object.__setattr__``."""
    try:
        setters = tuple(slots[name].__set__ for name in _SLOTS)
    except (KeyError, AttributeError):
        setters = tuple(
            (lambda obj, value, _name=name: object.__setattr__(obj, _name, value))
            for name in _SLOTS
        )
    return setters


_SET_DICT, _SET_FIELDS_SET, _SET_EXTRA, _SET_PRIVATE = slot_setters()
_new = object.__new__


def construct(cls: type[M], fields: dict[str, Any]) -> M:
    """Make a ``cls`` from ``fields`` (every field, already of the right type) without
    validating them: what ``model_construct`` does for a complete set of fields, at a
    fraction of its cost.

    ``fields`` becomes the record's ``__dict__``: pass a dict nobody else holds. For models
    with no private attributes, no ``model_post_init`` and no ``extra="allow"`` (the records
    of ``pystator.models.entity``): their extra and private slots are ``None``.
    """
    record = _new(cls)
    _SET_DICT(record, fields)
    _SET_FIELDS_SET(record, set(fields))
    _SET_EXTRA(record, None)
    _SET_PRIVATE(record, None)
    return record


def plain_construct(cls: type[M], fields: dict[str, Any]) -> M:
    """``construct``'s plain twin: the same record, validated."""
    return cls.model_validate(fields)


def _check_copyable(cls: type[BaseModel], name: str) -> None:
    config = cls.model_config
    if name not in cls.model_fields:
        raise TypeError(f"{cls.__name__} has no field {name!r}")
    if not config.get("frozen") or config.get("extra") == "allow" or cls.__private_attributes__:
        raise TypeError(
            f"{cls.__name__}: a field copier is for frozen models without extra values or "
            "private attributes"
        )


def field_copier(cls: type[M], name: str) -> Callable[[M, Any], M]:
    """A function ``copy(model, value)``: ``model`` (a ``cls``) itself when its field
    ``name`` is ``value`` already, else a shallow copy of it with ``value`` as ``name``.

    Made once per field, so that a caller's copy is one call (it is on the per-event path).
    ``cls`` must be frozen, with no extra values and no private attributes (``TypeError``
    otherwise), and ``name`` must be in every instance's set of fields set (as
    ``TransitionResult.model_post_init`` makes ``context``): the copy shares its original's
    set, which nothing adds to (the model is frozen). Nothing is validated: every other value
    is the validated original's.
    """
    _check_copyable(cls, name)

    def copy(model: M, value: Any) -> M:
        values = model.__dict__
        if values[name] is value:
            return model
        values = values.copy()
        values[name] = value
        clone = _new(cls)
        _SET_DICT(clone, values)
        _SET_FIELDS_SET(clone, model.__pydantic_fields_set__)
        _SET_EXTRA(clone, None)
        _SET_PRIVATE(clone, None)
        return clone

    return copy


def plain_field_copier(cls: type[M], name: str) -> Callable[[M, Any], M]:
    """``field_copier``'s plain twin: ``model_copy(update={name: value})``."""
    _check_copyable(cls, name)

    def copy(model: M, value: Any) -> M:
        if getattr(model, name) is value:
            return model
        return model.model_copy(update={name: value})

    return copy


# Measuring only (``pystator._twins``): the plain twins in place of the tricks.
if use_plain_twin("construct"):
    construct = plain_construct
if use_plain_twin("field_copier"):
    field_copier = plain_field_copier
