"""The orchestrator over every store: events, idempotency, new entities, rejections, hooks.

Each test builds its orchestrators on the ``backend`` fixture's data (memory, a SQLite file,
PostgreSQL, Redis); "separate orchestrators" get separate store objects on the same data.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest

from pystator import StateMachine
from pystator.errors import (
    EntityNotFoundError,
    GuardRejectedError,
    IdempotencyConflictError,
    InvalidTransitionError,
    StaleVersionError,
)
from pystator.models.result import TransitionResult
from pystator.runtime.orchestrator import Orchestrator, RetryPolicy
from pystator.runtime.registry import ActionRegistry, GuardRegistry
from tests.integration.backends import StoreBackend

DEFINITION: dict[str, Any] = {
    "meta": {"version": "1.0.0", "machine_name": "order_flow", "strict_mode": True},
    "states": [
        {"name": "PENDING", "type": "initial"},
        {"name": "OPEN"},
        {"name": "FILLED", "type": "terminal"},
        {"name": "CANCELLED", "type": "terminal"},
    ],
    "transitions": [
        {
            "trigger": "ack",
            "source": "PENDING",
            "dest": "OPEN",
            "actions": [{"name": "notify", "params": {"channel": "trading"}}],
        },
        {
            "trigger": "fill",
            "source": "OPEN",
            "dest": "FILLED",
            "guards": ["within_limit"],
            "actions": ["book", {"name": "notify", "params": {"channel": "settlement"}}],
        },
        {"trigger": "note", "source": "OPEN", "dest": "OPEN"},
        {"trigger": "cancel", "source": ["PENDING", "OPEN"], "dest": "CANCELLED"},
        {"trigger": "explode", "source": "OPEN", "dest": "OPEN", "actions": ["explode"]},
    ],
}


class World:
    """A machine and the calls its actions received (shared by all orchestrators)."""

    def __init__(self) -> None:
        self.machine = StateMachine.from_dict(DEFINITION)
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.guards = GuardRegistry()
        self.guards.register("within_limit", lambda ctx: ctx.get("qty", 0) <= ctx.get("limit", 100))
        self.actions = ActionRegistry()
        self.actions.register("notify", self._recorder("notify"))
        self.actions.register("book", self._recorder("book"))
        self.actions.register("explode", self._explode)

    def _recorder(self, name: str) -> Any:
        def action(ctx: Mapping[str, Any], action_id: str, **params: Any) -> None:
            with self.lock:
                self.calls.append((name, action_id, {**params, "order": ctx.get("order")}))

        return action

    def _explode(self, ctx: Mapping[str, Any], action_id: str) -> None:
        with self.lock:
            self.calls.append(("explode", action_id, {}))
        raise RuntimeError("the action failed")

    def orchestrator(self, backend: StoreBackend, **options: Any) -> Orchestrator:
        return Orchestrator(
            self.machine, backend.store(), guards=self.guards, actions=self.actions, **options
        )


class Recorder:
    """A hook that keeps every result and error it is shown."""

    def __init__(self) -> None:
        self.before: list[tuple[str, str]] = []
        self.results: list[TransitionResult] = []
        self.errors: list[BaseException] = []

    def on_before_process(self, entity_id: str, trigger: str, context: Mapping[str, Any]) -> None:
        self.before.append((entity_id, trigger))

    def on_transition_complete(self, result: TransitionResult, duration_ms: float) -> None:
        assert duration_ms >= 0
        self.results.append(result)

    def on_transition_error(
        self, entity_id: str, trigger: str, error: BaseException, duration_ms: float
    ) -> None:
        self.errors.append(error)


@pytest.fixture
def world() -> World:
    return World()


# ---------------------------------------------------------------------------- events
def test_events_move_an_entity_and_are_kept_in_its_history(
    backend: StoreBackend, world: World
) -> None:
    orch = world.orchestrator(backend)
    first = orch.process_event("A-1", "ack", {"order": "A-1", "qty": 10})
    assert (first.success, first.source_state, first.target_state) == (True, "PENDING", "OPEN")
    orch.process_event("A-1", "note", {"memo": {"lines": ["x", "y"]}})
    done = orch.process_event("A-1", "fill", {"qty": 20})
    assert done.target_state == "FILLED"

    record = orch.get_entity("A-1")
    assert record is not None
    assert (record.state, record.version) == ("FILLED", 3)
    assert record.context == {"order": "A-1", "qty": 20, "memo": {"lines": ["x", "y"]}}

    history = orch.get_history("A-1")
    assert [(h.version, h.source_state, h.target_state, h.trigger) for h in history] == [
        (1, "PENDING", "OPEN", "ack"),
        (2, "OPEN", "OPEN", "note"),
        (3, "OPEN", "FILLED", "fill"),
    ]
    assert history[0].context_changes == {"order": "A-1", "qty": 10}
    assert history[2].context_changes == {"qty": 20}
    assert history[2].result["target_state"] == "FILLED"

    assert world.calls == [
        ("notify", "order_flow/A-1/1/0", {"channel": "trading", "order": "A-1"}),
        ("book", "order_flow/A-1/3/0", {"order": "A-1"}),
        ("notify", "order_flow/A-1/3/1", {"channel": "settlement", "order": "A-1"}),
    ]
    # Every action ran and was recorded: nothing is left for recover().
    assert backend.store().pending_actions(now=1e12) == []
    assert orch.recover() == 0


async def test_async_events_do_the_same(backend: StoreBackend, world: World) -> None:
    orch = world.orchestrator(backend)
    result = await orch.async_process_event("A-1", "ack", {"order": "A-1"}, idempotency_key="k")
    assert result.target_state == "OPEN"
    again = await orch.async_process_event("A-1", "ack", {"order": "A-1"}, idempotency_key="k")
    assert again.metadata.get("replayed") is True
    rejected = await orch.async_process_event("A-1", "fill", {"qty": 1000})
    assert not rejected.success
    record = await orch.async_get_entity("A-1")
    assert record is not None
    assert (record.state, record.version) == ("OPEN", 1)
    assert [h.trigger for h in await orch.async_get_history("A-1")] == ["ack"]
    page = await orch.async_list_entities(state="OPEN")
    assert [e.entity_id for e in page.items] == ["A-1"]
    assert [c[0] for c in world.calls] == ["notify"]


def test_a_new_entity_starts_in_the_initial_state(backend: StoreBackend, world: World) -> None:
    orch = world.orchestrator(backend)
    result = orch.process_event("new", "cancel", {"reason": "changed my mind"})
    assert (result.source_state, result.target_state) == ("PENDING", "CANCELLED")
    record = orch.get_entity("new")
    assert (record.state, record.version) == ("CANCELLED", 1)
    assert orch.get_history("new")[0].source_state == "PENDING"


def test_a_missing_entity_is_an_error_when_not_created(backend: StoreBackend, world: World) -> None:
    orch = world.orchestrator(backend, use_initial_state_when_missing=False)
    with pytest.raises(EntityNotFoundError):
        orch.process_event("ghost", "ack", {"order": "ghost"})
    assert orch.get_entity("ghost") is None
    assert orch.list_entities().total == 0

    created = orch.create_entity("real", {"order": "real"})
    assert (created.state, created.version) == ("PENDING", 1)
    assert orch.process_event("real", "ack").target_state == "OPEN"
    with pytest.raises(StaleVersionError):
        orch.create_entity("real")
    assert orch.get_entity("real").version == 2


def test_list_entities_by_state(backend: StoreBackend, world: World) -> None:
    orch = world.orchestrator(backend)
    for n in range(7):
        orch.process_event(f"o{n}", "ack" if n % 2 else "cancel", {"order": f"o{n}"})
    assert orch.list_entities().total == 7
    open_page = orch.list_entities(state="OPEN", limit=2, offset=1)
    assert open_page.total == 3
    assert [e.entity_id for e in open_page.items] == ["o3", "o5"]
    assert [e.entity_id for e in orch.list_entities(state="CANCELLED").items] == [
        "o0",
        "o2",
        "o4",
        "o6",
    ]


# ---------------------------------------------------------------------------- idempotency
def test_a_duplicate_key_returns_the_stored_result_and_applies_nothing(
    backend: StoreBackend, world: World
) -> None:
    orch = world.orchestrator(backend)
    first = orch.process_event("A-1", "ack", {"order": "A-1"}, idempotency_key="ack-1")
    assert first.metadata.get("replayed") is None

    # Another orchestrator (another process, in real life) gets the retry.
    other = world.orchestrator(backend)
    again = other.process_event("A-1", "ack", {"order": "A-1"}, idempotency_key="ack-1")
    assert again.metadata["replayed"] is True
    assert again.success
    assert (again.source_state, again.target_state) == (first.source_state, first.target_state)
    assert again.all_actions == first.all_actions

    assert orch.get_entity("A-1").version == 1
    assert len(orch.get_history("A-1")) == 1
    assert [c[0] for c in world.calls] == ["notify"]  # the action did not run again

    # A key is per entity: the same key on another entity is a new event.
    assert orch.process_event("A-2", "ack", {"order": "A-2"}, idempotency_key="ack-1").success
    assert orch.get_entity("A-2").version == 1


def test_a_key_reused_for_another_event_is_a_conflict(backend: StoreBackend, world: World) -> None:
    orch = world.orchestrator(backend)
    orch.process_event("A-1", "ack", {"order": "A-1"}, idempotency_key="k")
    with pytest.raises(IdempotencyConflictError):
        orch.process_event("A-1", "ack", {"order": "other"}, idempotency_key="k")
    with pytest.raises(IdempotencyConflictError):
        orch.process_event("A-1", "cancel", {"order": "A-1"}, idempotency_key="k")
    assert orch.get_entity("A-1").version == 1
    assert orch.get_entity("A-1").context == {"order": "A-1"}


def test_concurrent_duplicates_apply_once(backend: StoreBackend, world: World) -> None:
    orchestrators = [world.orchestrator(backend) for _ in range(8)]
    barrier = threading.Barrier(len(orchestrators))
    results: list[TransitionResult] = []
    errors: list[BaseException] = []

    def send(orch: Orchestrator) -> None:
        barrier.wait()
        try:
            for n in range(3):
                results.append(
                    orch.process_event(
                        "A-1", "note" if n else "ack", {"n": n}, idempotency_key=f"k{n}"
                    )
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(o,)) for o in orchestrators]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert len(results) == 24
    assert all(r.success for r in results), [r for r in results if not r.success]
    assert sum(1 for r in results if not r.metadata.get("replayed")) == 3
    history = orchestrators[0].get_history("A-1")
    assert [(h.version, h.idempotency_key) for h in history] == [(1, "k0"), (2, "k1"), (3, "k2")]
    assert orchestrators[0].get_entity("A-1").version == 3
    assert [c[1] for c in world.calls] == ["order_flow/A-1/1/0"]


# ---------------------------------------------------------------------------- rejections
def test_rejected_events_write_nothing(backend: StoreBackend, world: World) -> None:
    orch = world.orchestrator(backend)
    orch.process_event("A-1", "ack", {"order": "A-1", "qty": 5})
    before = orch.get_entity("A-1")

    guarded = orch.process_event("A-1", "fill", {"qty": 500})
    assert not guarded.success
    assert isinstance(guarded.error, GuardRejectedError)
    wrong = orch.process_event("A-1", "ack", {"qty": 7})
    assert isinstance(wrong.error, InvalidTransitionError)
    unknown = orch.process_event("A-1", "teleport", {"qty": 9})
    assert not unknown.success

    assert orch.get_entity("A-1") == before
    assert len(orch.get_history("A-1")) == 1
    assert backend.store().pending_actions(now=1e12) == []
    # A rejected event with a key stores no key: the same key may be used again.
    assert not orch.process_event("A-1", "fill", {"qty": 500}, idempotency_key="f").success
    assert orch.process_event("A-1", "fill", {"qty": 50}, idempotency_key="f").success


def test_a_rejected_first_event_creates_no_entity(backend: StoreBackend, world: World) -> None:
    orch = world.orchestrator(backend)
    assert not orch.process_event("nobody", "fill", {"qty": 1}).success
    assert orch.get_entity("nobody") is None
    assert orch.list_entities().total == 0


def test_hooks_see_every_event_rejected_ones_included(backend: StoreBackend, world: World) -> None:
    hook = Recorder()
    orch = world.orchestrator(backend, hooks=[hook], use_initial_state_when_missing=False)
    orch.create_entity("A-1", {"order": "A-1"})
    orch.process_event("A-1", "ack")
    orch.process_event("A-1", "fill", {"qty": 1000})
    orch.process_event("A-1", "teleport")
    with pytest.raises(EntityNotFoundError):
        orch.process_event("ghost", "ack")

    assert hook.before == [("A-1", "ack"), ("A-1", "fill"), ("A-1", "teleport"), ("ghost", "ack")]
    assert [(r.trigger, r.success) for r in hook.results] == [
        ("ack", True),
        ("fill", False),
        ("teleport", False),
    ]
    assert [type(e) for e in hook.errors] == [EntityNotFoundError]


# ---------------------------------------------------------------------------- actions
def test_a_failing_action_is_retried_recorded_and_never_undoes_the_state(
    backend: StoreBackend, world: World
) -> None:
    policy = RetryPolicy(max_attempts=3, base_delay=0.0, jitter=False)
    orch = world.orchestrator(backend, action_retry=policy)
    orch.process_event("A-1", "ack", {"order": "A-1"})
    result = orch.process_event("A-1", "explode")
    assert result.success
    assert orch.get_entity("A-1").version == 2
    assert [c[1] for c in world.calls if c[0] == "explode"] == ["order_flow/A-1/2/0"] * 3
    # Failed for good: recorded, not pending, not run again by recover().
    assert backend.store().pending_actions(now=1e12) == []
    assert orch.recover() == 0


def test_recover_runs_actions_left_in_the_outbox(backend: StoreBackend, world: World) -> None:
    producer = world.orchestrator(backend, run_actions=False)
    producer.process_event("A-1", "ack", {"order": "A-1"})
    producer.process_event("A-1", "fill", {"qty": 1})
    assert world.calls == []
    assert len(backend.store().pending_actions(now=1e12)) == 3

    worker = world.orchestrator(backend)
    assert worker.recover() == 3
    assert [c[1] for c in world.calls] == [
        "order_flow/A-1/1/0",
        "order_flow/A-1/2/0",
        "order_flow/A-1/2/1",
    ]
    assert worker.recover() == 0
    assert producer.get_entity("A-1").version == 2


async def test_async_recover(backend: StoreBackend, world: World) -> None:
    producer = world.orchestrator(backend, run_actions=False)
    await producer.async_process_event("A-1", "ack", {"order": "A-1"})
    assert await world.orchestrator(backend).arecover() == 1
    assert [c[1] for c in world.calls] == ["order_flow/A-1/1/0"]


# ---------------------------------------------------------------------------- records
def test_history_rows_share_nothing_with_each_other(backend: StoreBackend, world: World) -> None:
    orch = world.orchestrator(backend)
    orch.process_event("A-1", "ack", {"order": "A-1"})
    for n in range(3):
        orch.process_event("A-1", "note", {"n": n})  # the same transition, three times
    first, second, third = orch.get_history("A-1")[1:]
    assert first.result == second.result == third.result
    first.result["exited_states"].append("MUTATED")
    first.context_changes["n"] = "MUTATED"
    again = orch.get_history("A-1")
    assert "MUTATED" not in again[1].result["exited_states"]
    assert again[1].context_changes == {"n": 0}
    assert again[2].result == third.result


def test_context_keys_must_be_strings(backend: StoreBackend, world: World) -> None:
    orch = world.orchestrator(backend)
    with pytest.raises(TypeError, match="keys must be strings"):
        orch.process_event("A-1", "ack", {1: "one"})  # type: ignore[dict-item]
    assert orch.get_entity("A-1") is None
