"""``stores.frozen_records``: ``freeze``/``thaw`` (the ``marshal`` copies of the memory store)
give what their plain twin (``copy.deepcopy``) gives, and share nothing mutable."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel

from pystator.models.entity import (
    Commit,
    EntityRecord,
    IdempotencyRecord,
    OutboxItem,
    TransitionRecord,
)
from pystator.models.snapshot import TimerSnapshot
from pystator.stores import memory
from pystator.stores.frozen_records import freeze, plain_freeze, plain_thaw, thaw
from pystator.stores.memory import InMemoryStateStore


@dataclass
class Custom:
    """A context value ``marshal`` does not know: copied the slow way."""

    items: list[int]


def records() -> list[BaseModel]:
    timer = TimerSnapshot(id="A:after:0@3", key="A:after:0", trigger="late", due=5.0)
    return [
        EntityRecord(
            machine_name="m",
            entity_id="e-1",
            state="A",
            context={"n": 1, "nested": {"a": [1, 2.5, None, True]}, "s": "Grüße"},
            version=3,
            history={"P": ["P.X"]},
            created_at=10.0,
            updated_at=11.0,
        ),
        EntityRecord(
            machine_name="m",
            entity_id="e-2",
            state="A",
            context={"custom": Custom([1, 2])},
            version=1,
            timers=[timer],
        ),
        TransitionRecord(
            machine_name="m",
            entity_id="e-1",
            version=3,
            source_state="A",
            target_state="B",
            trigger="go",
            context_changes={"n": 2},
            context_removed=["old"],
            at=12.0,
            result={"success": True, "actions": ["notify"]},
        ),
        OutboxItem(
            id="m/e-1/3/0",
            machine_name="m",
            entity_id="e-1",
            version=3,
            position=0,
            name="notify",
            params={"to": ["a"]},
            context={"n": 1},
            created_at=1.0,
        ),
        IdempotencyRecord(
            machine_name="m", entity_id="e-1", key="k", fingerprint="f", version=3, result={}
        ),
    ]


def containers(value: Any) -> Iterator[Any]:
    """Every mutable container reachable from ``value`` (a record's fields, recursively)."""
    if isinstance(value, BaseModel):
        for field in value.__dict__.values():
            yield from containers(field)
    elif isinstance(value, dict):
        yield value
        for item in value.values():
            yield from containers(item)
    elif isinstance(value, list):
        yield value
        for item in value:
            yield from containers(item)
    elif isinstance(value, Custom):
        yield value
        yield from containers(value.items)


def shares_a_container(a: Any, b: Any) -> bool:
    return bool({id(c) for c in containers(a)} & {id(c) for c in containers(b)})


@pytest.mark.parametrize("record", records(), ids=lambda r: type(r).__name__)
def test_freeze_and_thaw_equal_their_plain_twin(record: BaseModel) -> None:
    thawed = thaw(freeze(record))
    twin = plain_thaw(plain_freeze(record))
    assert type(thawed) is type(record)
    assert thawed == twin == record
    assert thawed.model_dump() == twin.model_dump()
    assert not shares_a_container(thawed, record)
    assert not shares_a_container(twin, record)


@pytest.mark.parametrize("record", records(), ids=lambda r: type(r).__name__)
def test_a_frozen_record_is_private(record: BaseModel) -> None:
    before = record.model_copy(deep=True)
    frozen = freeze(record)
    for container in list(containers(record)):  # the caller changes what it handed in ...
        if isinstance(container, dict):
            container["changed"] = True
        elif isinstance(container, list):
            container.append("changed")
    first = thaw(frozen)
    assert first == before  # ... which the frozen copy does not see
    for container in list(containers(first)):  # nor what a reader does to what it read
        if isinstance(container, (dict, list)):
            container.clear()
    second = thaw(frozen)
    assert second == before
    assert not shares_a_container(first, second)


def test_frozen_timers_are_shared_in_a_new_list() -> None:
    entity = records()[1]
    assert isinstance(entity, EntityRecord)
    thawed = thaw(freeze(entity))
    assert thawed.timers == entity.timers
    assert thawed.timers is not entity.timers
    assert thawed.timers[0] is entity.timers[0]  # frozen: nothing to copy


def test_a_thawed_record_has_every_field_set() -> None:
    item = records()[3]
    assert "status" not in item.model_fields_set
    assert thaw(freeze(item)).model_fields_set == set(OutboxItem.model_fields)


def test_the_memory_store_runs_on_the_plain_twin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store reads its records only through ``thaw``: the twin can be swapped in (for an
    A/B measure) and the store behaves the same."""

    def scenario() -> tuple[Any, ...]:
        store = InMemoryStateStore()
        entity, transition, item = records()[0], records()[2], records()[3]
        assert isinstance(entity, EntityRecord)
        assert isinstance(transition, TransitionRecord)
        assert isinstance(item, OutboxItem)
        store.commit(
            Commit(entity=entity, expected_version=0, transition=transition, outbox=[item])
        )
        claimed = store.claim_action(item.id, now=2.0, until=30.0)
        refused = store.claim_action(item.id, now=3.0, until=40.0)
        pending_while_claimed = store.pending_actions(now=3.0)
        store.finish_action(item.id, success=False, attempts=1, error="boom")
        return (
            store.load("m", "e-1"),
            store.get_history("m", "e-1"),
            store.list_entities("m", state="A"),
            claimed,
            refused,
            pending_while_claimed,
            store.pending_actions(now=100.0),
            store.delete_entity("m", "e-1"),
        )

    fast = scenario()
    monkeypatch.setattr(memory, "freeze", plain_freeze)
    monkeypatch.setattr(memory, "thaw", plain_thaw)
    assert scenario() == fast
    assert fast[3:] == (True, False, [], [], True)


def test_a_claim_and_a_finish_rewrite_the_outbox_item() -> None:
    store = InMemoryStateStore()
    entity, item = records()[0], records()[3]
    assert isinstance(entity, EntityRecord)
    assert isinstance(item, OutboxItem)
    store.commit(Commit(entity=entity, expected_version=0, outbox=[item]))
    assert store.claim_action(item.id, now=2.0, until=30.0)
    assert store.pending_actions(now=31.0) == [item.model_copy(update={"claimed_until": 30.0})]
    store.finish_action(item.id, success=True, attempts=2)
    assert store.pending_actions(now=31.0) == []
    assert not store.claim_action(item.id, now=31.0, until=60.0)  # done: not pending
