"""The in-memory store's heads of kept records show the scalar fields and follow
``replace``."""

from __future__ import annotations

from typing import Any, Optional

import pytest
from pydantic import BaseModel

from pystator.models.entity import EntityRecord, OutboxItem, build_record
from pystator.stores.memory import _Kept


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


def test_kept_heads_show_the_scalar_fields_and_follow_replace() -> None:
    kept = _Kept(build_record(EntityRecord, entity_fields()), head=True)
    assert (kept.record.version, kept.record.state, kept.record.created_at) == (3, "A", 10.0)
    assert not hasattr(kept.record, "context")  # only scalars
    item = OutboxItem(
        id="m/e-1/3/0",
        machine_name="m",
        entity_id="e-1",
        version=3,
        position=0,
        name="notify",
        context={"n": 1},
        created_at=1.0,
    )
    kept_item = _Kept(item, head=True)
    claimed = kept_item.replace(claimed_until=99.0, status="done")
    assert (claimed.record.claimed_until, claimed.record.status) == (99.0, "done")
    assert kept_item.record.status == "pending"  # the original is unchanged
    thawed = claimed.thaw()
    assert (thawed.claimed_until, thawed.status, thawed.context) == (99.0, "done", {"n": 1})


class OneScalar(BaseModel):
    name: str
    items: list[int]  # not a scalar: the head holds ``name`` only
    tags: dict[str, int]


class NoScalar(BaseModel):
    items: list[int]


class Optionals(BaseModel):
    a: int | None
    b: Optional[str]  # noqa: UP045  # the spelling is what is tested
    c: list[int] | None


def test_heads_of_one_and_of_no_scalar_field() -> None:
    kept = _Kept(OneScalar(name="x", items=[1], tags={"t": 1}), head=True)
    assert kept.record == ("x",)
    assert kept.record.name == "x"
    assert kept.thaw() == OneScalar(name="x", items=[1], tags={"t": 1})
    empty = _Kept(NoScalar(items=[1]), head=True)
    assert empty.record == ()
    assert empty.thaw() == NoScalar(items=[1])


def test_optional_scalars_are_in_the_head_and_optional_lists_are_not() -> None:
    kept = _Kept(Optionals(a=None, b="s", c=[1]), head=True)
    assert kept.record._fields == ("a", "b")
    with pytest.raises(ValueError, match="unexpected field names"):
        kept.replace(c=[2])  # not a head field
