"""The Pydantic shortcuts of ``pystator._unvalidated`` against their plain twins.

``construct`` (``models.entity.build_record``) makes the record validation makes, and
``field_copier`` (``models.result.with_context``) the copy ``model_copy(update=...)`` makes:
same field values, same set of fields set, same extra and private slots, still frozen.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

from pystator import StateMachine
from pystator._unvalidated import (
    construct,
    field_copier,
    plain_construct,
    plain_field_copier,
    slot_setters,
)
from pystator.models import entity
from pystator.models.entity import (
    Commit,
    EntityRecord,
    IdempotencyRecord,
    MachineRecord,
    OutboxItem,
    TransitionRecord,
    build_record,
)
from pystator.models.result import TransitionResult, with_context
from pystator.models.snapshot import TimerSnapshot

SLOTS = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")


def entity_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "machine_name": "m",
        "entity_id": "e-1",
        "state": "A",
        "context": {"n": 1, "nested": {"a": [1, 2]}},
        "version": 3,
        "history": {"P": ["P.X"]},
        "timers": [],
        "created_at": 10.0,
        "updated_at": 11.0,
    }
    fields.update(changes)
    return fields


def slots(model: BaseModel) -> tuple[Any, ...]:
    return tuple(getattr(model, name) for name in SLOTS)


# ------------------------------------------------------------------------------ construct
def transition_fields() -> dict[str, Any]:
    return {
        "machine_name": "m",
        "entity_id": "e-1",
        "version": 4,
        "source_state": "A",
        "target_state": "B",
        "trigger": "go",
        "context_changes": {"n": 2, "café": "é"},
        "context_removed": ["gone"],
        "at": 12.5,
        "idempotency_key": None,
        "result": {"success": True},
    }


def outbox_fields() -> dict[str, Any]:
    return {
        "id": "m/e-1/4/0",
        "machine_name": "m",
        "entity_id": "e-1",
        "version": 4,
        "position": 0,
        "name": "notify",
        "params": {"to": ["a", "b"]},
        "context": {"n": 2},
        "status": "pending",
        "attempts": 0,
        "last_error": None,
        "claimed_until": 0.0,
        "created_at": 12.5,
    }


def machine_fields() -> dict[str, Any]:
    return {
        "id": "m",
        "name": "m",
        "version": "1.0",
        "description": None,
        "revision": 2,
        "definition": "{}",
        "created_at": 1.0,
        "updated_at": 2.0,
    }


class Loose(BaseModel):
    """A model that is not frozen and ignores extra input (Pydantic's defaults)."""

    name: str
    tags: list[str]
    size: int = 0


def record_cases() -> list[tuple[type[BaseModel], dict[str, Any]]]:
    timer = TimerSnapshot(id="e-1@3", key="t", trigger="tick", due=20.0)
    return [
        (EntityRecord, entity_fields()),
        (EntityRecord, entity_fields(timers=[timer], context={}, history={})),
        (TransitionRecord, transition_fields()),
        (OutboxItem, outbox_fields()),
        (
            IdempotencyRecord,
            {
                "machine_name": "m",
                "entity_id": "e-1",
                "key": "k",
                "fingerprint": "f",
                "version": 4,
                "result": {"ok": 1},
            },
        ),
        (MachineRecord, machine_fields()),
        (Loose, {"name": "x", "tags": ["a"], "size": 3}),
    ]


def fresh(fields: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``fields`` nobody else holds (``construct`` keeps the dict it is given)."""
    return dict(fields)


@pytest.mark.parametrize(("cls", "fields"), record_cases())
def test_construct_makes_the_record_validation_makes(
    cls: type[BaseModel], fields: dict[str, Any]
) -> None:
    built = construct(cls, fresh(fields))
    twin = plain_construct(cls, fresh(fields))
    assert type(built) is cls
    assert built == twin
    assert built.model_fields_set == twin.model_fields_set
    assert slots(built) == slots(twin)
    assert (built.__pydantic_extra__, built.__pydantic_private__) == (None, None)
    assert built.model_dump() == twin.model_dump()
    assert built.model_dump_json() == twin.model_dump_json()
    assert built == cls.model_construct(**fresh(fields))


@pytest.mark.parametrize(("cls", "fields"), record_cases())
def test_a_constructed_record_is_as_frozen_as_a_validated_one(
    cls: type[BaseModel], fields: dict[str, Any]
) -> None:
    built, twin = construct(cls, fresh(fields)), plain_construct(cls, fresh(fields))
    name = next(iter(fields))
    if cls.model_config.get("frozen"):
        for record in (built, twin):
            with pytest.raises(ValidationError, match="frozen"):
                setattr(record, name, fields[name])
    else:
        for record in (built, twin):
            setattr(record, name, "changed")
        assert built == twin
    # Its own set of fields: copying one record with an update leaves the other alone.
    other = construct(cls, fresh(fields))
    assert built.__pydantic_fields_set__ is not other.__pydantic_fields_set__
    moved = built.model_copy(update={name: "moved"})
    assert getattr(moved, name) == "moved"
    assert getattr(other, name) == fields[name]


def test_construct_makes_a_commit_of_constructed_records() -> None:
    parts = {
        "entity": construct(EntityRecord, entity_fields()),
        "transition": construct(TransitionRecord, transition_fields()),
        "outbox": [construct(OutboxItem, outbox_fields())],
        "idempotency": None,
        "expected_version": 3,
        "incarnation": None,
    }
    built = construct(Commit, dict(parts))
    twin = plain_construct(Commit, dict(parts))
    assert built == twin
    assert slots(built) == slots(twin)
    assert built.model_dump() == twin.model_dump()


def test_build_record_is_construct_and_its_records_fit_its_contract() -> None:
    assert build_record is construct
    records = [
        value
        for value in vars(entity).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel
    ]
    assert {EntityRecord, TransitionRecord, OutboxItem, Commit} <= set(records)
    for cls in records:  # no private attributes, no post-init, no extra values
        assert not cls.__private_attributes__, cls
        assert cls.__pydantic_post_init__ is None, cls
        assert cls.model_config.get("extra") != "allow", cls


def test_the_fallback_slot_setters_build_the_same_record() -> None:
    # A Pydantic that keeps the slots elsewhere: the setters go through object.__setattr__.
    setters = slot_setters({})
    record = EntityRecord.__new__(EntityRecord)
    fields = entity_fields()
    for setter, value in zip(setters, (fields, set(fields), None, None), strict=True):
        setter(record, value)
    assert record == EntityRecord.model_validate(entity_fields())
    assert slots(record) == slots(construct(EntityRecord, entity_fields()))
    with pytest.raises(Exception, match="frozen"):
        record.state = "B"  # type: ignore[misc]


# ----------------------------------------------------------------------------- field_copier
class Tagged(BaseModel):
    """A frozen model whose ``value`` is required, so it is in every fields set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tag: str
    value: Any
    note: str = ""


def results() -> list[TransitionResult]:
    machine = StateMachine.from_dict(
        {
            "meta": {"machine_name": "m"},
            "states": [{"name": "A", "type": "initial"}, {"name": "B"}],
            "transitions": [
                {"trigger": "go", "source": "A", "dest": "B", "actions": ["notify"]},
                {"trigger": "add", "source": "A", "dest": "B", "assign": {"n": "n + 1"}},
            ],
        }
    )
    return [
        TransitionResult(success=True, source_state="A", trigger="t"),
        TransitionResult.model_validate({"success": True, "source_state": "A", "trigger": "t"}),
        machine.process("A", "go", {"n": 1}),
        machine.process("A", "add", {"n": 1}),
        machine.process("A", "nope", {"n": 1}),  # a failure carrying its error
        machine.process("B", "go"),
    ]


def assert_same_copy(copy: BaseModel, twin: BaseModel, original: BaseModel, value: Any) -> None:
    assert type(copy) is type(twin) is type(original)
    assert copy == twin
    assert copy.__dict__ == twin.__dict__
    assert copy.__dict__ is not original.__dict__
    assert copy.model_fields_set == twin.model_fields_set == original.model_fields_set
    assert (copy.__pydantic_extra__, copy.__pydantic_private__) == (
        twin.__pydantic_extra__,
        twin.__pydantic_private__,
    )
    assert copy.model_dump() == twin.model_dump()
    for name in type(copy).model_fields:
        if name != "context" and name != "value":
            assert getattr(copy, name) is getattr(original, name), name
    with pytest.raises(ValidationError, match="frozen"):
        copy.__setattr__(next(iter(type(copy).model_fields)), value)


@pytest.mark.parametrize("index", range(6))
@pytest.mark.parametrize("context", [{"n": 5}, None, [1, 2], Tagged(tag="x", value=1)])
def test_with_context_makes_the_copy_model_copy_makes(index: int, context: Any) -> None:
    result = results()[index]
    twin_copier = plain_field_copier(TransitionResult, "context")
    before = result.model_dump()
    copy, twin = with_context(result, context), twin_copier(result, context)
    if result.context is context:
        assert copy is twin is result
    else:
        assert_same_copy(copy, twin, result, context)
        assert copy.context is twin.context is context
        assert result.model_dump() == before  # the shared original is left alone
    # Carrying the same context again is the copy itself, with both.
    assert with_context(copy, context) is copy
    assert twin_copier(twin, context) is twin


def test_field_copier_on_another_frozen_model() -> None:
    original = Tagged(tag="a", value={"k": 1}, note="n")
    copier, twin_copier = field_copier(Tagged, "value"), plain_field_copier(Tagged, "value")
    assert copier(original, original.value) is original
    assert twin_copier(original, original.value) is original
    for value in ({"k": 1}, None, "text", [original]):
        assert_same_copy(copier(original, value), twin_copier(original, value), original, value)
    # The default left unset stays unset in both.
    unset = Tagged(tag="a", value=1)
    assert copier(unset, 2).model_fields_set == twin_copier(unset, 2).model_fields_set
    assert "note" not in copier(unset, 2).model_fields_set


class Mutable(BaseModel):
    value: Any


class Extra(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    value: Any


class Private(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: Any
    _cache: dict[str, Any] = PrivateAttr(default_factory=dict)


@pytest.mark.parametrize("cls", [Mutable, Extra, Private])
def test_a_field_copier_is_only_for_frozen_models_without_extras_or_private_values(
    cls: type[BaseModel],
) -> None:
    # Sharing the fields set and dropping the extra and private slots would differ from
    # model_copy on these: both refuse them.
    for make in (field_copier, plain_field_copier):
        with pytest.raises(TypeError, match="frozen models"):
            make(cls, "value")
    for make in (field_copier, plain_field_copier):
        with pytest.raises(TypeError, match="no field 'other'"):
            make(Tagged, "other")
