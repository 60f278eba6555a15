"""The orchestrator's names follow the one sync/async rule (``x``/``ax``), keep the
``async_*`` names of the original description as aliases, and ``close()`` works from sync
code and, awaited, from async code (``await orchestrator.close()`` in the description)."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from pystator import Orchestrator, StateMachine
from pystator.scheduler import AsyncioScheduler
from pystator.stores.memory import InMemoryStateStore

DEFINITION: dict[str, Any] = {
    "meta": {"machine_name": "door"},
    "states": [
        {"name": "closed", "type": "initial"},
        {"name": "open", "timeout": {"seconds": 60, "destination": "closed"}},
    ],
    "transitions": [{"trigger": "open", "source": "closed", "dest": "open"}],
}

PAIRS = [
    "process_event",
    "process_event_outcome",
    "fire_timer",
    "create_entity",
    "get_entity",
    "delete_entity",
    "get_history",
    "list_entities",
    "recover",
    "close",
]


class _RecordsClose:
    """Records which close ran: ``close`` (sync) or ``aclose`` (async)."""

    closed: list[str]

    def close(self) -> None:
        self.closed.append("close")
        super().close()  # type: ignore[misc]

    async def aclose(self) -> None:
        self.closed.append("aclose")
        await super().aclose()  # type: ignore[misc]


class _Recording(_RecordsClose, InMemoryStateStore):
    def __init__(self) -> None:
        super().__init__()
        self.closed = []


@pytest.mark.parametrize("name", PAIRS)
def test_every_sync_method_has_an_a_prefixed_async_twin(name: str) -> None:
    sync, twin = getattr(Orchestrator, name), getattr(Orchestrator, "a" + name)
    assert inspect.iscoroutinefunction(twin)
    assert name == "close" or not inspect.iscoroutinefunction(sync)


@pytest.mark.parametrize("name", [n for n in PAIRS if n not in ("recover", "close")])
def test_the_async_names_of_the_description_are_the_same_methods(name: str) -> None:
    assert getattr(Orchestrator, "async_" + name) is getattr(Orchestrator, "a" + name)


def test_close_without_a_running_loop_closes_now_and_is_harmless_to_await() -> None:
    store = _Recording()
    orchestrator = Orchestrator(StateMachine.from_dict(DEFINITION), store)
    done = orchestrator.close()
    assert store.closed == ["close"]

    async def await_it() -> None:
        await done

    asyncio.run(await_it())
    assert store.closed == ["close"]


class _RecordingScheduler(_RecordsClose, AsyncioScheduler):
    def __init__(self) -> None:
        super().__init__()
        self.closed = []


def test_await_close_inside_a_loop_is_the_async_close_with_the_scheduler() -> None:
    store = _Recording()
    scheduler = _RecordingScheduler()
    orchestrator = Orchestrator(StateMachine.from_dict(DEFINITION), store, scheduler=scheduler)

    async def main() -> None:
        await orchestrator.aprocess_event("d1", "open")
        assert len(scheduler.pending) == 1
        await orchestrator.close()

    asyncio.run(main())
    assert store.closed == ["aclose"]
    assert scheduler.closed == ["aclose"]


def test_close_without_a_loop_closes_the_scheduler_with_its_sync_close() -> None:
    store = _Recording()
    scheduler = _RecordingScheduler()
    orchestrator = Orchestrator(StateMachine.from_dict(DEFINITION), store, scheduler=scheduler)
    orchestrator.close()
    assert (scheduler.closed, store.closed) == (["close"], ["close"])
