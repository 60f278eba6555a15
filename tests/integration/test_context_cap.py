"""The cap on a stored context, ``Orchestrator(max_context_bytes=...)``, on every store.

An event whose merged context would pass the cap is a failed result (reason
``context_too_large``, a ``ContextTooLargeError`` naming the size and the limit) and writes
nothing: state, context, version, history, outbox and idempotency key stay as they were. A
creation over the cap raises and stores nothing. (Issue 12, item 8.)
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from pystator import ContextTooLargeError, StateMachine
from pystator.runtime.context_limit import context_size
from pystator.runtime.orchestrator import Orchestrator
from tests.integration.backends import StoreBackend

LIMIT = 2_000

DEFINITION: dict[str, Any] = {
    "meta": {"version": "1.0.0", "machine_name": "capped", "strict_mode": True},
    "states": [{"name": "OPEN", "type": "initial"}, {"name": "CLOSED", "type": "terminal"}],
    "transitions": [
        {"trigger": "note", "source": "OPEN", "dest": "OPEN", "actions": ["archive"]},
        {"trigger": "close", "source": "OPEN", "dest": "CLOSED"},
    ],
}


def orchestrator(backend: StoreBackend, **options: Any) -> Orchestrator:
    machine = StateMachine.from_dict(DEFINITION)
    options.setdefault("max_context_bytes", LIMIT)
    # Actions stay in the outbox, so the test can see that a refused event added none.
    return Orchestrator(machine, backend.store(), run_actions=False, **options)


def filler(total: int, **others: Any) -> dict[str, Any]:
    """A context whose compact JSON is exactly ``total`` bytes."""
    base = {**others, "blob": ""}
    pad = total - len(json.dumps(base, separators=(",", ":"), ensure_ascii=False).encode())
    assert pad >= 0
    context = {**others, "blob": "x" * pad}
    assert context_size(context) == total
    return context


def snapshot(orch: Orchestrator, entity_id: str) -> tuple[Any, ...]:
    """Everything an event can write for ``entity_id``."""
    entity = orch.get_entity(entity_id)
    assert entity is not None
    history = orch.get_history(entity_id, limit=500)
    outbox = orch.store.pending_actions(now=1e12, machine_name=orch.machine_name, limit=500)
    return (
        entity.state,
        entity.context,
        entity.version,
        entity.updated_at,
        [(h.version, h.trigger) for h in history],
        sorted(item.id for item in outbox),
    )


def test_an_event_past_the_cap_is_refused_and_writes_nothing(backend: StoreBackend) -> None:
    orch = orchestrator(backend)
    orch.create_entity("e1", {"owner": "ann"})
    orch.process_event("e1", "note", {"n": 1})
    before = snapshot(orch, "e1")

    result = orch.process_event("e1", "note", {"blob": "x" * LIMIT}, idempotency_key="k1")

    assert result.success is False
    assert result.metadata["reason"] == "context_too_large"
    assert result.metadata["limit"] == LIMIT
    size = result.metadata["size"]
    assert size == context_size({"owner": "ann", "n": 1, "blob": "x" * LIMIT})
    assert size > LIMIT
    error = result.error
    assert isinstance(error, ContextTooLargeError)
    assert (error.size, error.limit) == (size, LIMIT)
    assert f"{size:,} bytes" in error.message
    assert f"{LIMIT:,} bytes" in error.message
    assert "'e1'" in error.message
    assert snapshot(orch, "e1") == before
    # The refused event stored no idempotency key: the key is free for a real event.
    assert orch.store.get_idempotency("capped", "e1", "k1") is None
    assert orch.process_event("e1", "note", {"n": 2}, idempotency_key="k1").success


def test_the_cap_counts_the_merged_context_and_allows_exactly_the_limit(
    backend: StoreBackend,
) -> None:
    orch = orchestrator(backend)
    orch.create_entity("e1", filler(LIMIT - 100, owner="ann"))
    # Each payload is small; the merged context is what counts.
    exact = filler(LIMIT, owner="ann")
    assert orch.process_event("e1", "note", {"blob": exact["blob"]}).success
    stored = orch.get_entity("e1")
    assert stored is not None
    assert context_size(stored.context) == LIMIT
    refused = orch.process_event("e1", "note", {"extra": 1})
    assert refused.metadata["reason"] == "context_too_large"
    assert refused.metadata["size"] == LIMIT + len(',"extra":1')
    # Bytes, not characters: one 'é' is two bytes of UTF-8.
    assert orch.process_event("e1", "note", {"blob": exact["blob"][:-2] + "é"}).success
    assert orch.process_event("e1", "note", {"blob": exact["blob"][:-1] + "é"}).metadata[
        "reason"
    ] == ("context_too_large")


def test_a_creation_past_the_cap_raises_and_stores_nothing(backend: StoreBackend) -> None:
    orch = orchestrator(backend)
    with pytest.raises(ContextTooLargeError) as caught:
        orch.create_entity("big", {"blob": "x" * LIMIT})
    assert caught.value.limit == LIMIT
    assert caught.value.size > LIMIT
    assert orch.get_entity("big") is None
    assert orch.get_history("big") == []
    # An event that would create the entity with a context past the cap is refused too.
    implicit = orch.process_event("big", "note", {"blob": "x" * LIMIT})
    assert implicit.metadata["reason"] == "context_too_large"
    assert orch.get_entity("big") is None


def test_async_events_and_the_record_cache_are_capped_too(backend: StoreBackend) -> None:
    orch = orchestrator(backend, record_cache=16)
    orch.create_entity("e1", {"owner": "ann"})
    assert orch.process_event("e1", "note", {"n": 1}).success  # now cached
    before = snapshot(orch, "e1")
    refused = orch.process_event("e1", "note", {"blob": "x" * LIMIT})
    assert refused.metadata["reason"] == "context_too_large"
    refused = asyncio.run(orch.async_process_event("e1", "note", {"blob": "x" * LIMIT}))
    assert refused.metadata["reason"] == "context_too_large"
    assert snapshot(orch, "e1") == before
    assert orch.process_event("e1", "note", {"n": 2}).success


def test_an_entity_stored_before_the_cap_was_lowered_is_not_stuck(backend: StoreBackend) -> None:
    roomy = orchestrator(backend, max_context_bytes=10 * LIMIT)
    roomy.create_entity("e1", {"blob": "x" * (2 * LIMIT)})
    strict = orchestrator(backend)
    # Events that do not grow the context go through; one that grows it does not.
    assert strict.process_event("e1", "note").success
    assert strict.process_event("e1", "note", {"blob": "y" * (2 * LIMIT)}).success
    grown = strict.process_event("e1", "note", {"more": 1})
    assert grown.metadata["reason"] == "context_too_large"
    assert strict.process_event("e1", "close").success


def test_no_cap_by_default(backend: StoreBackend) -> None:
    orch = orchestrator(backend, max_context_bytes=None)
    orch.create_entity("e1", {"blob": "x" * (5 * LIMIT)})
    assert orch.process_event("e1", "note", {"more": "y" * (5 * LIMIT)}).success


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "1024"])
def test_a_bad_cap_is_refused(bad: Any) -> None:
    from pystator.stores import InMemoryStateStore

    with pytest.raises(ValueError, match="max_context_bytes"):
        Orchestrator(
            StateMachine.from_dict(DEFINITION), InMemoryStateStore(), max_context_bytes=bad
        )


# ----------------------------------------------------------------------------- the HTTP API
API_LIMIT = 4096


def api_entity(client: Any, entity_id: str) -> tuple[Any, ...]:
    base = f"/api/v1/machines/capped/entities/{entity_id}"
    entity = client.get(base).json()
    history = client.get(f"{base}/history").json()["items"]
    return (
        entity["state"],
        entity["context"],
        entity["version"],
        entity["updated_at"],
        [(h["version"], h["trigger"]) for h in history],
    )


def test_the_api_answers_413_and_stores_nothing(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from tests.integration.api_app import app_for, settings

    app = app_for(settings(tmp_path, max_context_bytes=API_LIMIT))
    with TestClient(app) as client:
        assert client.post("/api/v1/machines", json={"config": DEFINITION}).status_code == 201
        entities = "/api/v1/machines/capped/entities"
        created = client.post(entities, json={"entity_id": "e1", "context": {"owner": "ann"}})
        assert created.status_code == 201, created.text
        assert client.post(f"{entities}/e1/events", json={"trigger": "note"}).status_code == 200
        before = api_entity(client, "e1")

        refused = client.post(
            f"{entities}/e1/events",
            json={"trigger": "note", "context": {"blob": "x" * API_LIMIT}},
            headers={"Idempotency-Key": "k1"},
        )
        assert refused.status_code == 413, refused.text
        size = context_size({"owner": "ann", "blob": "x" * API_LIMIT})
        detail = refused.json()["detail"]
        assert f"{size:,} bytes" in detail
        assert f"{API_LIMIT:,} bytes" in detail
        assert "PYSTATOR_MAX_CONTEXT_BYTES" in detail
        assert api_entity(client, "e1") == before
        # The key was not stored with the refusal: it now applies a real event.
        again = client.post(
            f"{entities}/e1/events",
            json={"trigger": "note", "context": {"n": 1}},
            headers={"Idempotency-Key": "k1"},
        )
        assert again.status_code == 200
        assert again.json()["entity"]["version"] == 3

        too_big = client.post(
            entities, json={"entity_id": "e2", "context": {"blob": "x" * API_LIMIT}}
        )
        assert too_big.status_code == 413, too_big.text
        assert "PYSTATOR_MAX_CONTEXT_BYTES" in too_big.json()["detail"]
        assert client.get(f"{entities}/e2").status_code == 404


def test_the_default_cap_stops_a_context_growing_by_merges(tmp_path: Path) -> None:
    """The issue's case: events of ~0.6 MB each (under the 1 MiB body limit) may not pile
    up into an entity of many megabytes."""
    from fastapi.testclient import TestClient

    from tests.integration.api_app import app_for, settings

    with TestClient(app_for(settings(tmp_path))) as client:
        assert client.post("/api/v1/machines", json={"config": DEFINITION}).status_code == 201
        entities = "/api/v1/machines/capped/entities"
        assert client.post(entities, json={"entity_id": "e1"}).status_code == 201
        first = {"trigger": "note", "context": {"a": "x" * 600_000}}
        assert client.post(f"{entities}/e1/events", json=first).status_code == 200
        second = {"trigger": "note", "context": {"b": "y" * 600_000}}
        answer = client.post(f"{entities}/e1/events", json=second)
        assert answer.status_code == 413, answer.text
        assert "1,048,576 bytes" in answer.json()["detail"]
        entity = client.get(f"{entities}/e1").json()
        assert entity["version"] == 2
        assert set(entity["context"]) == {"a"}


def test_the_setting_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from pydantic import ValidationError

    from pystator.api import ApiSettings

    monkeypatch.setenv("PYSTATOR_MAX_CONTEXT_BYTES", "65536")
    assert ApiSettings(_env_file=None).max_context_bytes == 65536
    monkeypatch.setenv("PYSTATOR_MAX_CONTEXT_BYTES", "10")
    with pytest.raises(ValidationError, match="max_context_bytes"):
        ApiSettings(_env_file=None)
