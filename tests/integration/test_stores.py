"""One contract, every store: memory, a SQLite file, PostgreSQL and Redis.

A store reads back exactly what it wrote; ``commit`` is all or nothing and only at the
expected version; idempotency keys are unique per entity; history and entity lists page with
a total; outbox items are claimed by one runner at a time until their lease runs out.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from pystator.errors import StaleVersionError
from pystator.models.entity import (
    Commit,
    EntityRecord,
    IdempotencyRecord,
    OutboxItem,
    TransitionRecord,
)
from pystator.models.snapshot import TimerSnapshot
from tests.integration.backends import StoreBackend

M = "orders"

NESTED: dict[str, Any] = {
    "zeta": 1,
    "alpha": {"nested": {"deep": [1, 2.5, None, True, False, {"x": "y"}], "empty": {}}},
    "unicode": 'Grüße, 世界, emoji \U0001f600, quote " backslash \\ nul-free',
    "floats": [0.1, 1e-300, 1.7976931348623157e308, -0.0, 123456.789],
    "big": 2**62,
    "negative": -(2**53) - 1,
    "list_of_lists": [[], [[]], [1, [2, [3]]]],
    "strings": ["", " ", "a\nb\tc"],
    "mixed_keys": {"b": 1, "a": 2, "10": 3, "9": 4},
}


def entity(
    entity_id: str = "o-1",
    *,
    state: str = "PENDING",
    version: int = 1,
    context: dict[str, Any] | None = None,
    machine: str = M,
    timers: list[TimerSnapshot] | None = None,
    history: dict[str, list[str]] | None = None,
) -> EntityRecord:
    return EntityRecord(
        machine_name=machine,
        entity_id=entity_id,
        state=state,
        context=context if context is not None else {"n": version},
        version=version,
        history=history or {},
        timers=timers or [],
        created_at=1_700_000_000.125,
        updated_at=1_700_000_000.25 + version,
    )


def transition(
    entity_id: str = "o-1",
    version: int = 1,
    *,
    source: str = "PENDING",
    target: str = "OPEN",
    key: str | None = None,
    machine: str = M,
) -> TransitionRecord:
    return TransitionRecord(
        machine_name=machine,
        entity_id=entity_id,
        version=version,
        source_state=source,
        target_state=target,
        trigger=f"t{version}",
        context_changes={"n": version, "nested": {"v": [version]}},
        context_removed=["gone"] if version % 2 else [],
        at=1_700_000_100.5 + version,
        idempotency_key=key,
        result={"success": True, "target_state": target, "metadata": {"v": version}},
    )


def outbox_item(
    entity_id: str = "o-1",
    version: int = 1,
    position: int = 0,
    *,
    created_at: float = 100.0,
    claimed_until: float = 0.0,
    machine: str = M,
) -> OutboxItem:
    return OutboxItem(
        id=f"{machine}/{entity_id}/{version}/{position}",
        machine_name=machine,
        entity_id=entity_id,
        version=version,
        position=position,
        name=f"act{position}",
        params={"p": position, "nested": {"k": [1, "two"]}},
        context={"order": entity_id, "qty": 3.5},
        claimed_until=claimed_until,
        created_at=created_at,
    )


def key_record(entity_id: str = "o-1", key: str = "k-1", version: int = 1) -> IdempotencyRecord:
    return IdempotencyRecord(
        machine_name=M,
        entity_id=entity_id,
        key=key,
        fingerprint="f" * 64,
        version=version,
        result={"success": True, "target_state": "OPEN", "all_actions": ["a", "b"]},
    )


def create(store: Any, record: EntityRecord, **extra: Any) -> None:
    store.commit(Commit(entity=record, expected_version=0, **extra))


def advance(store: Any, entity_id: str, versions: range, **extra: Any) -> None:
    """Commit versions ``versions`` in turn (the first one creates the entity)."""
    for v in versions:
        store.commit(
            Commit(
                entity=entity(entity_id, version=v),
                expected_version=v - 1,
                transition=transition(entity_id, v),
                **extra,
            )
        )


def ordered(value: Any) -> str:
    """JSON with key order kept: equal only if the order of every mapping is the same."""
    return json.dumps(value)


# ---------------------------------------------------------------------------- round trips
def test_load_of_an_unknown_entity_is_none(backend: StoreBackend) -> None:
    store = backend.store()
    assert store.load(M, "nobody") is None
    assert store.get_history(M, "nobody") == []
    assert store.get_idempotency(M, "nobody", "k") is None


def test_commit_then_load_reads_back_exactly_what_was_written(backend: StoreBackend) -> None:
    store = backend.store()
    timers = [
        TimerSnapshot(id="OPEN:after:0@1", key="OPEN:after:0", trigger="expire", due=1.5e9 + 0.1),
        TimerSnapshot(id="OPEN:after:1@1", key="OPEN:after:1", trigger="remind", due=42.0),
    ]
    record = entity(
        state="P(left=A, right=B)",
        context=NESTED,
        timers=timers,
        history={"H": ["A", "A.x"], "deep": []},
    )
    create(store, record, transition=transition())

    loaded = store.load(M, "o-1")
    assert loaded == record
    assert ordered(loaded.context) == ordered(NESTED)
    assert loaded.timers == timers
    assert loaded.history == {"H": ["A", "A.x"], "deep": []}
    assert loaded.version == 1
    assert (loaded.created_at, loaded.updated_at) == (record.created_at, record.updated_at)
    assert store.get_history(M, "o-1") == [transition()]


def test_a_new_store_object_sees_what_another_one_wrote(backend: StoreBackend) -> None:
    writer, reader = backend.store(), backend.store()
    create(writer, entity(context=NESTED))
    loaded = reader.load(M, "o-1")
    assert loaded is not None
    assert ordered(loaded.context) == ordered(NESTED)


def test_loaded_records_are_copies(backend: StoreBackend) -> None:
    store = backend.store()
    context = {"items": [1, 2], "meta": {"a": 1}}
    create(store, entity(context=context))
    context["items"].append(3)  # the caller's dict, after the commit
    loaded = store.load(M, "o-1")
    loaded.context["meta"]["a"] = 99
    again = store.load(M, "o-1")
    assert again.context == {"items": [1, 2], "meta": {"a": 1}}


def test_an_update_replaces_state_context_and_version(backend: StoreBackend) -> None:
    store = backend.store()
    create(store, entity(context={"a": 1, "b": {"c": 1}}))
    updated = entity(state="OPEN", version=2, context={"b": {"c": 2}, "d": [1]})
    store.commit(Commit(entity=updated, expected_version=1, transition=transition(version=2)))
    assert store.load(M, "o-1") == updated
    assert [t.version for t in store.get_history(M, "o-1")] == [2]


def test_machines_do_not_share_entities(backend: StoreBackend) -> None:
    store = backend.store()
    create(store, entity(machine="orders"))
    create(store, entity(machine="billing", state="DUE"))
    assert store.load("orders", "o-1").state == "PENDING"
    assert store.load("billing", "o-1").state == "DUE"
    assert store.list_entities("orders").total == 1


# ---------------------------------------------------------------------------- version checks
def test_a_stale_update_raises_and_writes_nothing(backend: StoreBackend) -> None:
    store = backend.store()
    advance(store, "o-1", range(1, 4))
    before = store.load(M, "o-1")
    stale = Commit(
        entity=entity(state="LOST", version=3, context={"lost": True}),
        expected_version=2,
        transition=transition(version=3, target="LOST"),
        outbox=[outbox_item(version=3)],
        idempotency=key_record(key="stale-key", version=3),
    )
    with pytest.raises(StaleVersionError) as caught:
        store.commit(stale)
    assert caught.value.entity_id == "o-1"
    assert caught.value.expected_version == 2
    assert caught.value.actual_version == 3

    assert store.load(M, "o-1") == before
    assert [t.version for t in store.get_history(M, "o-1")] == [1, 2, 3]
    assert store.pending_actions(now=1e12) == []
    assert store.get_idempotency(M, "o-1", "stale-key") is None
    assert store.list_entities(M, state="LOST").total == 0


def test_an_update_of_another_incarnation_raises_and_writes_nothing(
    backend: StoreBackend,
) -> None:
    # ``Commit.incarnation`` (set by the orchestrator's record cache): the entity was deleted
    # and created again meanwhile, same version, another created_at.
    store = backend.store()
    advance(store, "o-1", range(1, 3))
    before = store.load(M, "o-1")
    assert before is not None
    other = entity(state="LOST", version=3, context={"lost": True})
    with pytest.raises(StaleVersionError, match="created again") as caught:
        store.commit(
            Commit(
                entity=other,
                expected_version=2,
                transition=transition(version=3, target="LOST"),
                outbox=[outbox_item(version=3)],
                idempotency=key_record(key="other-key", version=3),
                incarnation=before.created_at + 1,
            )
        )
    assert caught.value.expected_version == 2
    assert caught.value.actual_version in (2, None)  # (SQL does not read it again)
    assert store.load(M, "o-1") == before
    assert [t.version for t in store.get_history(M, "o-1")] == [1, 2]
    assert store.pending_actions(now=1e12) == []
    assert store.get_idempotency(M, "o-1", "other-key") is None
    # With the stored created_at the same commit goes through.
    store.commit(
        Commit(
            entity=other,
            expected_version=2,
            transition=transition(version=3, target="LOST"),
            incarnation=before.created_at,
        )
    )
    assert store.load(M, "o-1").state == "LOST"  # type: ignore[union-attr]


def test_without_an_incarnation_created_at_is_not_checked(backend: StoreBackend) -> None:
    # A commit without ``incarnation`` is checked on the version only (what the orchestrator
    # does without a record cache), whatever ``created_at`` the new record carries.
    store = backend.store()
    advance(store, "o-1", range(1, 3))
    before = store.load(M, "o-1")
    assert before is not None
    moved = entity(state="LOST", version=3).model_copy(update={"created_at": before.created_at + 5})
    store.commit(Commit(entity=moved, expected_version=2))
    after = store.load(M, "o-1")
    assert after is not None
    assert (after.state, after.version) == ("LOST", 3)


def test_an_incarnation_is_compared_as_a_number(backend: StoreBackend) -> None:
    # An int created_at (an import tool's record) is the same incarnation as its float.
    store = backend.store()

    def at(version: int) -> EntityRecord:
        return entity(version=version).model_copy(update={"created_at": 1_700_000_000})

    create(store, at(1))
    store.commit(Commit(entity=at(2), expected_version=1, incarnation=1_700_000_000.0))
    with pytest.raises(StaleVersionError):
        store.commit(Commit(entity=at(3), expected_version=2, incarnation=1_700_000_000.5))
    store.commit(Commit(entity=at(3), expected_version=2, incarnation=1_700_000_000))
    assert store.load(M, "o-1").version == 3  # type: ignore[union-attr]


def test_an_update_of_a_missing_entity_is_stale(backend: StoreBackend) -> None:
    store = backend.store()
    with pytest.raises(StaleVersionError) as caught:
        store.commit(Commit(entity=entity(version=5), expected_version=4))
    assert caught.value.actual_version == 0
    assert store.load(M, "o-1") is None


def test_creating_an_existing_entity_is_stale(backend: StoreBackend) -> None:
    store = backend.store()
    original = entity(context={"first": True})
    create(store, original, transition=transition())
    with pytest.raises(StaleVersionError) as caught:
        create(
            store,
            entity(state="OTHER", context={"second": True}),
            transition=transition(target="OTHER"),
            outbox=[outbox_item()],
        )
    assert caught.value.expected_version == 0
    assert caught.value.actual_version == 1
    assert store.load(M, "o-1") == original
    assert len(store.get_history(M, "o-1")) == 1
    assert store.pending_actions(now=1e12) == []
    assert store.list_entities(M, state="OTHER").total == 0


def test_concurrent_creates_let_exactly_one_win(backend: StoreBackend) -> None:
    stores = [backend.store() for _ in range(6)]
    wins: list[int] = []
    stale: list[int] = []
    barrier = threading.Barrier(len(stores))

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            create(stores[n], entity(context={"by": n}), transition=transition())
            wins.append(n)
        except StaleVersionError:
            stale.append(n)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert sorted(wins + stale) == list(range(len(stores)))
    assert stores[0].load(M, "o-1").context == {"by": wins[0]}
    assert len(stores[0].get_history(M, "o-1")) == 1


def test_concurrent_updates_at_one_version_let_exactly_one_win(backend: StoreBackend) -> None:
    stores = [backend.store() for _ in range(6)]
    create(stores[0], entity())
    wins: list[int] = []
    seen: list[int | None] = []
    barrier = threading.Barrier(len(stores))

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            stores[n].commit(
                Commit(
                    entity=entity(version=2, context={"by": n}),
                    expected_version=1,
                    transition=transition(version=2),
                )
            )
            wins.append(n)
        except StaleVersionError as exc:
            seen.append(exc.actual_version)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert seen == [2] * (len(stores) - 1)  # every loser is told the version it lost to
    assert stores[0].load(M, "o-1").context == {"by": wins[0]}
    assert [t.version for t in stores[0].get_history(M, "o-1")] == [2]


# ---------------------------------------------------------------------------- idempotency
def test_an_idempotency_key_is_stored_with_the_commit(backend: StoreBackend) -> None:
    store = backend.store()
    create(store, entity(), transition=transition(key="k-1"), idempotency=key_record())
    assert store.get_idempotency(M, "o-1", "k-1") == key_record()
    assert store.get_history(M, "o-1")[0].idempotency_key == "k-1"
    assert store.get_idempotency(M, "o-1", "k-2") is None
    assert store.get_idempotency(M, "o-2", "k-1") is None


def test_an_idempotency_key_is_unique_per_entity(backend: StoreBackend) -> None:
    store = backend.store()
    create(store, entity(), idempotency=key_record())
    again = Commit(
        entity=entity(version=2, state="AGAIN"),
        expected_version=1,
        transition=transition(version=2),
        idempotency=key_record(version=2),
    )
    with pytest.raises(StaleVersionError):
        store.commit(again)
    assert store.load(M, "o-1").version == 1
    assert store.get_history(M, "o-1") == []
    assert store.get_idempotency(M, "o-1", "k-1").version == 1

    # The same key on another entity is another key.
    create(store, entity("o-2"), idempotency=key_record("o-2"))
    assert store.get_idempotency(M, "o-2", "k-1") == key_record("o-2")


# ---------------------------------------------------------------------------- history
def test_history_is_in_version_order_and_pages(backend: StoreBackend) -> None:
    store = backend.store()
    advance(store, "o-1", range(1, 26))
    advance(store, "o-2", range(1, 4))
    everything = store.get_history(M, "o-1", limit=1000)
    assert [t.version for t in everything] == list(range(1, 26))
    assert everything[6] == transition(version=7)
    assert [t.version for t in store.get_history(M, "o-1")] == list(range(1, 26))
    assert [t.version for t in store.get_history(M, "o-1", limit=10)] == list(range(1, 11))
    assert [t.version for t in store.get_history(M, "o-1", limit=10, offset=20)] == list(
        range(21, 26)
    )
    assert store.get_history(M, "o-1", limit=10, offset=25) == []
    assert store.get_history(M, "o-1", limit=0) == []
    assert [t.version for t in store.get_history(M, "o-2")] == [1, 2, 3]


# ---------------------------------------------------------------------------- listing
def test_list_entities_pages_by_id_with_a_total(backend: StoreBackend) -> None:
    store = backend.store()
    ids = [f"o-{n:02d}" for n in range(23)]
    for n, entity_id in enumerate(reversed(ids)):
        create(store, entity(entity_id, state="OPEN" if n % 3 == 0 else "PENDING"))
    create(store, entity("elsewhere", machine="billing"))

    page = store.list_entities(M, limit=10)
    assert page.total == 23
    assert (page.limit, page.offset) == (10, 0)
    assert [e.entity_id for e in page.items] == ids[:10]
    assert [e.entity_id for e in store.list_entities(M, limit=10, offset=20).items] == ids[20:]
    assert store.list_entities(M, limit=10, offset=30).items == []
    assert store.list_entities(M, limit=10, offset=30).total == 23
    first = page.items[0]
    assert isinstance(first, EntityRecord)
    assert first == entity(ids[0], state=first.state)

    open_page = store.list_entities(M, state="OPEN", limit=100)
    expected_open = sorted(e for n, e in enumerate(reversed(ids)) if n % 3 == 0)
    assert open_page.total == len(expected_open) == 8
    assert [e.entity_id for e in open_page.items] == expected_open
    assert all(e.state == "OPEN" for e in open_page.items)
    assert store.list_entities(M, state="OPEN", limit=3, offset=3).total == 8
    assert store.list_entities(M, state="NOWHERE").total == 0
    assert store.list_entities("nobody").total == 0


def test_list_entities_orders_ids_by_code_point(backend: StoreBackend) -> None:
    store = backend.store()
    ids = ["b", "B", "a", "a-1", "a_1", "Z", "é", "10", "9"]
    for entity_id in ids:
        create(store, entity(entity_id))
    assert [e.entity_id for e in store.list_entities(M).items] == sorted(ids)


def test_the_state_filter_follows_updates(backend: StoreBackend) -> None:
    store = backend.store()
    create(store, entity("o-1"))
    create(store, entity("o-2"))
    store.commit(Commit(entity=entity("o-1", state="OPEN", version=2), expected_version=1))
    assert [e.entity_id for e in store.list_entities(M, state="OPEN").items] == ["o-1"]
    assert [e.entity_id for e in store.list_entities(M, state="PENDING").items] == ["o-2"]
    assert store.list_entities(M).total == 2


# ---------------------------------------------------------------------------- outbox
def test_pending_actions_come_in_commit_order(backend: StoreBackend) -> None:
    store = backend.store()
    items = [outbox_item("o-1", 1, p, created_at=100.0) for p in range(12)]
    create(store, entity("o-1"), outbox=items)
    create(store, entity("o-0"), outbox=[outbox_item("o-0", 1, 0, created_at=200.0)])
    create(
        store, entity("x", machine="billing"), outbox=[outbox_item("x", 1, 0, machine="billing")]
    )

    pending = store.pending_actions(now=1000.0, machine_name=M)
    assert [i.id for i in pending] == [i.id for i in items] + [f"{M}/o-0/1/0"]
    assert pending[0] == items[0]
    assert [i.id for i in store.pending_actions(now=1000.0, machine_name=M, limit=5)] == [
        i.id for i in items[:5]
    ]
    assert len(store.pending_actions(now=1000.0)) == 14
    assert [i.id for i in store.pending_actions(now=1000.0, machine_name="billing")] == [
        "billing/x/1/0"
    ]


def test_a_claim_is_exclusive_until_its_lease_runs_out(backend: StoreBackend) -> None:
    store, other = backend.store(), backend.store()
    item = outbox_item(claimed_until=50.0)
    create(store, entity(), outbox=[item])

    # Still leased by the runner that committed it.
    assert store.pending_actions(now=40.0) == []
    assert not store.claim_action(item.id, now=40.0, until=70.0)

    assert [i.id for i in store.pending_actions(now=60.0)] == [item.id]
    assert store.claim_action(item.id, now=60.0, until=90.0)
    assert not other.claim_action(item.id, now=60.0, until=90.0)
    assert not other.claim_action(item.id, now=89.0, until=120.0)
    assert store.pending_actions(now=89.0) == []
    # The lease ran out: the runner is presumed dead, another may take it.
    [again] = other.pending_actions(now=91.0)
    assert again.claimed_until == 90.0
    assert other.claim_action(item.id, now=91.0, until=121.0)
    assert not store.claim_action("orders/nobody/1/0", now=91.0, until=121.0)


def test_concurrent_claims_let_exactly_one_runner_win(backend: StoreBackend) -> None:
    stores = [backend.store() for _ in range(8)]
    item = outbox_item()
    create(stores[0], entity(), outbox=[item])
    wins: list[int] = []
    barrier = threading.Barrier(len(stores))

    def attempt(n: int) -> None:
        barrier.wait()
        if stores[n].claim_action(item.id, now=10.0, until=40.0):
            wins.append(n)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1


def test_finished_actions_are_no_longer_pending(backend: StoreBackend) -> None:
    store = backend.store()
    ok, bad, left = (outbox_item(position=p) for p in range(3))
    create(store, entity(), outbox=[ok, bad, left])
    store.finish_action(ok.id, success=True, attempts=1)
    store.finish_action(bad.id, success=False, attempts=3, error="boom: it failed")
    assert [i.id for i in store.pending_actions(now=10.0)] == [left.id]
    assert not store.claim_action(ok.id, now=10.0, until=20.0)
    assert not store.claim_action(bad.id, now=10.0, until=20.0)
    store.finish_action("orders/nobody/1/0", success=True, attempts=1)  # unknown: ignored


def test_a_claimed_item_keeps_its_attempts_and_error(backend: StoreBackend) -> None:
    store = backend.store()
    item = outbox_item().model_copy(update={"attempts": 2, "last_error": "earlier failure"})
    create(store, entity(), outbox=[item])
    [pending] = store.pending_actions(now=10.0)
    assert (pending.attempts, pending.last_error) == (2, "earlier failure")
    assert pending == item


# ---------------------------------------------------------------------------- delete
def test_delete_entity_removes_everything_of_it(backend: StoreBackend) -> None:
    store = backend.store()
    create(
        store,
        entity("o-1", state="OPEN"),
        transition=transition(key="k-1"),
        outbox=[outbox_item("o-1")],
        idempotency=key_record("o-1"),
    )
    create(store, entity("o-2"), transition=transition("o-2"), outbox=[outbox_item("o-2")])

    assert store.delete_entity(M, "o-1") is True
    assert store.load(M, "o-1") is None
    assert store.get_history(M, "o-1") == []
    assert store.get_idempotency(M, "o-1", "k-1") is None
    assert [i.entity_id for i in store.pending_actions(now=1e12)] == ["o-2"]
    assert [e.entity_id for e in store.list_entities(M).items] == ["o-2"]
    assert store.list_entities(M, state="OPEN").total == 0
    assert store.delete_entity(M, "o-1") is False

    # The id is free again, from version 1.
    create(store, entity("o-1"), transition=transition(), idempotency=key_record("o-1"))
    assert store.load(M, "o-1").version == 1
    assert len(store.get_history(M, "o-1")) == 1
    assert store.load(M, "o-2").version == 1


# ---------------------------------------------------------------------------- async
async def test_the_async_methods_do_the_same(backend: StoreBackend) -> None:
    store = backend.store()
    record = entity(context=NESTED)
    await store.acommit(
        Commit(
            entity=record,
            expected_version=0,
            transition=transition(key="k-1"),
            outbox=[outbox_item()],
            idempotency=key_record(),
        )
    )
    loaded = await store.aload(M, "o-1")
    assert loaded == record
    assert ordered(loaded.context) == ordered(NESTED)
    assert await store.aget_idempotency(M, "o-1", "k-1") == key_record()
    assert await store.aget_history(M, "o-1", limit=5, offset=0) == [transition(key="k-1")]
    page = await store.alist_entities(M, state="PENDING", limit=5)
    assert (page.total, [e.entity_id for e in page.items]) == (1, ["o-1"])

    with pytest.raises(StaleVersionError):
        await store.acommit(Commit(entity=entity(version=2), expected_version=7))

    [item] = await store.apending_actions(now=10.0, machine_name=M)
    assert await store.aclaim_action(item.id, now=10.0, until=20.0) is True
    assert await store.aclaim_action(item.id, now=11.0, until=20.0) is False
    await store.afinish_action(item.id, success=True, attempts=1)
    assert await store.apending_actions(now=30.0) == []

    assert await store.adelete_entity(M, "o-1") is True
    assert await store.aload(M, "o-1") is None
    assert await store.adelete_entity(M, "o-1") is False
