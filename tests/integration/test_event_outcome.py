"""``Orchestrator.process_event_outcome``: the result and the entity exactly as the event left
it, on every store (issue 12, item 4; the HTTP API answers with it)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pystator import StateMachine
from pystator.runtime.orchestrator import EventOutcome, Orchestrator
from tests.integration.backends import StoreBackend

DEFINITION: dict[str, Any] = {
    "meta": {"version": "1.0.0", "machine_name": "outcomes", "strict_mode": True},
    "states": [{"name": "OPEN", "type": "initial"}, {"name": "CLOSED", "type": "terminal"}],
    "transitions": [
        {"trigger": "note", "source": "OPEN", "dest": "OPEN"},
        {"trigger": "close", "source": "OPEN", "dest": "CLOSED", "guards": [{"expr": "ok"}]},
    ],
}


def orchestrator(backend: StoreBackend, **options: Any) -> Orchestrator:
    return Orchestrator(StateMachine.from_dict(DEFINITION), backend.store(), **options)


@pytest.mark.parametrize("record_cache", [0, 8])
def test_the_entity_is_the_one_the_event_committed(
    backend: StoreBackend, record_cache: int
) -> None:
    orch = orchestrator(backend, record_cache=record_cache)
    orch.create_entity("e1", {"n": 0})
    outcome = orch.process_event_outcome("e1", "note", {"n": 1})
    assert isinstance(outcome, EventOutcome)
    assert outcome.result.success
    entity = outcome.entity
    assert entity is not None
    assert (entity.state, entity.version, entity.context) == ("OPEN", 2, {"n": 1})
    stored = orch.get_entity("e1")
    assert stored is not None
    assert (stored.version, stored.context, stored.updated_at) == (2, {"n": 1}, entity.updated_at)
    # The caller owns what it got: changing it changes nothing stored or cached.
    entity.context["n"] = 99
    after = orch.process_event_outcome("e1", "note", {"m": 1}).entity
    assert after is not None
    assert after.context == {"n": 1, "m": 1}


@pytest.mark.parametrize("record_cache", [0, 8])
def test_a_refused_event_shows_the_entity_it_was_processed_against(
    backend: StoreBackend, record_cache: int
) -> None:
    orch = orchestrator(backend, record_cache=record_cache)
    orch.create_entity("e1", {"ok": False})
    orch.process_event("e1", "note", {"n": 1})  # cached now, with a cache
    outcome = orch.process_event_outcome("e1", "close", {"reason": "done"})
    assert outcome.result.success is False
    assert outcome.result.metadata["reason"] == "guard_rejected"
    entity = outcome.entity
    assert entity is not None
    assert (entity.state, entity.version, entity.context) == ("OPEN", 2, {"ok": False, "n": 1})
    entity.context["ok"] = True  # owned by the caller: the next event does not see it
    assert orch.process_event("e1", "close").success is False


def test_a_replayed_key_shows_the_entity_as_it_is(backend: StoreBackend) -> None:
    orch = orchestrator(backend)
    orch.create_entity("e1")
    first = orch.process_event_outcome("e1", "note", {"n": 1}, idempotency_key="k")
    orch.process_event("e1", "note", {"n": 2})
    again = orch.process_event_outcome("e1", "note", {"n": 1}, idempotency_key="k")
    assert again.result.metadata["replayed"] is True
    assert first.entity is not None
    assert again.entity is not None
    assert (first.entity.version, again.entity.version) == (2, 3)
    assert again.entity.context == {"n": 2}


def test_an_event_for_no_entity_that_is_refused_shows_none(backend: StoreBackend) -> None:
    orch = orchestrator(backend)
    outcome = orch.process_event_outcome("ghost", "close", {"ok": False})
    assert outcome.result.success is False
    assert outcome.entity is None
    assert orch.get_entity("ghost") is None


def test_the_async_twin(backend: StoreBackend) -> None:
    orch = orchestrator(backend)
    orch.create_entity("e1")
    outcome = asyncio.run(orch.async_process_event_outcome("e1", "note", {"n": 1}))
    assert outcome.entity is not None
    assert (outcome.entity.version, outcome.entity.context) == (2, {"n": 1})
