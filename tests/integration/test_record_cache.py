"""The orchestrator's record cache (opt-in, ``record_cache=``), on every store: it never
changes an outcome.

An orchestrator with a cache keeps the last record it committed per entity and processes the
next event for that entity on it, committing with the cached version and, as
``Commit.incarnation``, its ``created_at`` as the condition. These tests make the cache fall
behind in every way we know (another orchestrator, a raw store write, a delete and
re-creation, a rejection that the current state would allow, a guard that fails on the old
context, a caller that mutates what it passed in) and check that the result, the entity and
its history are what they would be without a cache; that guards, validators and hooks run as
often as without one when the cache is current; that replicas taking turns on an entity stop
caching it; and that an orchestrator without ``record_cache`` (the default) caches nothing.
"""

from __future__ import annotations

import copy
import datetime
import math
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from pystator import StateMachine
from pystator.errors import StaleVersionError
from pystator.models.entity import Commit, EntityRecord
from pystator.models.result import TransitionResult
from pystator.models.snapshot import TimerSnapshot
from pystator.runtime.clock import ManualClock
from pystator.runtime.hooks import MetricsCollector
from pystator.runtime.orchestration.record_cache import plain_private_copy, private_copy
from pystator.runtime.orchestration.record_policy import CachedRecords, NoRecordCache
from pystator.runtime.orchestrator import Orchestrator
from pystator.stores import InMemoryStateStore
from tests.integration.backends import StoreBackend
from tests.integration.test_orchestrator_stores import World

M = "order_flow"


@pytest.fixture
def world() -> World:
    return World()


def cached(world: World, backend: StoreBackend, size: int = 64, **options: Any) -> Orchestrator:
    """An orchestrator with a record cache of ``size`` entries (on its own store object)."""
    return world.orchestrator(backend, record_cache=size, **options)


def count_loads(orch: Orchestrator) -> list[str]:
    """Record the entity ids ``orch`` loads from its store (the instance method is wrapped)."""
    loads: list[str] = []
    store: Any = orch.store
    inner: Callable[[str, str], EntityRecord | None] = store.load

    def load(machine_name: str, entity_id: str) -> EntityRecord | None:
        loads.append(entity_id)
        return inner(machine_name, entity_id)

    store.load = load
    return loads


def count_commits(orch: Orchestrator) -> list[tuple[float | None, bool]]:
    """Record ``(commit.incarnation, written)`` for each commit ``orch`` makes."""
    commits: list[tuple[float | None, bool]] = []
    store: Any = orch.store
    inner: Callable[[Commit], None] = store.commit

    def commit(commit: Commit) -> None:
        try:
            inner(commit)
        except StaleVersionError:
            commits.append((commit.incarnation, False))
            raise
        commits.append((commit.incarnation, True))

    store.commit = commit
    return commits


def count_process(world: World) -> list[str]:
    """Record the trigger of every ``machine.process`` call (guards, hooks: once each)."""
    processed: list[str] = []
    inner = world.machine.process

    def counting(state: str, trigger: str, *args: Any, **kwargs: Any) -> TransitionResult:
        processed.append(trigger)
        return inner(state, trigger, *args, **kwargs)

    world.machine.process = counting  # type: ignore[method-assign]
    return processed


def assert_contiguous(orch: Orchestrator, entity_id: str) -> list[str]:
    history = orch.get_history(entity_id, limit=1000)
    record = orch.get_entity(entity_id)
    assert record is not None
    assert [h.version for h in history] == list(range(1, record.version + 1))
    return [h.trigger for h in history]


# ---------------------------------------------------------------------------- the cache works
def test_a_cached_entity_is_not_loaded_again(backend: StoreBackend, world: World) -> None:
    orch = cached(world, backend)
    loads = count_loads(orch)
    orch.process_event("A-1", "ack", {"order": "A-1"})
    for n in range(3):
        assert orch.process_event("A-1", "note", {"n": n}).success
    assert loads == ["A-1"]  # the first event only: it created the entity
    record = orch.get_entity("A-1")
    assert record is not None
    assert (record.state, record.version, record.context) == (
        "OPEN",
        4,
        {"order": "A-1", "n": 2},
    )
    assert assert_contiguous(orch, "A-1") == ["ack", "note", "note", "note"]


def test_record_cache_0_turns_it_off(backend: StoreBackend, world: World) -> None:
    orch = cached(world, backend, 0)
    loads = count_loads(orch)
    for trigger in ("ack", "note", "note"):
        orch.process_event("A-1", trigger)
    assert loads == ["A-1"] * 3
    with pytest.raises(ValueError, match="record_cache"):
        cached(world, backend, -1)
    for wrong in (True, 1.5, "10", None):
        with pytest.raises(TypeError, match="record_cache"):
            cached(world, backend, wrong)  # type: ignore[arg-type]


def test_the_default_orchestrator_caches_nothing(backend: StoreBackend, world: World) -> None:
    # No ``record_cache``: every event loads the entity, no commit carries an incarnation,
    # and a raw store write between two events is simply read (no refused commit).
    orch = world.orchestrator(backend)
    assert isinstance(orch._records, NoRecordCache)
    loads = count_loads(orch)
    commits = count_commits(orch)
    orch.process_event("A-1", "ack", {"order": "A-1"})
    orch.process_event("A-1", "note", {"n": 1})
    current = orch.get_entity("A-1")
    assert current is not None
    moved = current.model_copy(update={"context": {"by": "admin"}, "version": 3})
    backend.store().commit(Commit(entity=moved, expected_version=2))
    assert orch.process_event("A-1", "note", {"n": 2}).success
    assert loads == ["A-1"] * 4  # every event, and ``get_entity``
    assert set(commits) == {(None, True)}  # (the memory backend's store is shared: 4)
    record = orch.get_entity("A-1")
    assert record is not None
    assert (record.version, record.context) == (4, {"by": "admin", "n": 2})
    # A new entity gets the clock's reading as created_at, as always.
    clock = ManualClock(500.0)
    still = world.orchestrator(backend, clock=clock)
    still.process_event("B-1", "ack")
    still.process_event("B-2", "ack")
    assert [still.get_entity(e).created_at for e in ("B-1", "B-2")] == [500.0, 500.0]  # type: ignore[union-attr]


def test_the_cache_keeps_at_most_its_size(backend: StoreBackend, world: World) -> None:
    orch = cached(world, backend, 3)
    loads = count_loads(orch)
    for n in range(10):
        orch.process_event(f"e{n}", "ack")
    records = orch._records
    assert len(records) == 3
    # The three most recently committed are kept; the others are loaded again.
    for n in (9, 8, 7, 0):
        assert orch.process_event(f"e{n}", "note").success
    assert loads[10:] == ["e0"]
    assert len(records) == 3


# ---------------------------------------------------------------------------- a cache behind
def test_another_orchestrator_s_writes_are_never_lost(backend: StoreBackend, world: World) -> None:
    first = cached(world, backend)
    second = cached(world, backend)
    first.process_event("A-1", "ack", {"order": "A-1", "mine": 1})
    second.process_event("A-1", "note", {"theirs": 1})
    second.process_event("A-1", "note", {"theirs": 2})

    # ``first`` still caches version 1: its commit is refused, it reads and processes again.
    result = first.process_event("A-1", "note", {"mine": 2}, idempotency_key="m2")
    assert result.success
    record = first.get_entity("A-1")
    assert record is not None
    assert record.version == 4
    assert record.context == {"order": "A-1", "mine": 2, "theirs": 2}
    history = first.get_history("A-1")
    assert [(h.version, h.context_changes) for h in history] == [
        (1, {"order": "A-1", "mine": 1}),
        (2, {"theirs": 1}),
        (3, {"theirs": 2}),
        (4, {"mine": 2}),
    ]
    # Someone else writes A-1 too: the next event loads it; nobody wrote it in between, so
    # it is cached again, and the event after that is not loaded.
    loads = count_loads(first)
    commits = count_commits(first)
    first.process_event("A-1", "note", {"mine": 3})
    first.process_event("A-1", "note", {"mine": 4})
    assert loads == ["A-1"]
    assert [written for _, written in commits] == [True, True]
    assert [inc is None for inc, _ in commits] == [True, False]
    assert first.get_entity("A-1").context["theirs"] == 2  # type: ignore[union-attr]


def test_a_raw_store_write_is_seen(backend: StoreBackend, world: World) -> None:
    orch = cached(world, backend)
    orch.process_event("A-1", "ack", {"order": "A-1"})
    current = orch.get_entity("A-1")
    assert current is not None
    # Someone writes the entity directly (a migration, an admin tool).
    moved = current.model_copy(
        update={"state": "CANCELLED", "context": {"by": "admin"}, "version": 2}
    )
    backend.store().commit(Commit(entity=moved, expected_version=1))

    result = orch.process_event("A-1", "note")
    assert not result.success  # CANCELLED is terminal; the cached OPEN would have allowed it
    record = orch.get_entity("A-1")
    assert record is not None
    assert (record.state, record.version, record.context) == ("CANCELLED", 2, {"by": "admin"})


def test_a_stale_cache_never_raises_stale_version_error(
    backend: StoreBackend, world: World
) -> None:
    first = cached(world, backend, max_retries=0)
    second = cached(world, backend)
    first.process_event("A-1", "ack")
    for _ in range(3):
        second.process_event("A-1", "note")
        assert first.process_event("A-1", "note").success  # no retry left, none needed
    assert assert_contiguous(first, "A-1") == ["ack"] + ["note"] * 6


def test_a_rejection_on_a_stale_record_is_checked_on_a_fresh_one(
    backend: StoreBackend, world: World
) -> None:
    hook_results: list[tuple[str, bool]] = []

    class Hook:
        def on_transition_complete(self, result: Any, duration_ms: float) -> None:
            hook_results.append((result.trigger, result.success))

    first = cached(world, backend, hooks=[Hook()])
    second = cached(world, backend)
    first.process_event("A-1", "cancel")  # cached: CANCELLED (terminal)
    second.delete_entity("A-1")
    second.process_event("A-1", "ack")  # a new A-1, OPEN
    # The cached record says CANCELLED: "fill" would be refused. The real state allows it.
    result = first.process_event("A-1", "fill", {"qty": 1})
    assert (result.success, result.source_state, result.target_state) == (True, "OPEN", "FILLED")
    # Hooks saw each event once, with its real outcome.
    assert hook_results == [("cancel", True), ("fill", True)]
    assert assert_contiguous(first, "A-1") == ["ack", "fill"]


def test_a_success_on_a_stale_record_becomes_the_real_rejection(
    backend: StoreBackend, world: World
) -> None:
    first = cached(world, backend)
    second = cached(world, backend)
    first.process_event("A-1", "ack", {"qty": 1})  # cached: OPEN, qty 1
    second.process_event("A-1", "note", {"qty": 5000})
    rejected = first.process_event("A-1", "fill")  # the guard sees qty 5000: refused
    assert not rejected.success
    record = first.get_entity("A-1")
    assert record is not None
    assert (record.state, record.version) == ("OPEN", 2)


def test_the_context_validator_decides_on_the_current_context(
    backend: StoreBackend, world: World
) -> None:
    def validator(
        entity_id: str, state: str, trigger: str, ctx: dict[str, Any]
    ) -> tuple[bool, list[str]]:
        return (not ctx.get("frozen"), ["the order is frozen"])

    first = cached(world, backend, context_validator=validator)
    second = cached(world, backend)
    first.process_event("A-1", "ack")
    second.process_event("A-1", "note", {"frozen": True})
    refused = first.process_event("A-1", "note", {"n": 1})
    assert not refused.success
    assert refused.metadata["reason"] == "context_validation"
    second.process_event("A-1", "note", {"frozen": False})
    assert first.process_event("A-1", "note", {"n": 2}).success
    assert first.get_entity("A-1").version == 4  # type: ignore[union-attr]


def test_a_guard_error_on_a_stale_record_is_retried_fresh(
    backend: StoreBackend, world: World
) -> None:
    def needs_limit(ctx: Mapping[str, Any]) -> bool:
        return bool(ctx["limit"] >= ctx.get("qty", 0))  # KeyError without a limit

    world.guards.register("within_limit", needs_limit)
    first = cached(world, backend)
    second = cached(world, backend)
    first.process_event("A-1", "ack")  # cached without a limit
    second.process_event("A-1", "note", {"limit": 10})
    assert first.process_event("A-1", "fill", {"qty": 3}).success


def test_a_deleted_and_re_created_entity_is_not_taken_for_the_cached_one(
    backend: StoreBackend, world: World
) -> None:
    # A clock that stands still: the re-created entity is created at the same reading.
    clock = ManualClock(1_000.0)
    first = cached(world, backend, clock=clock)
    second = cached(world, backend, clock=clock)
    first.process_event("A-1", "ack", {"order": "old"})
    first.process_event("A-1", "note", {"n": 1})  # cached at version 2
    assert second.delete_entity("A-1")
    second.process_event("A-1", "cancel", {"order": "new"})  # version 1, CANCELLED
    new = second.get_entity("A-1")
    assert new is not None
    moved = new.model_copy(update={"state": "OPEN", "version": 2})
    backend.store().commit(Commit(entity=moved, expected_version=1))  # at version 2 again

    result = first.process_event("A-1", "note", {"n": 2})
    assert result.success
    record = first.get_entity("A-1")
    assert record is not None
    assert record.version == 3
    assert record.context == {"order": "new", "n": 2}  # nothing of the old incarnation
    assert record.created_at == new.created_at


def test_a_raw_re_creation_at_the_same_version_is_seen(backend: StoreBackend, world: World) -> None:
    orch = cached(world, backend)
    orch.process_event("A-1", "ack", {"order": "old"})  # cached at version 1
    old = orch.get_entity("A-1")
    assert old is not None
    store = backend.store()
    store.delete_entity(M, "A-1")
    reborn = old.model_copy(
        update={"state": "PENDING", "context": {"order": "new"}, "created_at": old.created_at + 1}
    )
    store.commit(Commit(entity=reborn, expected_version=0))

    result = orch.process_event("A-1", "ack")
    assert (result.source_state, result.target_state) == ("PENDING", "OPEN")
    record = orch.get_entity("A-1")
    assert record is not None
    assert (record.version, record.context) == (2, {"order": "new"})


def test_delete_through_the_orchestrator_forgets_the_entity(
    backend: StoreBackend, world: World
) -> None:
    orch = cached(world, backend)
    orch.process_event("A-1", "ack")
    assert orch.delete_entity("A-1")
    assert not orch.delete_entity("A-1")
    loads = count_loads(orch)
    result = orch.process_event("A-1", "cancel")
    assert (result.source_state, result.target_state) == ("PENDING", "CANCELLED")
    assert loads == ["A-1"]
    assert assert_contiguous(orch, "A-1") == ["cancel"]


# ---------------------------------------------------------------------------- what is cached
def test_mutating_what_was_passed_in_does_not_reach_the_cache(
    backend: StoreBackend, world: World
) -> None:
    orch = cached(world, backend)
    lines = ["x"]
    payload: dict[str, Any] = {"memo": {"lines": lines}}
    orch.process_event("A-1", "ack", payload)
    lines.append("changed after the call")
    payload["memo"]["extra"] = True
    seen: list[Any] = []
    world.guards.register("within_limit", lambda ctx: seen.append(ctx["memo"]) is None)
    assert orch.process_event("A-1", "fill").success
    assert seen == [{"lines": ["x"]}]
    assert orch.get_entity("A-1").context == {"memo": {"lines": ["x"]}}  # type: ignore[union-attr]


def test_a_context_json_would_change_is_not_cached(backend: StoreBackend, world: World) -> None:
    orch = cached(world, backend)
    loads = count_loads(orch)
    orch.process_event("A-1", "ack", {"pair": (1, 2), "by_number": {"1": "one"}})
    orch.process_event("A-1", "note")
    orch.process_event("A-1", "note")
    # The record with a tuple is not cached: a JSON store gives back a list (cached from then
    # on), the memory store the tuple (never cached).
    assert loads[:2] == ["A-1", "A-1"]
    assert len(loads) == (3 if isinstance(orch.store, InMemoryStateStore) else 2)
    assert orch.get_entity("A-1").context["pair"] in ([1, 2], (1, 2))  # type: ignore[union-attr]
    assert assert_contiguous(orch, "A-1") == ["ack", "note", "note"]


async def test_the_async_path_uses_the_cache_the_same_way(
    backend: StoreBackend, world: World
) -> None:
    first = cached(world, backend)
    second = cached(world, backend)
    await first.async_process_event("A-1", "ack", {"mine": 1})
    await second.async_process_event("A-1", "note", {"theirs": 1})
    assert (await first.async_process_event("A-1", "note", {"mine": 2})).success
    record = await first.async_get_entity("A-1")
    assert record is not None
    assert (record.version, record.context) == (3, {"mine": 2, "theirs": 1})
    assert await first.async_delete_entity("A-1")
    assert await first.async_get_entity("A-1") is None


def test_two_cached_orchestrators_taking_turns_lose_nothing(
    backend: StoreBackend, world: World
) -> None:
    orchestrators = [cached(world, backend) for _ in range(3)]
    expected: dict[str, int] = {}
    for n in range(30):
        orch = orchestrators[(n * 7) % 3]
        slot = f"s{n % 4}"
        if n == 0:
            assert orch.process_event("A-1", "ack", {slot: n}).success
        else:
            assert orch.process_event("A-1", "note", {slot: n}).success
        expected[slot] = n
    record = orchestrators[0].get_entity("A-1")
    assert record is not None
    assert record.version == 30
    assert record.context == expected
    assert len(assert_contiguous(orchestrators[0], "A-1")) == 30


def test_a_conflict_past_the_retries_still_raises(backend: StoreBackend, world: World) -> None:
    orch = cached(world, backend, max_retries=1, retry_backoff=0.0)
    orch.process_event("A-1", "ack")
    store: Any = orch.store
    commits: list[int] = []

    def always_stale(commit: Commit) -> None:
        commits.append(commit.expected_version)
        raise StaleVersionError("someone else won", entity_id="A-1")

    store.commit = always_stale
    with pytest.raises(StaleVersionError):
        orch.process_event("A-1", "note")
    assert len(commits) == 3  # the cached attempt, then 1 + max_retries fresh ones


def test_a_machine_of_one_state_with_the_cache() -> None:
    machine = StateMachine.from_dict(
        {
            "meta": {"version": "1", "machine_name": "m", "strict_mode": True},
            "states": [{"name": "A", "type": "initial"}],
            "transitions": [{"trigger": "t", "source": "A", "dest": "A"}],
        }
    )
    store = InMemoryStateStore()
    orch = Orchestrator(machine, store, record_cache=1)
    for n in range(5):
        orch.process_event(f"e{n % 2}", "t", {"n": n})
    assert store.load("m", "e0").version == 3  # type: ignore[union-attr]
    assert store.load("m", "e1").version == 2  # type: ignore[union-attr]
    orch.forget()
    assert isinstance(orch._records, CachedRecords)
    assert len(orch._records) == 0


# ---------------------------------------------------------------------------- once per event
def _guard_calls(world: World) -> list[Any]:
    """Register ``within_limit`` as a guard with a side effect (it records each call)."""
    calls: list[Any] = []

    def within_limit(ctx: Mapping[str, Any]) -> bool:
        calls.append(ctx.get("qty"))
        return bool(ctx.get("qty", 0) <= ctx.get("limit", 100))

    world.guards.register("within_limit", within_limit)
    return calls


@pytest.mark.parametrize("cache", [0, 64])
def test_a_rejection_on_a_current_cache_runs_the_guard_once(
    backend: StoreBackend, world: World, cache: int
) -> None:
    # Nobody else wrote the entity: a rejection computed on the cached record is confirmed
    # with a load (same version and created_at), not by processing the event again.
    calls = _guard_calls(world)
    orch = cached(world, backend, cache)
    loads = count_loads(orch)
    orch.process_event("A-1", "ack", {"qty": 500})  # OPEN, qty over the limit
    rejected = orch.process_event("A-1", "fill")
    assert not rejected.success
    assert calls == [500]
    assert loads == ["A-1", "A-1"]  # with the cache: the confirming load
    # And the entity stays cached (the confirming load is kept).
    del loads[:]
    assert orch.process_event("A-1", "note").success
    assert loads == ([] if cache else ["A-1"])


@pytest.mark.parametrize("cache", [0, 64])
def test_machine_hooks_count_a_rejected_event_once(
    backend: StoreBackend, world: World, cache: int
) -> None:
    metrics = MetricsCollector()
    world.machine.add_hook(metrics)
    orch = cached(world, backend, cache)
    orch.process_event("A-1", "ack")
    orch.process_event("A-1", "ack")  # OPEN: 'ack' is not a transition of OPEN -> rejected
    summary = metrics.get_summary()
    assert (summary["total_transitions"], summary["failed"]) == (2, 1)


@pytest.mark.parametrize("cache", [0, 64])
def test_a_guard_error_on_a_current_cache_is_raised_once(
    backend: StoreBackend, world: World, cache: int
) -> None:
    calls: list[Any] = []

    def broken(ctx: Mapping[str, Any]) -> bool:
        calls.append(ctx.get("qty"))
        raise RuntimeError("the guard failed")

    world.guards.register("within_limit", broken)
    orch = cached(world, backend, cache)
    orch.process_event("A-1", "ack", {"qty": 1})
    with pytest.raises(RuntimeError, match="the guard failed"):
        orch.process_event("A-1", "fill")
    assert calls == [1]
    record = orch.get_entity("A-1")
    assert record is not None
    assert (record.state, record.version) == ("OPEN", 1)


def test_on_transition_start_may_see_a_refused_cached_attempt(
    backend: StoreBackend, world: World
) -> None:
    """Documented: ``on_transition_start`` fires before the commit, so it sees a cached
    attempt whose commit is refused (as it sees any attempt lost to a version conflict);
    ``on_transition_complete`` sees the event once, with its real outcome."""

    class Starts:
        def __init__(self) -> None:
            self.started: list[TransitionResult] = []
            self.completed: list[TransitionResult] = []

        def on_transition_start(self, result: TransitionResult) -> None:
            self.started.append(result)

        def on_transition_complete(self, result: TransitionResult, duration_ms: float) -> None:
            self.completed.append(result)

    hook = Starts()
    first = cached(world, backend, hooks=[hook])
    second = cached(world, backend)
    first.process_event("A-1", "ack", {"qty": 1})  # cached: OPEN, qty 1
    second.process_event("A-1", "note", {"qty": 5000})
    result = first.process_event("A-1", "fill")  # real outcome: the guard refuses
    assert not result.success
    assert [r.trigger for r in hook.started] == ["ack", "fill"]  # the refused cached attempt
    assert [(r.trigger, r.success) for r in hook.completed] == [("ack", True), ("fill", False)]


# ---------------------------------------------------------------------------- contention
def test_orchestrators_taking_turns_stop_caching_the_entity(
    persistent_backend: StoreBackend, world: World
) -> None:
    """Two replicas without entity affinity take turns on one entity. A refused cached commit
    marks the entity as written elsewhere: it is loaded from then on, and each event is
    processed once, without refused commits, as without a cache."""
    processed = count_process(world)
    replicas = [cached(world, persistent_backend, 10_000) for _ in range(2)]
    commits = [count_commits(r) for r in replicas]
    replicas[0].process_event("A-1", "ack")
    del processed[:]
    for n in range(20):
        assert replicas[n % 2].process_event("A-1", "note", {"n": n}).success
    # Each replica is refused once (its first stale cached commit); after that, none.
    assert len(processed) == 22
    refused = [c for replica in commits for c in replica if not c[1]]
    assert len(refused) == 2
    assert all(written for replica in commits for _, written in replica[-8:])
    assert assert_contiguous(replicas[0], "A-1") == ["ack"] + ["note"] * 20


def test_an_entity_is_cached_again_when_the_other_writer_stops(
    backend: StoreBackend, world: World
) -> None:
    first = cached(world, backend)
    second = cached(world, backend)
    first.process_event("A-1", "ack")
    second.process_event("A-1", "note")
    first.process_event("A-1", "note")  # refused cached commit: marked
    loads = count_loads(first)
    commits = count_commits(first)
    for n in range(4):
        first.process_event("A-1", "note", {"n": n})
    # One load (the entity is at the version ``first`` committed: cached again), then none.
    assert loads == ["A-1"]
    assert all(written for _, written in commits)
    # Another write in between: loaded again, no refused commit.
    second.process_event("A-1", "note")
    first.process_event("A-1", "note")  # cached, refused, marked
    second.process_event("A-1", "note")
    del loads[:], commits[:]
    first.process_event("A-1", "note")  # marker behind the stored version: loaded, not cached
    first.process_event("A-1", "note")  # loaded again: now cached
    first.process_event("A-1", "note")
    assert loads == ["A-1", "A-1"]
    assert [written for _, written in commits] == [True, True, True]
    assert assert_contiguous(first, "A-1")[-3:] == ["note"] * 3


# ---------------------------------------------------------------------------- the private copy
def _record(context: dict[str, Any], history: dict[str, list[str]]) -> EntityRecord:
    timer = TimerSnapshot(id="OPEN:after:0@3", key="OPEN:after:0", trigger="expire", due=9.5)
    return EntityRecord(
        machine_name=M,
        entity_id="A-1",
        state="OPEN",
        context=context,
        version=3,
        history=history,
        timers=[timer],
        created_at=1.25,
        updated_at=2.5,
    )


@pytest.mark.parametrize(
    ("context", "history"),
    [
        (
            {"order": "A-1", "qty": 3, "price": 2.5, "ok": True, "none": None, "name": "é"},
            {"P": ["P.X", "P.Y"]},
        ),
        ({"memo": {"lines": ["x", {"deep": [1, 2.5, None, False, {"k": []}]}]}}, {}),
        ({}, {}),
    ],
)
def test_the_private_copy_is_a_deep_copy(
    context: dict[str, Any], history: dict[str, list[str]]
) -> None:
    """``private_copy`` (a JSON round trip through the C encoder and scanner) against its
    plain twin, ``copy.deepcopy``: the same record, sharing no container with the original."""
    record = _record(context, history)
    twin = copy.deepcopy(record)
    mine = private_copy(record)
    assert mine is not None
    assert type(mine) is EntityRecord
    assert mine.__dict__ == twin.__dict__
    assert mine.model_dump() == twin.model_dump() == record.model_dump()
    assert mine.context is not record.context
    assert mine.history is not record.history
    assert mine.timers is not record.timers
    # Changing the original (as a caller may change what it passed in) changes no copy.
    for containers in (record.context, record.history):
        for value in containers.values():
            if isinstance(value, list):
                value.append("changed")
            elif isinstance(value, dict):
                value["changed"] = True
        containers["added"] = ["changed"]
    record.timers.clear()
    assert mine.__dict__ == twin.__dict__


@pytest.mark.parametrize(
    "context",
    [
        {"pair": (1, 2)},
        {"by_number": {1: "one"}},
        {"when": datetime.datetime(2024, 1, 1)},
        {"x": math.nan},
        {"big": math.inf},
    ],
)
def test_a_context_json_would_change_gets_no_private_copy(context: dict[str, Any]) -> None:
    """Where ``copy.deepcopy`` would copy a value that a JSON store reads back as something
    else (or cannot store), the private copy is refused: such an entity is not cached."""
    assert private_copy(_record(context, {})) is None
    assert plain_private_copy(_record(context, {})) is None


@pytest.mark.parametrize(
    "context",
    [{"order": "A-1", "qty": 3, "price": 2.5, "name": "é", "memo": {"l": [1, None, {"k": []}]}}],
)
def test_the_private_copy_equals_its_plain_twin(context: dict[str, Any]) -> None:
    """``private_copy`` against ``plain_private_copy`` (``json.dumps``/``json.loads`` and a
    validated record), the twin ``PYSTATOR_PLAIN_TWINS=private_copy`` swaps in."""
    record = _record(context, {"P": ["P.X"]})
    mine, twin = private_copy(record), plain_private_copy(record)
    assert mine is not None
    assert twin is not None
    assert mine.__dict__ == twin.__dict__
    assert twin.context is not record.context
    assert twin.history is not record.history


# ---------------------------------------------------------------------------- eviction race
class _TakenMeanwhile(dict):  # type: ignore[type-arg]
    """The cache's dict, with another thread's ``take`` of the oldest entry landing between
    ``next(iter(items))`` and the eviction in ``RecordCache._set`` (what a ``take`` outside
    the lock could do)."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        keys = list(super().__iter__())
        if keys:
            super().pop(keys[0], None)  # the concurrent take()
        return iter(keys)


def test_a_concurrent_take_during_eviction_does_not_fail_a_committed_event(
    backend: StoreBackend, world: World
) -> None:
    orch = cached(world, backend, 1)
    orch.process_event("A-1", "ack", {"order": "A-1"})
    policy = orch._records
    assert isinstance(policy, CachedRecords)
    records = policy.cache
    records._items = _TakenMeanwhile(records._items)
    world.calls.clear()
    result = orch.process_event("B-1", "ack", {"order": "B-1"})
    assert result.success
    assert [call[0] for call in world.calls] == ["notify"]  # its action ran


def test_put_never_raises(backend: StoreBackend, world: World) -> None:
    class Broken(dict):  # type: ignore[type-arg]
        def __setitem__(self, key: Any, value: Any) -> None:
            raise RuntimeError("the cache is broken")

    orch = cached(world, backend, 4)
    policy = orch._records
    assert isinstance(policy, CachedRecords)
    policy.cache._items = Broken()
    world.calls.clear()
    assert orch.process_event("A-1", "ack", {"order": "A-1"}).success
    assert orch.process_event("A-1", "note").success
    assert [call[0] for call in world.calls] == ["notify"]
    assert orch.get_entity("A-1").version == 2  # type: ignore[union-attr]


def test_threads_sharing_a_cache_lose_nothing(backend: StoreBackend, world: World) -> None:
    import threading

    orch = cached(world, backend, 2)
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for n in range(15):
                entity_id = f"t{(k + n) % 4}"
                trigger = "ack" if orch.get_entity(entity_id) is None else "note"
                result = orch.process_event(entity_id, trigger, {f"k{k}": n})
                assert result.success or result.metadata.get("reason") or trigger == "ack"
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for n in range(4):
        assert_contiguous(orch, f"t{n}")


# ---------------------------------------------------------------------------- created_at
@pytest.mark.postgres
@pytest.mark.parametrize("cache", [0, 64])
def test_postgres_with_extra_float_digits_0(postgres_url: str, world: World, cache: int) -> None:
    """A server with ``extra_float_digits = 0`` (PostgreSQL 11 and older by default, or set
    per role/database) reads a wall-clock ``created_at`` back rounded to 15 digits. Without a
    cache nothing compares it; with one, both sides are compared as the server's text."""
    from pystator.stores import SQLStateStore

    def store() -> SQLStateStore:
        return SQLStateStore(
            postgres_url,
            table_prefix=prefix,
            engine_options={"connect_args": {"options": "-c extra_float_digits=0"}},
        )

    prefix = f"rv{secrets.token_hex(4)}_"
    stores = [store(), store()]
    try:
        first, second = (
            Orchestrator(
                world.machine,
                s,
                guards=world.guards,
                actions=world.actions,
                record_cache=cache,
                max_retries=1,
                retry_backoff=0.0,
            )
            for s in stores
        )
        commits = count_commits(first)
        assert first.process_event("A-1", "ack").success
        loaded = first.get_entity("A-1")
        assert loaded is not None
        assert first.process_event("A-1", "note").success
        second.process_event("A-1", "note")  # ``first`` is behind: refused, then loaded
        for n in range(4):  # loaded (rounded created_at) and cached from then on
            assert first.process_event("A-1", "note", {"n": n}).success
        assert all(written for _, written in commits[-3:])
        if cache:
            assert commits[-1][0] == loaded.created_at  # a cached commit, rounded incarnation
        record = first.get_entity("A-1")
        assert record is not None
        assert record.version == 7
    finally:
        with stores[0].engine.begin() as conn:
            for table in stores[0].tables.values():
                table.drop(conn, checkfirst=True)
        for s in stores:
            s.close()


@pytest.mark.redis
@pytest.mark.parametrize("cache", [0, 64])
def test_redis_compares_created_at_as_a_number(redis_url: str, world: World, cache: int) -> None:
    """An entity written with an int ``created_at`` (an import tool using ``model_copy``)
    loads back as a float: the same number, so the same incarnation."""
    from pystator.stores import RedisStateStore

    store = RedisStateStore(redis_url, prefix=f"pystator-test:{secrets.token_hex(4)}:")
    try:
        base = EntityRecord(machine_name=M, entity_id="A-1", state="OPEN", version=1)
        store.commit(
            Commit(entity=base.model_copy(update={"created_at": 1_700_000_000}), expected_version=0)
        )
        orch = Orchestrator(
            world.machine, store, guards=world.guards, actions=world.actions,
            record_cache=cache, max_retries=1, retry_backoff=0.0,
        )  # fmt: skip
        commits = count_commits(orch)
        for _ in range(3):
            assert orch.process_event("A-1", "note").success
        assert all(written for _, written in commits)
        assert [inc is not None for inc, _ in commits] == [False, bool(cache), bool(cache)]
    finally:
        store.clear()
        store.close()
