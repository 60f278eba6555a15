"""Internal events (``{raise: EVENT}``) and history in parallel states through the
orchestrator (every store), the worker's event job and the HTTP API.

The orchestrator commits once per event, whatever the internal queue did in between, and
stores where the macrostep ended; the result it returns and keeps says which internal events
ran. A raise loop commits nothing, as an eventless loop. The API accepts and refuses these
definitions exactly as every other way in does, with the same path and message.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from pystator import LoopLimitError, StateMachine
from pystator.errors import ConfigurationError
from pystator.loaders import load_file
from pystator.models.entity import Commit
from pystator.runtime.clock import ManualClock
from pystator.runtime.orchestrator import Orchestrator
from pystator.runtime.ports import StateStore
from pystator.runtime.registry import ActionRegistry, GuardRegistry
from pystator.stores import InMemoryStateStore
from tests.integration.api_app import app_for, running_server, settings
from tests.integration.backends import StoreBackend
from tests.unit.test_internal_events_shells import (
    HISTORY,
    RETRY,
    RETRY_ORDER,
    loop_definition,
)

MISSPELLED_PATH = "transitions[0].actions[1].raise"
MISSPELLED_MESSAGE = (
    "no transition has trigger 'bmup': the internal event would be dropped; did you mean 'bump'?"
)


def misspelled() -> dict[str, Any]:
    data = copy.deepcopy(RETRY)
    data["meta"]["machine_name"] = "misspelled"
    data["transitions"][0]["actions"][1] = {"raise": "bmup"}
    return data


class CountingStore:
    """A store that counts the commits it is asked for; everything else passes through."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self.commits = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def commit(self, commit: Commit) -> None:
        self.commits += 1
        self._store.commit(commit)

    async def acommit(self, commit: Commit) -> None:
        self.commits += 1
        await self._store.acommit(commit)


class World:
    """The retry machine, its guard (``ok`` reads ``allowed``, default true) and the
    actions it ran, in order. Actions named like the raised events are registered too: a
    raise item must never reach the executor."""

    def __init__(self, definition: Mapping[str, Any] = RETRY) -> None:
        self.machine = StateMachine.from_dict(dict(definition))
        self.calls: list[str] = []
        self.lock = threading.Lock()
        self.guards = GuardRegistry()
        self.guards.register("ok", lambda ctx: bool(ctx.get("allowed", True)))
        self.actions = ActionRegistry()
        for name in (*RETRY_ORDER, "bump", "check", "never"):
            self.actions.register(name, self._recorder(name))

    def _recorder(self, name: str) -> Any:
        def action(ctx: Mapping[str, Any]) -> None:
            with self.lock:
                self.calls.append(name)

        return action

    def orchestrator(self, store: StateStore, **options: Any) -> Orchestrator:
        return Orchestrator(self.machine, store, self.guards, self.actions, **options)


# ----------------------------------------------------------------------------- orchestrator
@pytest.mark.parametrize("cache", [0, 8], ids=["no-cache", "record-cache"])
def test_one_commit_per_event_stores_where_the_macrostep_ended(
    backend: StoreBackend, cache: int
) -> None:
    world = World()
    store = CountingStore(backend.store())
    orchestrator = world.orchestrator(store, record_cache=cache)  # type: ignore[arg-type]
    orchestrator.create_entity("e1", {"allowed": True})
    assert store.commits == 1

    result = orchestrator.process_event("e1", "start")
    assert store.commits == 2
    assert result.success
    assert (result.target_state, result.internal_events) == ("DONE", ("bump", "check"))
    assert world.calls == list(RETRY_ORDER)

    record = orchestrator.get_entity("e1")
    assert record is not None
    assert (record.state, record.version) == ("DONE", 2)
    history = orchestrator.get_history("e1")
    assert [(h.trigger, h.source_state, h.target_state) for h in history] == [
        ("__create__", "", "IDLE"),
        ("start", "IDLE", "DONE"),
    ]
    assert history[-1].result["internal_events"] == ["bump", "check"]
    assert history[-1].result["all_actions"] == list(RETRY_ORDER)

    if backend.persistent:  # another orchestrator over another connection sees the same
        other = world.orchestrator(backend.store())
        again = other.get_entity("e1")
        assert again is not None
        assert (again.state, again.version) == ("DONE", 2)


async def test_the_async_path_awaits_an_async_guard_of_an_internal_event(
    backend: StoreBackend,
) -> None:
    world = World()

    async def ok(ctx: Mapping[str, Any]) -> bool:
        return bool(ctx.get("allowed"))

    world.guards.register("ok", ok)
    store = CountingStore(backend.store())
    orchestrator = world.orchestrator(store)  # type: ignore[arg-type]
    await orchestrator.async_create_entity("yes", {"allowed": True})
    await orchestrator.async_create_entity("no", {"allowed": False})
    passed = await orchestrator.async_process_event("yes", "start")
    refused = await orchestrator.async_process_event("no", "start")
    assert (passed.target_state, refused.target_state) == ("DONE", "FAILED")
    assert passed.internal_events == refused.internal_events == ("bump", "check")
    assert store.commits == 4
    stored = await orchestrator.async_get_entity("no")
    assert stored is not None
    assert stored.state == "FAILED"


def test_the_outbox_holds_the_actions_in_order_and_no_raise(backend: StoreBackend) -> None:
    world = World()
    store = backend.store()
    orchestrator = world.orchestrator(store, run_actions=False)
    orchestrator.create_entity("e1")
    orchestrator.process_event("e1", "start")
    pending = store.pending_actions(now=1e12, machine_name="retry")
    assert [item.name for item in sorted(pending, key=lambda i: i.position)] == list(RETRY_ORDER)
    assert world.calls == []
    assert orchestrator.recover() == len(RETRY_ORDER)
    assert world.calls == list(RETRY_ORDER)


def test_an_idempotent_replay_keeps_the_internal_events(backend: StoreBackend) -> None:
    world = World()
    store = CountingStore(backend.store())
    orchestrator = world.orchestrator(store)  # type: ignore[arg-type]
    orchestrator.create_entity("e1")
    first = orchestrator.process_event("e1", "start", idempotency_key="k1")
    replay = orchestrator.process_event("e1", "start", idempotency_key="k1")
    assert replay.metadata.get("replayed") is True
    assert replay.internal_events == first.internal_events == ("bump", "check")
    assert store.commits == 2
    assert world.calls == list(RETRY_ORDER)  # run once


@pytest.mark.parametrize(
    ("kind", "cache"),
    [("raise", 0), ("raise", 8), ("auto", 0)],
    ids=["raise", "raise-cached", "auto"],
)
def test_a_loop_commits_nothing(backend: StoreBackend, kind: str, cache: int) -> None:
    world = World(loop_definition(kind))
    store = CountingStore(backend.store())
    orchestrator = world.orchestrator(store, record_cache=cache)  # type: ignore[arg-type]
    created = orchestrator.create_entity("e1", {"n": 1})
    result = orchestrator.process_event("e1", "go", {"n": 2})
    assert not result.success
    assert result.metadata["reason"] == "loop_limit"
    assert isinstance(result.error, LoopLimitError)
    assert store.commits == 1  # the creation only
    assert orchestrator.get_entity("e1") == created
    assert len(orchestrator.get_history("e1")) == 1
    assert store.pending_actions(now=1e12, machine_name=world.machine.name) == []
    assert world.calls == []


@pytest.mark.parametrize("kind", ["raise", "auto"])
def test_a_loop_on_creation_raises_and_stores_nothing(backend: StoreBackend, kind: str) -> None:
    world = World(loop_definition(kind, at_start=True))
    store = CountingStore(backend.store())
    orchestrator = world.orchestrator(store)  # type: ignore[arg-type]
    with pytest.raises(LoopLimitError):
        orchestrator.create_entity("e1")
    with pytest.raises(LoopLimitError):  # an event for an unknown entity creates it first
        orchestrator.process_event("e2", "go")
    assert store.commits == 0
    assert orchestrator.get_entity("e1") is None
    assert orchestrator.get_entity("e2") is None


def test_history_memory_of_a_parallel_state_is_stored(backend: StoreBackend) -> None:
    machine = StateMachine.from_dict(HISTORY)
    orchestrator = Orchestrator(machine, backend.store())
    orchestrator.create_entity("e1")
    for trigger in ("enter", "step_left", "step_right", "leave"):
        assert orchestrator.process_event("e1", trigger).success
    record = orchestrator.get_entity("e1")
    assert record is not None
    assert sorted(record.history["H"]) == ["L2", "R2"]
    # A new orchestrator (a restarted process, on persistent stores) restores from it.
    store = backend.store() if backend.persistent else orchestrator.store
    later = Orchestrator(StateMachine.from_dict(HISTORY), store)
    assert later.process_event("e1", "again").target_state == "P(left=L2, right=R2)"
    for trigger in ("leave", "out", "next", "back"):
        assert later.process_event("e1", trigger).success
    assert later.process_event("e1", "out").target_state == "IN2"  # initial_child: history
    final = later.get_entity("e1")
    assert final is not None
    assert final.history["BACK"] == ["IN2"]


def test_a_timer_whose_transition_raises_commits_once(backend: StoreBackend) -> None:
    machine = StateMachine.from_dict(
        {
            "meta": {"machine_name": "waiter"},
            "states": [{"name": "WAIT", "type": "initial"}, {"name": "LATE"}, {"name": "GONE"}],
            "transitions": [
                {
                    "after": "5s",
                    "source": "WAIT",
                    "dest": "LATE",
                    "actions": [{"raise": "give_up"}],
                },
                {"trigger": "give_up", "source": "LATE", "dest": "GONE"},
            ],
        }
    )
    clock = ManualClock(1000.0)
    store = CountingStore(backend.store())
    orchestrator = Orchestrator(machine, store, clock=clock)  # type: ignore[arg-type]
    created = orchestrator.create_entity("e1")
    [timer] = created.timers
    clock.advance(5)
    result = orchestrator.fire_timer("e1", timer.id)
    assert (result.target_state, result.internal_events) == ("GONE", ("give_up",))
    assert store.commits == 2
    record = orchestrator.get_entity("e1")
    assert record is not None
    assert (record.state, record.version, record.timers) == ("GONE", 2, [])


async def test_the_worker_job_returns_the_internal_events() -> None:
    # Called as arq calls it; a job that succeeds touches no Redis. A loop is an outcome,
    # not a failure to retry: the job answers the failed result.
    from pystator.worker import WorkerApp
    from pystator.worker.events import CTX_APP, process_event_job

    world = World()
    loops = World(loop_definition("raise"))
    orchestrators = [
        world.orchestrator(InMemoryStateStore()),
        loops.orchestrator(InMemoryStateStore()),
    ]
    ctx: dict[Any, Any] = {CTX_APP: WorkerApp(orchestrators), CTX_APP + ":queue": None}
    data = await process_event_job(ctx, "retry", "e1", "start", {}, "key-1", 0.0)
    assert (data["success"], data["target_state"]) == (True, "DONE")
    assert data["internal_events"] == ["bump", "check"]
    data = await process_event_job(ctx, "loop_raise", "e1", "go", {}, "key-2", 0.0)
    assert (data["success"], data["metadata"]["reason"]) == (False, "loop_limit")


# ----------------------------------------------------------------------------- the API
@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(app_for(settings(tmp_path))) as c:
        yield c


def post_machine(client: TestClient, config: dict[str, Any]) -> str:
    response = client.post("/api/v1/machines", json={"config": config})
    assert response.status_code == 201, response.text
    machine_id: str = response.json()["id"]
    return machine_id


def send(client: TestClient, machine: str, entity: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(f"/api/v1/machines/{machine}/entities/{entity}/events", json=body)


class TestApi:
    def test_an_event_answers_the_internal_events_and_stores_the_end(
        self, client: TestClient
    ) -> None:
        machine = post_machine(client, RETRY)
        created = client.post(f"/api/v1/machines/{machine}/entities", json={"entity_id": "e1"})
        assert created.status_code == 201, created.text
        # The guard of the internal event's transition is asked for, like any other.
        missing = send(client, machine, "e1", {"trigger": "start"})
        assert missing.status_code == 422
        assert missing.json()["errors"][0]["path"] == "body.guards.ok"

        answer = send(client, machine, "e1", {"trigger": "start", "guards": {"ok": False}})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["result"]["internal_events"] == ["bump", "check"]
        assert body["result"]["all_actions"] == ["log_start", "log_enter", "count", "log_exit"]
        assert (body["entity"]["state"], body["entity"]["version"]) == ("FAILED", 2)
        items = client.get(f"/api/v1/machines/{machine}/entities/e1/history").json()["items"]
        assert [i["version"] for i in items] == [1, 2]
        assert items[-1]["result"]["internal_events"] == ["bump", "check"]

    def test_history_in_parallel_and_as_initial_child_over_the_api(
        self, client: TestClient
    ) -> None:
        machine = post_machine(client, HISTORY)
        client.post(f"/api/v1/machines/{machine}/entities", json={"entity_id": "e1"})
        states = []
        for trigger in ("enter", "step_left", "leave", "again", "leave", "out", "next", "back"):
            answer = send(client, machine, "e1", {"trigger": trigger})
            assert answer.status_code == 200, answer.text
            states.append(answer.json()["entity"]["state"])
        assert states[3] == "P(left=L2, right=R1)"
        assert states[5] == "IN1"
        assert send(client, machine, "e1", {"trigger": "out"}).json()["entity"]["state"] == "IN2"

    def test_stateless_process_answers_the_internal_events(self, client: TestClient) -> None:
        response = client.post(
            "/api/v1/process",
            json={
                "config": RETRY,
                "current_state": "IDLE",
                "trigger": "start",
                "guards": {"ok": True},
            },
        )
        assert response.status_code == 200, response.text
        assert response.json()["internal_events"] == ["bump", "check"]
        assert response.json()["target_state"] == "DONE"

    @pytest.mark.parametrize("kind", ["raise", "auto"])
    def test_a_loop_answers_as_an_eventless_loop_does(self, client: TestClient, kind: str) -> None:
        machine = post_machine(client, loop_definition(kind))
        client.post(f"/api/v1/machines/{machine}/entities", json={"entity_id": "e1"})
        answer = send(client, machine, "e1", {"trigger": "go", "context": {"n": 1}})
        assert answer.status_code == 200, answer.text
        result = answer.json()["result"]
        assert (result["success"], result["metadata"]["reason"]) == (False, "loop_limit")
        assert result["error"]["type"] == "LoopLimitError"
        entity = client.get(f"/api/v1/machines/{machine}/entities/e1").json()
        assert (entity["state"], entity["version"], entity["context"]) == ("A", 1, {})
        assert (
            len(client.get(f"/api/v1/machines/{machine}/entities/e1/history").json()["items"]) == 1
        )

        stateless = client.post(
            "/api/v1/process",
            json={"config": loop_definition(kind), "current_state": "A", "trigger": "go"},
        )
        assert stateless.status_code == 200
        assert stateless.json()["metadata"]["reason"] == "loop_limit"

    @pytest.mark.parametrize("kind", ["raise", "auto"])
    def test_a_loop_on_creation_is_the_same_422(self, client: TestClient, kind: str) -> None:
        machine = post_machine(client, loop_definition(kind, at_start=True))
        response = client.post(f"/api/v1/machines/{machine}/entities", json={"entity_id": "e1"})
        assert response.status_code == 422
        assert "the machine loops" in response.json()["detail"]
        assert client.get(f"/api/v1/machines/{machine}/entities/e1").status_code == 404


class TestOneVerdict:
    """A raise of an unknown trigger is refused by every way in, with one path and message;
    raise items and history in parallel states are accepted by all of them."""

    def test_every_way_in_accepts_them(self, tmp_path: Path) -> None:
        machines = tmp_path / "machines"
        machines.mkdir()
        for data in (RETRY, HISTORY):
            (machines / f"{data['meta']['machine_name']}.yaml").write_text(
                StateMachine.from_dict(data).to_yaml(), encoding="utf-8"
            )
        with TestClient(app_for(settings(tmp_path, machines_dir=machines))) as c:
            stored = [m["id"] for m in c.get("/api/v1/machines").json()["items"]]
            assert sorted(stored) == ["recall", "retry"]
            for data in (RETRY, HISTORY):
                valid = c.post("/api/v1/validate", json={"config": data}).json()
                assert valid["valid"] is True, valid
                name = data["meta"]["machine_name"]
                text = (machines / f"{name}.yaml").read_text()
                put = c.put(f"/api/v1/machines/{name}", json={"yaml": text})
                assert put.status_code == 200, put.text
                assert put.json()["revision"] == 2
                shown = c.post("/ui/api/diagram", json={"config": data})
                assert shown.status_code == 200
                assert (
                    load_file(machines / f"{name}.yaml") == StateMachine.from_dict(data).definition
                )

    def test_every_way_in_refuses_an_unknown_raise_alike(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        bad = misspelled()
        machines = tmp_path / "machines"
        machines.mkdir()
        (machines / "misspelled.json").write_text(json.dumps(bad), encoding="utf-8")
        with pytest.raises(ConfigurationError) as info:
            load_file(machines / "misspelled.json")
        assert [(i.path, i.message) for i in info.value.issues] == [
            (MISSPELLED_PATH, MISSPELLED_MESSAGE)
        ]

        detail = f"invalid machine definition: {MISSPELLED_PATH}: {MISSPELLED_MESSAGE}"
        item = {"path": f"body.config.{MISSPELLED_PATH}", "message": MISSPELLED_MESSAGE}
        with caplog.at_level(logging.WARNING, logger="pystator.api"):
            app = app_for(settings(tmp_path, machines_dir=machines))
        skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
        assert skipped == [
            f"machines directory: skipped misspelled.json: 1 problem: "
            f"{MISSPELLED_PATH}: {MISSPELLED_MESSAGE}"
        ]
        with TestClient(app) as c:
            assert c.get("/api/v1/machines").json()["items"] == []

            posted = c.post("/api/v1/machines", json={"config": bad})
            assert posted.status_code == 422
            assert posted.json() == {"detail": detail, "errors": [item]}

            post_machine(c, {**copy.deepcopy(RETRY), "meta": {"machine_name": "misspelled"}})
            put = c.put("/api/v1/machines/misspelled", json={"config": bad})
            assert put.status_code == 422
            assert put.json() == {"detail": detail, "errors": [item]}

            processed = c.post(
                "/api/v1/process", json={"config": bad, "current_state": "IDLE", "trigger": "start"}
            )
            assert processed.status_code == 422
            assert processed.json() == {"detail": detail, "errors": [item]}

            valid = c.post("/api/v1/validate", json={"config": bad}).json()
            assert valid["valid"] is False
            assert valid["errors"] == [{"path": MISSPELLED_PATH, "message": MISSPELLED_MESSAGE}]

            for helper in ("/ui/api/diagram", "/ui/api/inspect"):
                refused = c.post(helper, json={"config": bad})
                assert refused.status_code == 422
                assert refused.json()["detail"] == detail


def test_the_real_server_answers_the_internal_events(tmp_path: Path) -> None:
    with running_server(tmp_path) as base:
        created = httpx.post(f"{base}/api/v1/machines", json={"config": RETRY}, timeout=10)
        assert created.status_code == 201, created.text
        url = f"{base}/api/v1/machines/retry/entities"
        assert httpx.post(url, json={"entity_id": "e1"}, timeout=10).status_code == 201
        answer = httpx.post(f"{url}/e1/events/start", json={"guards": {"ok": True}}, timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.json()["result"]["internal_events"] == ["bump", "check"]
        assert answer.json()["entity"]["state"] == "DONE"
