"""``build_record`` (a record built without validation, through the models' slot setters)
gives the same record as validation does."""

from __future__ import annotations

from typing import Any

import pytest

from pystator.models.entity import EntityRecord, _slot_setters, build_record


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


def test_build_record_equals_a_validated_record() -> None:
    built = build_record(EntityRecord, entity_fields())
    validated = EntityRecord.model_validate(entity_fields())
    assert built == validated
    assert built.model_fields_set == validated.model_fields_set
    assert built.model_dump() == validated.model_dump()
    # Its own set of fields: copying one record with an update leaves the other alone.
    other = build_record(EntityRecord, entity_fields())
    assert built.__pydantic_fields_set__ is not other.__pydantic_fields_set__
    moved = built.model_copy(update={"state": "B"})
    assert (moved.state, built.state) == ("B", "A")


def test_the_fallback_slot_setters_build_the_same_record() -> None:
    # A Pydantic that keeps the slots elsewhere: the setters go through object.__setattr__.
    setters = _slot_setters({})
    record = EntityRecord.__new__(EntityRecord)
    fields = entity_fields()
    for setter, value in zip(setters, (fields, set(fields), None, None), strict=True):
        setter(record, value)
    assert record == EntityRecord.model_validate(entity_fields())
    with pytest.raises(Exception, match="frozen"):
        record.state = "B"  # type: ignore[misc]
