"""The hot path's shortcuts give the same values as the slow ways they replace.

``build_record`` (a record without validation, through the models' slot setters), the
orchestrator's copies of a result's JSON, the in-memory store's heads of kept records and
the fast ``explain`` of a one-comparison expression.
"""

from __future__ import annotations

import marshal
from types import MappingProxyType
from typing import Any, Optional

import pytest
from pydantic import BaseModel

from pystator.engine.expr import ExpressionError, compile_expression, compile_value
from pystator.models.entity import (
    EntityRecord,
    OutboxItem,
    _slot_setters,
    build_record,
)
from pystator.runtime.orchestrator import _json_copier
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


@pytest.mark.parametrize(
    "data",
    [
        # a plain transition's result: scalars, and lists and dicts of scalars
        {"success": True, "target_state": "A", "exited_states": ["A"], "metadata": {}, "n": None},
        # deeper: actions with params, an error with details
        {"success": True, "all_actions": [{"name": "a", "params": {"x": [1]}}], "error": None},
        {"error": {"message": "no", "details": {"k": 1}}, "history": {"P": ["P.X"]}},
    ],
)
def test_result_json_copies_are_equal_and_share_nothing(data: dict[str, Any]) -> None:
    original = marshal.loads(marshal.dumps(data))
    copy = _json_copier(data)
    assert copy is not None
    first, second = copy(), copy()
    assert first == second == original
    # Changing a copy (or the dict the copier was made from) changes no other copy.
    for container in (first, data):
        for value in container.values():
            if isinstance(value, list):
                value.append("changed")
            elif isinstance(value, dict):
                value["changed"] = True
        container["added"] = 1
    assert copy() == original == second


def test_result_json_of_an_unknown_value_is_not_copied() -> None:
    assert _json_copier({"when": object()}) is None
    assert _json_copier({"items": [object()]}) is None


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


# ``explain`` of a one-comparison expression has a fast twin (``engine.expr.fast``), which is
# what the sync driver calls to evaluate an ``expr`` guard and name why it said no. It must
# answer exactly as the checked ``explain`` does; a read-only mapping always takes the checked
# path, so each answer on a plain dict is compared with the answer on the same data behind a
# ``MappingProxyType``.
FAST_FORMS = [
    "qty >= limit",
    "qty < limit",
    "qty == limit",
    "qty != limit",
    "qty > 10",
    "qty <= 2.5",
    "10 < qty",
    "'b' > qty",
    "qty == 'open'",
]
CONTEXTS: list[dict[str, Any]] = [
    {},
    {"qty": 1},
    {"limit": 1},
    {"qty": 1, "limit": 2},
    {"qty": 2, "limit": 2},
    {"qty": 3, "limit": 2},
    {"qty": 11},
    {"qty": 2.5, "limit": 2.5},
    {"qty": 1.0, "limit": 1},
    {"qty": True, "limit": 1},
    {"qty": float("nan"), "limit": 1.0},
    {"qty": float("inf"), "limit": 1.0},
    {"qty": "a", "limit": "b"},
    {"qty": "open"},
    {"qty": "a", "limit": 1},
    {"qty": None, "limit": None},
    {"qty": [1], "limit": [1]},
    {"qty": 2**70, "limit": 2**70 + 1},
]


@pytest.mark.parametrize("source", FAST_FORMS)
def test_fast_explain_answers_as_the_checked_explain(source: str) -> None:
    fn = compile_expression(source)
    assert fn.explain.__qualname__.startswith("_name_"), "not on the fast path"
    for ctx in CONTEXTS:
        fast = fn.explain(ctx)
        assert fast == fn.explain(MappingProxyType(ctx)), ctx
        assert (fast is None) is fn(ctx), ctx  # and it agrees with the evaluator


# An ``assign`` value that adds or subtracts two ints has a fast twin too; it must compute
# what the checked evaluator computes, and fail where it fails (compared on a read-only
# mapping, which always takes the checked path).
VALUE_FORMS = ["qty + 1", "qty - 1", "qty + limit", "qty - limit", "qty + -3"]
VALUE_CONTEXTS: list[dict[str, Any]] = [
    *CONTEXTS,
    {"qty": 2**256 - 1, "limit": 1},
    {"qty": -(2**256) + 1, "limit": 1},
    {"qty": 2**257, "limit": -(2**257)},
    {"qty": 5, "limit": 2**300},
]


def _value_or_error(fn: Any, ctx: Any) -> Any:
    try:
        return ("value", fn(ctx))
    except ExpressionError as exc:
        return ("error", str(exc))


@pytest.mark.parametrize("source", VALUE_FORMS)
def test_fast_value_computes_as_the_checked_value(source: str) -> None:
    fn = compile_value(source)
    assert fn.__qualname__.startswith("fast_value."), "not on the fast path"
    for ctx in VALUE_CONTEXTS:
        fast = _value_or_error(fn, ctx)
        checked = _value_or_error(fn, MappingProxyType(ctx))
        assert fast == checked, ctx
        if fast[0] == "value":
            assert type(fast[1]) is type(checked[1]), ctx
