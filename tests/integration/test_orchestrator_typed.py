"""The orchestrator with typed contexts, typed events and ``assign``, over every store.

A machine with a context model (``OrderContext``), a declared payload for ``fill`` and
``assign`` items: the orchestrator commits ``machine.context_json(result.context)`` with the
state in one commit, stores keep JSON, and actions get the model's instance. Each test runs on
memory, SQLite, PostgreSQL and Redis; reloads go through a new store object on the same data
(for memory, the same store).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from pydantic import BaseModel

from pystator import StateMachine
from pystator.errors import ContextValidationError, PayloadValidationError
from pystator.models.entity import EntityRecord
from pystator.runtime.clock import ManualClock
from pystator.runtime.orchestrator import Orchestrator
from tests.integration.backends import StoreBackend


class OrderContext(BaseModel):
    order_qty: int
    filled_qty: int = 0
    note: str = ""


DEFINITION: dict[str, Any] = {
    "meta": {"version": "1.0.0", "machine_name": "typed_order", "strict_mode": True},
    "states": [
        {"name": "PENDING", "type": "initial", "on_enter": [{"assign": {"note": "'new'"}}]},
        {"name": "OPEN"},
        {"name": "FILLED", "type": "terminal"},
        {"name": "EXPIRED", "type": "terminal"},
    ],
    "events": {"fill": {"fields": {"qty": {"type": "integer", "required": True, "minimum": 1}}}},
    "transitions": [
        {"trigger": "ack", "source": "PENDING", "dest": "OPEN", "actions": ["seen"]},
        {
            "trigger": "fill",
            "source": "OPEN",
            "dest": "OPEN",
            "internal": True,
            "assign": {"filled_qty": "filled_qty + qty"},
            "actions": ["seen"],
        },
        {
            "trigger": "complete",
            "source": "OPEN",
            "dest": "FILLED",
            "guards": [{"expr": "filled_qty >= order_qty"}],
        },
        {
            "after": "10s",
            "source": "OPEN",
            "dest": "EXPIRED",
            "actions": [{"assign": {"note": "'expired'"}}, "seen"],
        },
    ],
}


class World:
    """The typed machine, a manual clock, and what the action ``seen`` was given."""

    def __init__(self) -> None:
        self.machine = StateMachine.from_dict(DEFINITION, context_model=OrderContext)
        self.clock = ManualClock(1000.0)
        self.seen: list[Any] = []
        self.lock = threading.Lock()
        self.machine.action("seen")(self._seen)

    def _seen(self, ctx: Any) -> None:
        with self.lock:
            self.seen.append(ctx)

    def orchestrator(self, backend: StoreBackend, **options: Any) -> Orchestrator:
        return Orchestrator(self.machine, backend.store(), clock=self.clock, **options)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture(params=[0, 16], ids=["no-cache", "record-cache"])
def cache(request: pytest.FixtureRequest) -> int:
    value: int = request.param
    return value


def reload(world: World, backend: StoreBackend, entity_id: str) -> EntityRecord | None:
    """The entity as stored, read through a new store object (memory: the same store)."""
    return world.orchestrator(backend).get_entity(entity_id)


def stored(qty: int, filled: int = 0, note: str = "new") -> dict[str, Any]:
    return {"order_qty": qty, "filled_qty": filled, "note": note}


# ---------------------------------------------------------------------- creation
def test_create_coerces_the_context_and_stores_its_json(
    backend: StoreBackend, world: World, cache: int
) -> None:
    orch = world.orchestrator(backend, record_cache=cache)
    entity = orch.create_entity("o1", {"order_qty": "5"})
    # "5" became 5; the model's defaults and the initial state's assign are stored too.
    assert entity.context == stored(5)
    again = reload(world, backend, "o1")
    assert again is not None
    assert (again.state, again.version, again.context) == ("PENDING", 1, stored(5))
    assert type(again.context["order_qty"]) is int
    (row,) = orch.get_history("o1")
    assert row.context_changes == stored(5)
    assert "context" not in row.result


def test_create_takes_an_instance_of_the_model(backend: StoreBackend, world: World) -> None:
    orch = world.orchestrator(backend)
    entity = orch.create_entity("o1", OrderContext(order_qty=3, note="ignored"))
    assert entity.context == stored(3)  # the initial state's assign still applies
    again = reload(world, backend, "o1")
    assert again is not None
    assert again.context == stored(3)


@pytest.mark.parametrize(
    ("context", "field"),
    [({"order_qty": "many"}, "order_qty"), ({}, "order_qty"), ({"order_qty": [1]}, "order_qty")],
)
def test_a_bad_context_on_create_is_refused_and_nothing_stored(
    backend: StoreBackend, world: World, context: dict[str, Any], field: str
) -> None:
    orch = world.orchestrator(backend)
    with pytest.raises(ContextValidationError) as caught:
        orch.create_entity("bad", context)
    assert any(error.startswith(f"{field}:") for error in caught.value.errors)
    assert "__create__" in caught.value.message
    assert reload(world, backend, "bad") is None
    assert orch.get_history("bad") == []


# ---------------------------------------------------------------------- events
def test_an_event_commits_the_assigned_context_with_the_state(
    backend: StoreBackend, world: World, cache: int
) -> None:
    orch = world.orchestrator(backend, record_cache=cache)
    orch.create_entity("o1", {"order_qty": 5})
    assert orch.process_event("o1", "ack").target_state == "OPEN"

    outcome = orch.process_event_outcome("o1", "fill", {"qty": 2})
    result = outcome.result
    assert result.success, result.error
    assert isinstance(result.context, OrderContext)
    assert result.context == OrderContext(order_qty=5, filled_qty=2, note="new")
    # The payload is not part of the stored context: the model does not declare it.
    assert outcome.entity is not None
    assert outcome.entity.context == stored(5, 2)

    again = reload(world, backend, "o1")
    assert again is not None
    assert (again.state, again.version, again.context) == ("OPEN", 3, stored(5, 2))
    history = orch.get_history("o1", limit=10)
    assert [row.version for row in history] == [1, 2, 3]
    assert history[-1].context_changes == {"filled_qty": 2}
    assert "context" not in history[-1].result

    # The next event reads the committed context: the guard sees 2 + 3 >= 5.
    assert orch.process_event("o1", "fill", {"qty": 3}).success
    assert orch.process_event("o1", "complete").target_state == "FILLED"
    final = reload(world, backend, "o1")
    assert final is not None
    assert (final.state, final.context) == ("FILLED", stored(5, 5))


def test_actions_get_the_models_instance_after_the_step(
    backend: StoreBackend, world: World, cache: int
) -> None:
    orch = world.orchestrator(backend, record_cache=cache)
    orch.create_entity("o1", {"order_qty": 5})
    orch.process_event("o1", "ack")
    orch.process_event("o1", "fill", {"qty": 4})
    assert world.seen == [
        OrderContext(order_qty=5, filled_qty=0, note="new"),
        OrderContext(order_qty=5, filled_qty=4, note="new"),
    ]
    assert all(type(ctx) is OrderContext for ctx in world.seen)


def test_a_bad_payload_changes_nothing(backend: StoreBackend, world: World, cache: int) -> None:
    orch = world.orchestrator(backend, record_cache=cache)
    orch.create_entity("o1", {"order_qty": 5})
    orch.process_event("o1", "ack")
    before = reload(world, backend, "o1")
    seen = len(world.seen)
    for payload in ({"qty": "lots"}, {}, {"qty": 0}):
        outcome = orch.process_event_outcome("o1", "fill", payload)
        result = outcome.result
        assert not result.success
        assert result.metadata["reason"] == "payload_validation"
        assert isinstance(result.error, PayloadValidationError)
        assert any(error.startswith("qty:") for error in result.metadata["errors"])
        assert outcome.entity is not None
        assert outcome.entity.version == 2
    assert reload(world, backend, "o1") == before
    assert len(orch.get_history("o1", limit=10)) == 2
    assert len(world.seen) == seen  # no action ran


def test_an_event_for_a_new_entity_creates_it_with_a_coerced_context(
    backend: StoreBackend, world: World, cache: int
) -> None:
    orch = world.orchestrator(backend, record_cache=cache)
    result = orch.process_event("fresh", "ack", {"order_qty": "7"})
    assert result.success, result.error
    entity = reload(world, backend, "fresh")
    assert entity is not None
    assert (entity.state, entity.version, entity.context) == ("OPEN", 1, stored(7))
    (row,) = orch.get_history("fresh")
    assert row.context_changes == stored(7)
    # Without the required key, no entity is made.
    refused = orch.process_event("nobody", "ack", {})
    assert refused.metadata["reason"] == "context_validation"
    assert reload(world, backend, "nobody") is None


def test_entities_never_see_each_others_context(
    backend: StoreBackend, world: World, cache: int
) -> None:
    orch = world.orchestrator(backend, record_cache=cache)
    for n in range(1, 4):
        orch.create_entity(f"e{n}", {"order_qty": 10 * n})
        orch.process_event(f"e{n}", "ack")
    results = {}
    for _ in range(2):
        for n in range(1, 4):
            results[n] = orch.process_event(f"e{n}", "fill", {"qty": n})
    for n in range(1, 4):
        assert results[n].context == OrderContext(order_qty=10 * n, filled_qty=2 * n, note="new")
        entity = reload(world, backend, f"e{n}")
        assert entity is not None
        assert entity.context == stored(10 * n, 2 * n)
    # The same transition with the same payload for two entities: two different contexts.
    a = orch.process_event("e1", "fill", {"qty": 1})
    b = orch.process_event("e2", "fill", {"qty": 1})
    assert (a.context.order_qty, b.context.order_qty) == (10, 20)


def test_recovered_actions_get_the_models_instance(backend: StoreBackend, world: World) -> None:
    orch = world.orchestrator(backend, run_actions=False)
    orch.create_entity("o1", {"order_qty": 5})
    orch.process_event("o1", "ack")
    orch.process_event("o1", "fill", {"qty": 2})
    assert world.seen == []  # left in the outbox
    world.clock.advance(60)
    assert world.orchestrator(backend).recover() == 2
    assert world.seen == [
        OrderContext(order_qty=5, filled_qty=0, note="new"),
        OrderContext(order_qty=5, filled_qty=2, note="new"),
    ]


def test_a_context_validator_runs_after_the_model_and_sees_the_payload(
    backend: StoreBackend, world: World
) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def validator(
        entity_id: str, state: str, trigger: str, context: dict[str, Any]
    ) -> tuple[bool, list[str]]:
        calls.append((trigger, dict(context)))
        return context.get("qty", 0) < 100, ["qty: too much for this desk"]

    orch = world.orchestrator(backend, context_validator=validator)
    orch.create_entity("o1", {"order_qty": 5})
    orch.process_event("o1", "ack")
    refused = orch.process_event("o1", "fill", {"qty": 500})
    assert refused.metadata["reason"] == "context_validation"
    assert refused.metadata["errors"] == ["qty: too much for this desk"]
    assert calls[-1] == ("fill", {**stored(5), "qty": 500})
    entity = reload(world, backend, "o1")
    assert entity is not None
    assert entity.context == stored(5)
    assert orch.process_event("o1", "fill", {"qty": 1}).success


# ---------------------------------------------------------------------- timers
def test_a_delayed_transition_commits_its_assign(
    backend: StoreBackend, world: World, cache: int
) -> None:
    orch = world.orchestrator(backend, record_cache=cache)
    orch.create_entity("o1", {"order_qty": 5})
    orch.process_event("o1", "ack")
    orch.process_event("o1", "fill", {"qty": 1})
    entity = reload(world, backend, "o1")
    assert entity is not None
    (timer,) = entity.timers
    world.clock.advance(11)
    result = orch.fire_timer("o1", timer.id)
    assert result.success, result.error
    assert result.context == OrderContext(order_qty=5, filled_qty=1, note="expired")
    expired = reload(world, backend, "o1")
    assert expired is not None
    assert (expired.state, expired.context, expired.timers) == (
        "EXPIRED",
        stored(5, 1, "expired"),
        [],
    )
    # The action ran with the context after the timer's assign.
    assert world.seen[-1] == OrderContext(order_qty=5, filled_qty=1, note="expired")


# ---------------------------------------------------------------------- idempotency
def test_a_replay_carries_the_context_its_event_committed(
    backend: StoreBackend, world: World, cache: int
) -> None:
    orch = world.orchestrator(backend, record_cache=cache)
    orch.create_entity("o1", {"order_qty": 5})
    orch.process_event("o1", "ack")
    first = orch.process_event("o1", "fill", {"qty": 2}, idempotency_key="k1")
    assert first.context == OrderContext(order_qty=5, filled_qty=2, note="new")
    orch.process_event("o1", "fill", {"qty": 1})  # the entity moves on

    # Another orchestrator (and store object) on the same data replays it too.
    for replayer in (orch, world.orchestrator(backend)):
        replay = replayer.process_event("o1", "fill", {"qty": 2}, idempotency_key="k1")
        assert replay.metadata.get("replayed") is True
        assert isinstance(replay.context, OrderContext)
        assert replay.context == first.context
        assert replay.target_state == first.target_state
    entity = reload(world, backend, "o1")
    assert entity is not None
    assert entity.context == stored(5, 3)  # applied once


# ---------------------------------------------------------------------- async
async def test_the_async_api_does_the_same(backend: StoreBackend, world: World, cache: int) -> None:
    orch = world.orchestrator(backend, record_cache=cache)
    created = await orch.async_create_entity("o1", {"order_qty": "4"})
    assert created.context == stored(4)
    with pytest.raises(ContextValidationError):
        await orch.async_create_entity("bad", {"order_qty": "x"})
    assert await orch.async_get_entity("bad") is None

    await orch.async_process_event("o1", "ack")
    bad = await orch.async_process_event("o1", "fill", {"qty": "x"})
    assert bad.metadata["reason"] == "payload_validation"
    outcome = await orch.async_process_event_outcome("o1", "fill", {"qty": 3}, idempotency_key="a1")
    assert outcome.result.context == OrderContext(order_qty=4, filled_qty=3, note="new")
    assert outcome.entity is not None
    assert outcome.entity.context == stored(4, 3)
    replay = await orch.async_process_event("o1", "fill", {"qty": 3}, idempotency_key="a1")
    assert replay.metadata.get("replayed") is True
    assert replay.context == outcome.result.context

    entity = await orch.async_get_entity("o1")
    assert entity is not None
    (timer,) = entity.timers
    world.clock.advance(11)
    fired = await orch.async_fire_timer("o1", timer.id)
    assert fired.success, fired.error
    final = await world.orchestrator(backend).async_get_entity("o1")
    assert final is not None
    assert (final.state, final.version, final.context) == (
        "EXPIRED",
        4,
        stored(4, 3, "expired"),
    )
    assert all(type(ctx) is OrderContext for ctx in world.seen)


# ---------------------------------------------------------------------- untyped machines
def test_an_untyped_machine_commits_its_assign_and_keeps_the_payload(
    backend: StoreBackend, cache: int
) -> None:
    definition = {
        "meta": {"version": "1.0.0", "machine_name": "counter", "strict_mode": True},
        "states": [{"name": "ON", "type": "initial"}],
        "transitions": [
            {"trigger": "add", "source": "ON", "dest": "ON", "assign": {"total": "total + n"}},
            {"trigger": "note", "source": "ON", "dest": "ON"},
        ],
    }
    orch = Orchestrator(StateMachine.from_dict(definition), backend.store(), record_cache=cache)
    orch.create_entity("c", {"total": 1})
    result = orch.process_event("c", "add", {"n": 2})
    assert result.success, result.error
    assert result.context == {"total": 3, "n": 2}
    # As before issue 13, the payload merges into a dict context.
    assert orch.process_event("c", "note", {"by": "me"}).context == {"total": 3, "n": 2, "by": "me"}
    entity = Orchestrator(StateMachine.from_dict(definition), backend.store()).get_entity("c")
    assert entity is not None
    assert (entity.version, entity.context) == (3, {"total": 3, "n": 2, "by": "me"})
