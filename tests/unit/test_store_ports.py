"""The ports' sync/async rule: a sync method has the plain name, its async twin the ``a``
prefix; ``close()`` is sync and ``aclose()`` async on every store and scheduler.

Also ``ThreadedAsyncStore``, the one adapter from a sync store to a whole ``StateStore``: each
async method runs its sync twin (the subclass's own) in a worker thread.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

import pytest

from pystator.models.entity import Commit, EntityRecord, Page
from pystator.runtime.ports import (
    AsyncStateStore,
    Scheduler,
    StateStore,
    SyncStateStore,
    ThreadedAsyncStore,
    TimerTarget,
)
from pystator.scheduler import AsyncioScheduler
from pystator.stores import InMemoryStateStore


def _methods(protocol: type) -> set[str]:
    return {name for name in vars(protocol) if not name.startswith("_")}


def test_the_async_store_port_is_the_sync_one_with_the_a_prefix() -> None:
    sync_names = _methods(SyncStateStore)
    assert "close" in sync_names
    assert _methods(AsyncStateStore) == {"a" + name for name in sync_names}
    for name in sync_names:
        assert not inspect.iscoroutinefunction(getattr(SyncStateStore, name)), name
        assert inspect.iscoroutinefunction(getattr(AsyncStateStore, "a" + name)), name
        twin = getattr(ThreadedAsyncStore, "a" + name)
        assert inspect.iscoroutinefunction(twin), name
        assert twin.__name__ == "a" + name


def test_the_scheduler_port_follows_the_rule() -> None:
    assert _methods(Scheduler) == {"register", "schedule", "aschedule", "close", "aclose"}
    for name in ("register", "schedule", "close"):
        assert not inspect.iscoroutinefunction(getattr(Scheduler, name)), name
    for name in ("aschedule", "aclose"):
        assert inspect.iscoroutinefunction(getattr(Scheduler, name)), name
    assert inspect.iscoroutinefunction(TimerTarget.afire_timer)


def test_every_scheduler_has_sync_close_and_schedule_and_their_async_twins() -> None:
    from pystator.scheduler import ArqScheduler, RedisScheduler

    url = "redis://127.0.0.1:6379/0"  # constructing opens no connection
    for scheduler in (AsyncioScheduler(), RedisScheduler(url), ArqScheduler(url)):
        kind = type(scheduler)
        assert isinstance(scheduler, Scheduler)
        assert not inspect.iscoroutinefunction(kind.schedule), kind
        assert not inspect.iscoroutinefunction(kind.close), kind
        assert inspect.iscoroutinefunction(kind.aschedule), kind
        assert inspect.iscoroutinefunction(kind.aclose), kind
        # The old names, kept for one release, are the sync methods.
        assert kind.schedule_sync is kind.schedule
        assert kind.close_sync is kind.close


def test_every_store_is_both_halves() -> None:
    from pystator.stores import RedisStateStore, SQLStateStore

    for store in (
        InMemoryStateStore(),
        SQLStateStore("sqlite://"),
        RedisStateStore("redis://127.0.0.1:6379/0"),  # connects on first use
    ):
        assert isinstance(store, SyncStateStore)
        assert isinstance(store, AsyncStateStore)
        assert isinstance(store, StateStore)
        assert not inspect.iscoroutinefunction(type(store).close)
        assert inspect.iscoroutinefunction(type(store).aclose)
        store.close()


class _Recording(ThreadedAsyncStore):
    """A sync store that records the thread and arguments of every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any], threading.Thread]] = []
        self.closed = False

    def _note(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((name, args, kwargs, threading.current_thread()))

    def load(self, machine_name: str, entity_id: str) -> EntityRecord | None:
        self._note("load", machine_name, entity_id)
        return None

    def commit(self, commit: Commit) -> None:
        raise ValueError("refused")

    def get_idempotency(self, machine_name: str, entity_id: str, key: str) -> None:
        return None

    def get_history(
        self, machine_name: str, entity_id: str, *, limit: int = 100, offset: int = 0
    ) -> list[Any]:
        return []

    def list_entities(
        self, machine_name: str, *, state: str | None = None, limit: int = 100, offset: int = 0
    ) -> Page:
        self._note("list_entities", machine_name, state=state, limit=limit, offset=offset)
        return Page(items=[], total=0, limit=limit, offset=offset)

    def pending_actions(
        self, *, now: float, machine_name: str | None = None, limit: int = 100
    ) -> list[Any]:
        return []

    def claim_action(self, item_id: str, *, now: float, until: float) -> bool:
        return True

    def finish_action(
        self, item_id: str, *, success: bool, attempts: int, error: str | None = None
    ) -> None:
        return None

    def delete_entity(self, machine_name: str, entity_id: str) -> bool:
        return False

    def close(self) -> None:
        self._note("close")
        self.closed = True


async def test_a_threaded_store_runs_its_own_sync_methods_in_a_worker_thread() -> None:
    store = _Recording()
    assert isinstance(store, StateStore)
    assert await store.aload("m", "e1") is None
    page = await store.alist_entities("m", state="A", limit=5)
    assert (page.total, page.limit, page.offset) == (0, 5, 0)
    await store.aclose()
    assert store.closed
    assert [(name, args, kwargs) for name, args, kwargs, _ in store.calls] == [
        ("load", ("m", "e1"), {}),
        ("list_entities", ("m",), {"state": "A", "limit": 5, "offset": 0}),
        ("close", (), {}),
    ]
    assert all(thread is not threading.current_thread() for *_, thread in store.calls)


async def test_a_threaded_store_raises_what_its_sync_method_raises() -> None:
    entity = EntityRecord(machine_name="m", entity_id="e1", state="A", version=1)
    with pytest.raises(ValueError, match="refused"):
        await _Recording().acommit(Commit(entity=entity, expected_version=0))


async def test_the_memory_stores_async_half_answers_as_its_sync_half() -> None:
    store = InMemoryStateStore()
    entity = EntityRecord(machine_name="m", entity_id="e1", state="A", version=1)
    await store.acommit(Commit(entity=entity, expected_version=0))
    assert await store.aload("m", "e1") == store.load("m", "e1") == entity
    assert (await store.alist_entities("m")).total == 1
    assert await store.adelete_entity("m", "e1")
    assert await store.aload("m", "e1") is None
    await store.aclose()
    store.close()
