"""The HTTP API, in-process (TestClient) and through the real server (``pystator api``).

Every endpoint, its errors and its auth. The in-process tests run on a SQLite file of the
test; ``TestApiOnPostgres`` runs the stored-machine flow on PostgreSQL.
"""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from pystator.api.auth import issue_token
from tests.conftest import EXAMPLES, ROOT
from tests.integration.api_app import (
    ORDER,
    PASSWORD,
    USERS,
    app_for,
    auth_settings,
    clean_env,
    running_server,
    settings,
)

JSON = {"content-type": "application/json"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(app_for(settings(tmp_path, machines_dir=EXAMPLES))) as c:
        yield c


@pytest.fixture
def auth_client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(app_for(auth_settings(tmp_path))) as c:
        yield c


def bearer(client: TestClient) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def stored(client: TestClient, config: dict[str, Any] | None = None) -> str:
    response = client.post("/api/v1/machines", json={"config": config or ORDER})
    assert response.status_code == 201, response.text
    machine_id: str = response.json()["id"]
    return machine_id


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The body of an error answer: the status, JSON with a readable ``detail``."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert isinstance(body["errors"], list)
    return body


# ----------------------------------------------------------------------------- health
class TestHealth:
    def test_health(self, client: TestClient) -> None:
        body = client.get("/health").json()
        assert body["status"] == "ok"
        assert body["auth_enabled"] is False

    def test_ready_reports_the_database_and_redis(self, client: TestClient) -> None:
        response = client.get("/ready")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ready"
        assert body["database"] == {"ok": True, "configured": True, "detail": "sqlite"}
        assert body["redis"]["configured"] is False

    def test_ready_is_503_when_redis_is_down(self, tmp_path: Path) -> None:
        down = settings(tmp_path, redis_url="redis://127.0.0.1:1/0")
        with TestClient(app_for(down)) as c:
            response = c.get("/ready")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["redis"]["ok"] is False
        assert "127.0.0.1:1" not in body["redis"]["detail"]

    def test_openapi_documents_every_endpoint(self, client: TestClient) -> None:
        paths = client.get("/openapi.json").json()["paths"]
        for path in (
            "/health",
            "/ready",
            "/api/v1/auth/me",
            "/api/v1/validate",
            "/api/v1/process",
            "/api/v1/machines",
            "/api/v1/machines/{machine_id}",
            "/api/v1/machines/{machine_id}/entities",
            "/api/v1/machines/{machine_id}/entities/{entity_id}",
            "/api/v1/machines/{machine_id}/entities/{entity_id}/events",
            "/api/v1/machines/{machine_id}/entities/{entity_id}/history",
        ):
            assert path in paths
        assert client.get("/docs").status_code == 200

    def test_process_response_schema_is_the_transition_result(self, client: TestClient) -> None:
        spec = client.get("/openapi.json").json()
        ok = spec["paths"]["/api/v1/process"]["post"]["responses"]["200"]
        ref = ok["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/TransitionResult")


# ----------------------------------------------------------------------------- validate
class TestValidate:
    def test_a_valid_definition_has_a_summary(self, client: TestClient) -> None:
        body = client.post("/api/v1/validate", json={"config": ORDER}).json()
        assert body["valid"] is True
        assert body["errors"] == []
        summary = body["summary"]
        assert summary["name"] == "orders"
        assert summary["initial_state"] == "PENDING"
        assert summary["named_guards"] == ["is_full_fill", "desk_approves"]
        assert "fill" in summary["triggers"]

    def test_every_problem_has_its_path(self, client: TestClient) -> None:
        broken = copy.deepcopy(ORDER)
        broken["transitions"][0]["dest"] = "OPNE"
        broken["states"][2]["type"] = "weird"
        body = client.post("/api/v1/validate", json={"config": broken}).json()
        assert body["valid"] is False
        assert body["summary"] is None
        paths = {e["path"] for e in body["errors"]}
        assert "states[2].type" in paths
        messages = " ".join(e["message"] for e in body["errors"])
        assert "OPNE" in messages

    def test_yaml_text_is_accepted(self, client: TestClient) -> None:
        text = (EXAMPLES / "order_workflow_fsm.yaml").read_text()
        body = client.post("/api/v1/validate", json={"yaml": text}).json()
        assert body["valid"] is True
        assert body["summary"]["name"] == "order_workflow"

    def test_invalid_yaml_is_a_result(self, client: TestClient) -> None:
        body = client.post("/api/v1/validate", json={"yaml": "meta: [unclosed"}).json()
        assert body["valid"] is False
        assert body["errors"]

    def test_config_and_yaml_together_is_422(self, client: TestClient) -> None:
        response = client.post("/api/v1/validate", json={"config": ORDER, "yaml": "a: 1"})
        assert "unknown field" in error_of(response, 422)["detail"]

    def test_config_must_be_an_object(self, client: TestClient) -> None:
        error_of(client.post("/api/v1/validate", json={"config": [1, 2]}), 422)


# ----------------------------------------------------------------------------- process
def process(client: TestClient, **body: Any) -> httpx.Response:
    payload = {"config": ORDER, "current_state": "OPEN", "trigger": "fill", **body}
    return client.post("/api/v1/process", json=payload)


class TestProcess:
    def test_a_transition_fires(self, client: TestClient) -> None:
        response = process(client, current_state="PENDING", trigger="ack")
        assert response.status_code == 200
        result = response.json()
        assert result["success"] is True
        assert result["target_state"] == "OPEN"
        assert result["on_enter_actions"] == [{"name": "notify", "params": {"channel": "desk"}}]
        assert result["all_actions"] == ["notify"]
        assert result["state_changed"] is True

    def test_a_missing_named_guard_is_422_naming_it(self, client: TestClient) -> None:
        body = error_of(process(client, context={"fill_qty": 5}), 422)
        assert "is_full_fill" in body["detail"]
        assert body["errors"][0]["path"] == "body.guards.is_full_fill"

    def test_named_guard_outcomes_come_from_the_request(self, client: TestClient) -> None:
        full = process(client, guards={"is_full_fill": True}).json()
        assert full["target_state"] == "FILLED"
        assert full["all_actions"] == ["book"]
        partial = process(client, guards={"is_full_fill": False}, context={"fill_qty": 3})
        assert partial.json()["target_state"] == "PARTIAL"

    def test_expr_guards_are_evaluated(self, client: TestClient) -> None:
        result = process(client, guards={"is_full_fill": False}, context={"fill_qty": 0}).json()
        assert result["success"] is False
        assert result["metadata"]["reason"] == "guard_rejected"
        assert result["error"]["code"] == "GUARD_REJECTED"

    def test_a_needed_guard_after_a_failing_expr_is_not_asked(self, client: TestClient) -> None:
        # amend: expr 'qty < 100' fails first, so desk_approves is never needed.
        result = process(client, trigger="amend", context={"qty": 500}).json()
        assert result["success"] is False
        needed = process(client, trigger="amend", context={"qty": 5})
        assert "desk_approves" in error_of(needed, 422)["detail"]
        passed = process(
            client, trigger="amend", context={"qty": 5}, guards={"desk_approves": True}
        )
        assert passed.json()["success"] is True

    def test_unknown_guard_names_are_422(self, client: TestClient) -> None:
        body = error_of(process(client, guards={"is_ful_fill": True}), 422)
        assert "is_ful_fill" in body["detail"]
        assert "is_full_fill" in body["detail"]

    def test_guard_outcomes_must_be_booleans(self, client: TestClient) -> None:
        body = error_of(process(client, guards={"is_full_fill": "yes"}), 422)
        assert body["errors"][0]["path"].startswith("body.guards")

    def test_refusals_are_results(self, client: TestClient) -> None:
        terminal = process(client, current_state="FILLED", trigger="cancel").json()
        assert terminal["metadata"]["reason"] == "terminal_state"
        invalid = process(client, current_state="PENDING", trigger="fill").json()
        assert invalid["metadata"]["reason"] == "invalid_transition"
        undefined = process(client, current_state="PENDING", trigger="explode").json()
        assert undefined["error"]["code"] == "UNDEFINED_TRIGGER"

    def test_lenient_machines_give_no_ops(self, client: TestClient) -> None:
        lenient = copy.deepcopy(ORDER)
        lenient["meta"]["strict_mode"] = False
        result = process(client, config=lenient, current_state="PENDING", trigger="fill").json()
        assert result["success"] is True
        assert result["metadata"]["reason"] == "no_transition"

    def test_an_undefined_state_is_422(self, client: TestClient) -> None:
        body = error_of(process(client, current_state="NOWHERE"), 422)
        assert "NOWHERE" in body["detail"]

    def test_an_invalid_definition_is_422_with_paths(self, client: TestClient) -> None:
        broken = copy.deepcopy(ORDER)
        broken["transitions"][0]["source"] = "PENDNG"
        body = error_of(process(client, config=broken), 422)
        assert body["errors"][0]["path"].startswith("body.config.transitions[0]")
        assert "PENDING" in body["errors"][0]["message"]

    def test_a_bad_trigger_name_is_422(self, client: TestClient) -> None:
        error_of(process(client, trigger="not a trigger"), 422)

    def test_repeated_configs_give_equal_results(self, client: TestClient) -> None:
        first = process(client, current_state="PENDING", trigger="ack").json()
        again = process(client, current_state="PENDING", trigger="ack").json()
        assert first == again


# ----------------------------------------------------------------------------- machines
class TestMachines:
    def test_examples_are_loaded_at_start_up(self, client: TestClient) -> None:
        body = client.get("/api/v1/machines").json()
        ids = [m["id"] for m in body["items"]]
        assert {"order_management", "order_workflow", "portfolio_optimization"} <= set(ids)
        assert body["total"] == len(ids)

    def test_create_read_list_page(self, client: TestClient) -> None:
        response = client.post("/api/v1/machines", json={"config": ORDER})
        assert response.status_code == 201
        created = response.json()
        assert created["id"] == "orders"
        assert created["name"] == "orders"
        assert created["version"] == "1.0.0"
        assert created["revision"] == 1
        assert created["created_at"] == created["updated_at"]
        read = client.get("/api/v1/machines/orders").json()
        assert read["config"]["meta"]["machine_name"] == "orders"
        assert read["summary"]["states"][0] == "PENDING"
        page = client.get("/api/v1/machines", params={"limit": 1, "offset": 1}).json()
        assert len(page["items"]) == 1
        assert (page["limit"], page["offset"]) == (1, 1)

    def test_create_from_yaml(self, client: TestClient) -> None:
        text = "meta: {machine_name: door}\nstates: [{name: SHUT, type: initial}, {name: AJAR}]\n"
        response = client.post("/api/v1/machines", json={"yaml": text})
        assert response.status_code == 201
        assert response.json()["id"] == "door"

    def test_a_second_machine_of_the_same_name_is_409(self, client: TestClient) -> None:
        stored(client)
        body = error_of(client.post("/api/v1/machines", json={"config": ORDER}), 409)
        assert "PUT" in body["detail"]

    def test_an_invalid_definition_is_not_stored(self, client: TestClient) -> None:
        broken = copy.deepcopy(ORDER)
        broken["meta"]["machine_name"] = "broken"
        broken["transitions"][0]["dest"] = "NOWHERE"
        body = error_of(client.post("/api/v1/machines", json={"config": broken}), 422)
        assert body["errors"][0]["path"] == "body.config.transitions[0].dest"
        error_of(client.get("/api/v1/machines/broken"), 404)

    def test_absent_machines_are_404(self, client: TestClient) -> None:
        error_of(client.get("/api/v1/machines/absent"), 404)
        error_of(client.put("/api/v1/machines/absent", json={"config": ORDER}), 404)
        error_of(client.delete("/api/v1/machines/absent"), 404)

    def test_put_replaces_and_counts_revisions(self, client: TestClient) -> None:
        stored(client)
        changed = copy.deepcopy(ORDER)
        changed["meta"]["version"] = "1.1.0"
        response = client.put("/api/v1/machines/orders", json={"config": changed})
        assert response.status_code == 200
        body = response.json()
        assert body["version"] == "1.1.0"
        assert body["revision"] == 2

    def test_an_invalid_put_is_422_and_changes_nothing(self, client: TestClient) -> None:
        stored(client)
        before = client.get("/api/v1/machines/orders").json()
        broken = copy.deepcopy(ORDER)
        broken["states"] = []
        error_of(client.put("/api/v1/machines/orders", json={"config": broken}), 422)
        assert client.get("/api/v1/machines/orders").json() == before

    def test_a_put_cannot_rename(self, client: TestClient) -> None:
        stored(client)
        renamed = copy.deepcopy(ORDER)
        renamed["meta"]["machine_name"] = "other"
        response = client.put("/api/v1/machines/orders", json={"config": renamed})
        assert "renamed" in error_of(response, 409)["detail"]

    def test_delete_removes_the_machine_and_its_entities(self, client: TestClient) -> None:
        stored(client)
        client.post("/api/v1/machines/orders/entities", json={"entity_id": "o1"})
        assert client.delete("/api/v1/machines/orders").status_code == 204
        error_of(client.get("/api/v1/machines/orders"), 404)
        stored(client)
        error_of(client.get("/api/v1/machines/orders/entities/o1"), 404)

    def test_a_bad_machine_id_is_422(self, client: TestClient) -> None:
        error_of(client.get("/api/v1/machines/bad-id!"), 422)


# ----------------------------------------------------------------------------- entities
def event(client: TestClient, entity: str, trigger: str, **body: Any) -> httpx.Response:
    return client.post(
        f"/api/v1/machines/orders/entities/{entity}/events", json={"trigger": trigger, **body}
    )


class TestEntities:
    def test_create_and_read(self, client: TestClient) -> None:
        stored(client)
        response = client.post(
            "/api/v1/machines/orders/entities", json={"entity_id": "o1", "context": {"qty": 10}}
        )
        assert response.status_code == 201
        entity = response.json()
        assert entity["state"] == "PENDING"
        assert entity["version"] == 1
        assert entity["context"] == {"qty": 10}
        assert entity["available_triggers"] == ["ack", "cancel"]
        assert entity["is_final"] is False
        assert client.get("/api/v1/machines/orders/entities/o1").json() == entity

    def test_a_generated_id(self, client: TestClient) -> None:
        stored(client)
        entity = client.post("/api/v1/machines/orders/entities", json={}).json()
        assert len(entity["entity_id"]) == 32

    def test_create_in_another_state_and_twice(self, client: TestClient) -> None:
        stored(client)
        body = {"entity_id": "o2", "initial_state": "OPEN"}
        assert client.post("/api/v1/machines/orders/entities", json=body).json()["state"] == "OPEN"
        error_of(client.post("/api/v1/machines/orders/entities", json=body), 409)
        bad = {"entity_id": "o3", "initial_state": "NOWHERE"}
        error_of(client.post("/api/v1/machines/orders/entities", json=bad), 422)

    def test_entities_of_an_absent_machine_are_404(self, client: TestClient) -> None:
        error_of(client.post("/api/v1/machines/absent/entities", json={}), 404)
        error_of(client.get("/api/v1/machines/absent/entities"), 404)
        error_of(client.get("/api/v1/machines/absent/entities/x"), 404)

    def test_events_move_the_entity_and_keep_history(self, client: TestClient) -> None:
        stored(client)
        client.post("/api/v1/machines/orders/entities", json={"entity_id": "o1"})
        response = event(client, "o1", "ack", context={"trader": "bob"})
        assert response.status_code == 200
        body = response.json()
        assert body["result"]["success"] is True
        assert body["entity"]["state"] == "OPEN"
        assert body["entity"]["version"] == 2
        assert body["entity"]["context"] == {"trader": "bob"}
        filled = event(client, "o1", "fill", guards={"is_full_fill": True}).json()
        assert filled["entity"]["state"] == "FILLED"
        assert filled["entity"]["is_final"] is True
        history = client.get("/api/v1/machines/orders/entities/o1/history").json()
        assert [h["trigger"] for h in history["items"]] == ["__create__", "ack", "fill"]
        assert history["items"][1]["context_changes"] == {"trader": "bob"}
        page = client.get(
            "/api/v1/machines/orders/entities/o1/history", params={"limit": 1, "offset": 2}
        ).json()
        assert [h["trigger"] for h in page["items"]] == ["fill"]

    def test_a_refused_event_is_a_result_and_changes_nothing(self, client: TestClient) -> None:
        stored(client)
        client.post("/api/v1/machines/orders/entities", json={"entity_id": "o1"})
        body = event(client, "o1", "fill").json()
        assert body["result"]["success"] is False
        assert body["result"]["metadata"]["reason"] == "invalid_transition"
        assert body["entity"]["version"] == 1

    def test_a_missing_guard_outcome_is_422(self, client: TestClient) -> None:
        stored(client)
        client.post("/api/v1/machines/orders/entities", json={"entity_id": "o1"})
        event(client, "o1", "ack")
        body = error_of(event(client, "o1", "fill"), 422)
        assert "is_full_fill" in body["detail"]
        assert client.get("/api/v1/machines/orders/entities/o1").json()["state"] == "OPEN"
        error_of(event(client, "o1", "fill", guards={"nope": True}), 422)

    def test_an_event_for_an_absent_entity_is_404(self, client: TestClient) -> None:
        stored(client)
        error_of(event(client, "ghost", "ack"), 404)
        error_of(client.get("/api/v1/machines/orders/entities/ghost/history"), 404)

    def test_idempotency_keys(self, client: TestClient) -> None:
        stored(client)
        client.post("/api/v1/machines/orders/entities", json={"entity_id": "o1"})
        first = event(client, "o1", "ack", idempotency_key="k-1").json()
        again = event(client, "o1", "ack", idempotency_key="k-1").json()
        assert again["result"]["metadata"]["replayed"] is True
        assert again["entity"]["version"] == first["entity"]["version"] == 2
        body = error_of(event(client, "o1", "cancel", idempotency_key="k-1"), 409)
        assert "k-1" in body["detail"]
        header = client.post(
            "/api/v1/machines/orders/entities/o1/events",
            json={"trigger": "cancel"},
            headers={"Idempotency-Key": "k-2"},
        )
        assert header.json()["entity"]["state"] == "CANCELLED"
        replay = client.post(
            "/api/v1/machines/orders/entities/o1/events",
            json={"trigger": "cancel", "idempotency_key": "k-2"},
        )
        assert replay.json()["result"]["metadata"]["replayed"] is True
        mismatch = client.post(
            "/api/v1/machines/orders/entities/o1/events",
            json={"trigger": "cancel", "idempotency_key": "a"},
            headers={"Idempotency-Key": "b"},
        )
        error_of(mismatch, 422)

    def test_a_version_conflict_past_the_retries_is_409(
        self, client: TestClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from pystator.errors import StaleVersionError

        stored(client)
        client.post("/api/v1/machines/orders/entities", json={"entity_id": "o1"})
        served = client.app.state.services.catalog.served("orders")  # type: ignore[attr-defined]
        monkeypatch.setattr(served.orchestrator, "max_retries", 1)
        monkeypatch.setattr(served.orchestrator, "retry_backoff", 0.0)

        def always_stale(commit: Any) -> None:
            raise StaleVersionError("someone else won", entity_id="o1")

        monkeypatch.setattr(served.orchestrator.store, "commit", always_stale)
        body = error_of(event(client, "o1", "ack"), 409)
        assert "o1" in body["detail"]

    def test_list_by_state_with_paging(self, client: TestClient) -> None:
        stored(client)
        for i in range(5):
            client.post("/api/v1/machines/orders/entities", json={"entity_id": f"e{i}"})
        for i in range(3):
            event(client, f"e{i}", "ack")
        page = client.get(
            "/api/v1/machines/orders/entities", params={"state": "OPEN", "limit": 2}
        ).json()
        assert page["total"] == 3
        assert [e["entity_id"] for e in page["items"]] == ["e0", "e1"]
        rest = client.get(
            "/api/v1/machines/orders/entities", params={"state": "OPEN", "limit": 2, "offset": 2}
        ).json()
        assert [e["entity_id"] for e in rest["items"]] == ["e2"]
        everything = client.get("/api/v1/machines/orders/entities").json()
        assert everything["total"] == 5
        error_of(client.get("/api/v1/machines/orders/entities", params={"limit": 0}), 422)

    def test_delete_an_entity(self, client: TestClient) -> None:
        stored(client)
        client.post("/api/v1/machines/orders/entities", json={"entity_id": "o1"})
        assert client.delete("/api/v1/machines/orders/entities/o1").status_code == 204
        error_of(client.delete("/api/v1/machines/orders/entities/o1"), 404)

    def test_a_put_is_seen_by_the_next_event(self, client: TestClient) -> None:
        stored(client)
        client.post("/api/v1/machines/orders/entities", json={"entity_id": "o1"})
        changed = copy.deepcopy(ORDER)
        changed["transitions"].append({"trigger": "hold", "source": "PENDING", "dest": "PARTIAL"})
        client.put("/api/v1/machines/orders", json={"config": changed})
        assert event(client, "o1", "hold").json()["entity"]["state"] == "PARTIAL"

    def test_delayed_transitions_are_kept_as_timers(self, client: TestClient) -> None:
        timed = {
            "meta": {"machine_name": "timed"},
            "states": [{"name": "WAITING", "type": "initial"}, {"name": "LATE"}],
            "transitions": [{"after": "30s", "source": "WAITING", "dest": "LATE"}],
        }
        stored(client, timed)
        entity = client.post("/api/v1/machines/timed/entities", json={"entity_id": "t1"}).json()
        assert len(entity["timers"]) == 1
        assert entity["timers"][0]["key"].startswith("WAITING")


# ----------------------------------------------------------------------------- bad input
class TestBadInput:
    @pytest.mark.parametrize(
        ("body", "fragment"),
        [
            (b'{"config": ', "malformed JSON"),
            (b"not json at all", "malformed JSON"),
            (b'{"config": NaN}', "NaN"),
            (b'{"config": {"a": Infinity}}', "Infinity"),
            (b'{"config": {}, "config": {}}', "duplicate key"),
            (b"[" * 5000 + b"]" * 5000, "nests deeper"),
            (b'{"a":' * 40 + b"1" + b"}" * 40, "nests deeper"),
            (b'{"config": "\\u0000"}', "NUL"),
            (b'{"config": "\\ud800"}', "surrogate"),
            (b"\xff\xfe", "UTF-8"),
        ],
    )
    def test_malformed_json_is_400(self, client: TestClient, body: bytes, fragment: str) -> None:
        response = client.post("/api/v1/process", content=body, headers=JSON)
        assert fragment in error_of(response, 400)["detail"]

    @pytest.mark.parametrize(
        "payload",
        [
            {"config": ORDER, "current_state": 5, "trigger": "ack"},
            {"config": "text", "current_state": "A", "trigger": "ack"},
            {"config": ORDER, "current_state": "PENDING", "trigger": "ack", "extra": 1},
            {"config": ORDER, "current_state": "PENDING"},
            {"config": ORDER, "current_state": "PENDING", "trigger": "ack", "context": []},
            [],
            "string",
            None,
        ],
    )
    def test_wrong_shapes_are_422(self, client: TestClient, payload: Any) -> None:
        response = client.post("/api/v1/process", content=json.dumps(payload), headers=JSON)
        body = error_of(response, 422)
        assert body["detail"].startswith("the request is invalid")

    def test_unknown_fields_are_named(self, client: TestClient) -> None:
        response = client.post(
            "/api/v1/machines/absent/entities", json={"entity_id": "x", "contxt": {}}
        )
        body = error_of(response, 422)
        assert body["errors"][0]["path"] == "body.contxt"

    def test_a_body_that_is_not_json(self, client: TestClient) -> None:
        response = client.post(
            "/api/v1/validate", content=b"config=1", headers={"content-type": "text/plain"}
        )
        error_of(response, 422)

    def test_a_large_declared_body_is_413_before_reading(self, tmp_path: Path) -> None:
        with TestClient(app_for(settings(tmp_path, max_body_bytes=2048))) as c:
            response = c.post("/api/v1/validate", content=b"x" * 5000, headers=JSON)
        assert "limit of 2048 bytes" in error_of(response, 413)["detail"]

    def test_a_large_streamed_body_is_413_while_streaming(self, tmp_path: Path) -> None:
        sent: list[int] = []

        def chunks() -> Iterator[bytes]:
            for i in range(1000):
                sent.append(i)
                yield b" " * 1024

        with TestClient(app_for(settings(tmp_path, max_body_bytes=4096))) as c:
            response = c.post("/api/v1/validate", content=chunks(), headers=JSON)
        error_of(response, 413)

    def test_a_bad_content_length_is_400(self, client: TestClient) -> None:
        response = client.post(
            "/api/v1/validate", content=b"{}", headers={**JSON, "content-length": "abc"}
        )
        assert response.status_code == 400

    def test_unknown_paths_and_methods(self, client: TestClient) -> None:
        error_of(client.get("/api/v1/nothing"), 404)
        error_of(client.patch("/api/v1/machines"), 405)


# ----------------------------------------------------------------------------- CORS
PREFLIGHT = {
    "Origin": "https://app.example",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type",
}


class TestCors:
    def test_closed_by_default(self, client: TestClient) -> None:
        response = client.options("/api/v1/validate", headers=PREFLIGHT)
        assert "access-control-allow-origin" not in response.headers
        simple = client.get("/health", headers={"Origin": "https://app.example"})
        assert "access-control-allow-origin" not in simple.headers

    def test_open_for_configured_origins(self, tmp_path: Path) -> None:
        configured = settings(tmp_path, cors_origins="https://app.example, https://b.example")
        with TestClient(app_for(configured)) as c:
            ok = c.options("/api/v1/validate", headers=PREFLIGHT)
            other = c.options(
                "/api/v1/validate", headers={**PREFLIGHT, "Origin": "https://evil.example"}
            )
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        assert "access-control-allow-origin" not in other.headers


# ----------------------------------------------------------------------------- auth
class TestAuthOff:
    def test_me_is_anonymous(self, client: TestClient) -> None:
        body = client.get("/api/v1/auth/me").json()
        assert body == {
            "username": "anonymous",
            "authenticated": False,
            "auth_enabled": False,
            "expires_at": None,
        }

    def test_there_is_no_token_endpoint(self, client: TestClient) -> None:
        error_of(client.post("/api/v1/auth/token", json={"username": "a", "password": "b"}), 404)

    def test_remote_clients_are_refused(self, tmp_path: Path) -> None:
        app = app_for(settings(tmp_path))
        with TestClient(app, client=("203.0.113.9", 40000)) as remote:
            body = error_of(remote.get("/api/v1/machines"), 403)
            assert "authentication is off" in body["detail"]
        with TestClient(app, client=("127.0.0.1", 40000)) as local:
            assert local.get("/api/v1/machines").status_code == 200
        with TestClient(app, client=("::1", 40000)) as local6:
            assert local6.get("/health").status_code == 200

    def test_the_override_serves_remote_clients(self, tmp_path: Path) -> None:
        app = app_for(settings(tmp_path, allow_insecure_bind=True))
        with TestClient(app, client=("203.0.113.9", 40000)) as remote:
            assert remote.get("/api/v1/machines").status_code == 200


class TestAuthOn:
    def test_endpoints_need_a_token(self, auth_client: TestClient) -> None:
        for method, path in [
            ("GET", "/api/v1/auth/me"),
            ("POST", "/api/v1/validate"),
            ("POST", "/api/v1/process"),
            ("GET", "/api/v1/machines"),
            ("POST", "/api/v1/machines"),
            ("GET", "/api/v1/machines/orders"),
            ("PUT", "/api/v1/machines/orders"),
            ("DELETE", "/api/v1/machines/orders"),
            ("GET", "/api/v1/machines/orders/entities"),
            ("POST", "/api/v1/machines/orders/entities"),
            ("GET", "/api/v1/machines/orders/entities/o1"),
            ("DELETE", "/api/v1/machines/orders/entities/o1"),
            ("POST", "/api/v1/machines/orders/entities/o1/events"),
            ("GET", "/api/v1/machines/orders/entities/o1/history"),
        ]:
            response = auth_client.request(method, path, json={})
            assert response.status_code == 401, (method, path)
            assert response.json() == {"detail": "not authenticated", "errors": []}
            assert response.headers["www-authenticate"] == "Bearer"

    def test_health_and_docs_stay_open(self, auth_client: TestClient) -> None:
        assert auth_client.get("/health").json()["auth_enabled"] is True
        assert auth_client.get("/ready").status_code == 200
        assert auth_client.get("/openapi.json").status_code == 200

    def test_a_token_for_a_configured_user(self, auth_client: TestClient) -> None:
        response = auth_client.post(
            "/api/v1/auth/token", json={"username": "alice", "password": PASSWORD}
        )
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 900
        headers = {"Authorization": f"Bearer {body['access_token']}"}
        me = auth_client.get("/api/v1/auth/me", headers=headers).json()
        assert me["username"] == "alice"
        assert me["authenticated"] is True
        assert me["expires_at"] is not None
        created = auth_client.post("/api/v1/machines", json={"config": ORDER}, headers=headers)
        assert created.status_code == 201

    @pytest.mark.parametrize(
        ("username", "password"),
        [("alice", "wrong"), ("mallory", PASSWORD), ("alice", PASSWORD + " ")],
    )
    def test_wrong_credentials_are_one_401(
        self, auth_client: TestClient, username: str, password: str
    ) -> None:
        response = auth_client.post(
            "/api/v1/auth/token", json={"username": username, "password": password}
        )
        assert error_of(response, 401)["detail"] == "invalid username or password"

    def test_the_openapi_schema_declares_bearer_auth(self, auth_client: TestClient) -> None:
        spec = auth_client.get("/openapi.json").json()
        assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        assert spec["paths"]["/api/v1/machines"]["get"]["security"] == [{"bearer": []}]
        assert "security" not in spec["paths"]["/health"]["get"]

    def test_remote_clients_are_served_with_auth(self, tmp_path: Path) -> None:
        app = app_for(auth_settings(tmp_path))
        with TestClient(app, client=("203.0.113.9", 40000)) as remote:
            assert remote.get("/api/v1/machines", headers=bearer(remote)).status_code == 200

    def test_a_token_minted_with_the_secret_works(self, tmp_path: Path) -> None:
        configured = auth_settings(tmp_path)
        with TestClient(app_for(configured)) as c:
            token = issue_token(configured, "service-account")
            me = c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["username"] == "service-account"


# ----------------------------------------------------------------------------- settings
class TestSettings:
    def test_from_the_environment(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        from pystator.api import ApiSettings

        monkeypatch.setenv("PYSTATOR_DATABASE_URL", "sqlite:///x.db")
        monkeypatch.setenv("PYSTATOR_CORS_ORIGINS", "https://a.example,https://b.example")
        monkeypatch.setenv("PYSTATOR_MAX_BODY_BYTES", "4096")
        loaded = ApiSettings(_env_file=None)  # type: ignore[call-arg]
        assert loaded.database_url == "sqlite:///x.db"
        assert loaded.cors_origins == ["https://a.example", "https://b.example"]
        assert loaded.max_body_bytes == 4096
        assert loaded.auth_enabled is False

    def test_from_a_dotenv_file(self, tmp_path: Path) -> None:
        from pystator.api import ApiSettings

        dotenv = tmp_path / ".env"
        dotenv.write_text(f"PYSTATOR_AUTH_SECRET={'k' * 40}\nPYSTATOR_USERS='{USERS}'\n")
        loaded = ApiSettings(_env_file=dotenv)  # type: ignore[call-arg]
        assert loaded.auth_enabled
        assert list(loaded.user_hashes()) == ["alice"]
        assert "k" * 40 not in repr(loaded)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("auth_secret", "short"),
            ("users", "alice:plaintext"),
            ("users", "no-colon"),
            ("cors_origins", "ftp://x"),
            ("max_body_bytes", 10),
        ],
    )
    def test_bad_values_are_refused(self, tmp_path: Path, field: str, value: Any) -> None:
        from pydantic import ValidationError

        with pytest.raises(ValidationError):
            settings(tmp_path, **{field: value})

    def test_a_missing_machines_dir_is_an_error(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="not a directory"):
            app_for(settings(tmp_path, machines_dir=tmp_path / "missing"))

    def test_invalid_files_in_the_machines_dir_are_skipped(self, tmp_path: Path) -> None:
        machines = tmp_path / "machines"
        machines.mkdir()
        (machines / "good.json").write_text(json.dumps(ORDER))
        (machines / "bad.yaml").write_text("meta: {machine_name: bad}\nstates: []\n")
        (machines / "notes.txt").write_text("ignored")
        with TestClient(app_for(settings(tmp_path, machines_dir=machines))) as c:
            ids = [m["id"] for m in c.get("/api/v1/machines").json()["items"]]
        assert ids == ["orders"]


def test_import_pystator_does_not_import_the_web_stack() -> None:
    code = (
        "import sys, pystator, pystator.api\n"
        "bad = [m for m in ('fastapi', 'starlette', 'sqlmodel', 'sqlalchemy', 'jwt', 'uvicorn')"
        " if m in sys.modules]\n"
        "print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- PostgreSQL
@pytest.mark.postgres
class TestApiOnPostgres:
    def test_machines_and_entities(self, postgres_url: str, tmp_path: Path) -> None:
        config = copy.deepcopy(ORDER)
        config["meta"]["machine_name"] = f"orders_{tmp_path.name[-8:].replace('-', '_')}"
        name = config["meta"]["machine_name"]
        with TestClient(app_for(settings(tmp_path, database_url=postgres_url))) as c:
            assert c.get("/ready").json()["database"]["detail"] == "postgresql"
            assert c.post("/api/v1/machines", json={"config": config}).status_code == 201
            try:
                base = f"/api/v1/machines/{name}/entities"
                assert c.post(base, json={"entity_id": "o1"}).status_code == 201
                moved = c.post(
                    f"{base}/o1/events", json={"trigger": "ack"}, headers={"Idempotency-Key": "k"}
                )
                assert moved.json()["entity"]["version"] == 2
                again = c.post(
                    f"{base}/o1/events", json={"trigger": "ack"}, headers={"Idempotency-Key": "k"}
                )
                assert again.json()["result"]["metadata"]["replayed"] is True
                page = c.get(base, params={"state": "OPEN"}).json()
                assert page["total"] == 1
                history = c.get(f"{base}/o1/history").json()["items"]
                assert [h["trigger"] for h in history] == ["__create__", "ack"]
            finally:
                assert c.delete(f"/api/v1/machines/{name}").status_code == 204


# ----------------------------------------------------------------------------- real server
@pytest.mark.slow
class TestRealServer:
    def test_every_endpoint_over_http(self, tmp_path: Path) -> None:
        env = {"PYSTATOR_MACHINES_DIR": str(EXAMPLES)}
        with running_server(tmp_path, env=env) as base, httpx.Client(base_url=base) as http:
            assert http.get("/health").json()["auth_enabled"] is False
            assert http.get("/ready").json()["status"] == "ready"
            assert http.get("/api/v1/auth/me").json()["username"] == "anonymous"
            assert http.post("/api/v1/validate", json={"config": ORDER}).json()["valid"]
            result = http.post(
                "/api/v1/process",
                json={"config": ORDER, "current_state": "OPEN", "trigger": "fill"},
            )
            assert "is_full_fill" in error_of(result, 422)["detail"]
            listed = http.get("/api/v1/machines").json()
            assert "order_workflow" in [m["id"] for m in listed["items"]]
            assert http.post("/api/v1/machines", json={"config": ORDER}).status_code == 201
            assert http.get("/api/v1/machines/orders").json()["revision"] == 1
            assert http.put("/api/v1/machines/orders", json={"config": ORDER}).status_code == 200
            created = http.post("/api/v1/machines/orders/entities", json={"entity_id": "o1"})
            assert created.status_code == 201
            moved = http.post(
                "/api/v1/machines/orders/entities/o1/events",
                json={"trigger": "ack"},
                headers={"Idempotency-Key": "once"},
            ).json()
            assert moved["entity"]["state"] == "OPEN"
            assert http.get("/api/v1/machines/orders/entities/o1").json()["version"] == 2
            history = http.get("/api/v1/machines/orders/entities/o1/history").json()
            assert len(history["items"]) == 2
            page = http.get("/api/v1/machines/orders/entities", params={"state": "OPEN"}).json()
            assert page["total"] == 1
            assert http.delete("/api/v1/machines/orders/entities/o1").status_code == 204
            assert http.delete("/api/v1/machines/orders").status_code == 204
            error_of(http.get("/api/v1/machines/orders"), 404)
            bad = http.post("/api/v1/process", content=b'{"config": NaN}', headers=JSON)
            error_of(bad, 400)
            assert http.get("/docs").status_code == 200

    def test_a_streamed_body_over_the_limit_is_cut_short(self, tmp_path: Path) -> None:
        env = {"PYSTATOR_MAX_BODY_BYTES": "65536"}
        with running_server(tmp_path, env=env) as base:
            sent = 0

            def chunks() -> Iterator[bytes]:
                nonlocal sent
                for _ in range(4096):  # 64 MiB if it were all read
                    sent += 16384
                    yield b" " * 16384

            try:
                response = httpx.post(
                    f"{base}/api/v1/validate", content=chunks(), headers=JSON, timeout=30
                )
                assert response.status_code == 413
            except httpx.HTTPError:
                pass  # the server answered 413 and closed while we were still sending
            assert sent < 64 * 1024 * 1024
            # A declared length over the limit is answered before any of the body is sent.
            host, port = base.removeprefix("http://").split(":")
            with socket.create_connection((host, int(port)), timeout=30) as raw:
                raw.sendall(
                    b"POST /api/v1/validate HTTP/1.1\r\nHost: test\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n"
                )
                answer = raw.recv(4096)
            assert answer.startswith(b"HTTP/1.1 413 ")

    def test_auth_over_http(self, tmp_path: Path) -> None:
        env = {"PYSTATOR_AUTH_SECRET": "x" * 40, "PYSTATOR_USERS": USERS}
        with running_server(tmp_path, env=env) as base, httpx.Client(base_url=base) as http:
            assert http.get("/api/v1/machines").status_code == 401
            token = http.post(
                "/api/v1/auth/token", json={"username": "alice", "password": PASSWORD}
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            assert http.get("/api/v1/auth/me", headers=headers).json()["username"] == "alice"
            forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
            refused = http.get("/api/v1/machines", headers={"Authorization": f"Bearer {forged}"})
            assert refused.status_code == 401

    def test_refuses_a_public_address_without_a_secret(self, tmp_path: Path) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "pystator", "api", "--host", "0.0.0.0", "--port", "0"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=clean_env(),
            timeout=60,
        )
        assert proc.returncode != 0
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert "refusing to listen on 0.0.0.0" in lines[0]
        assert "Traceback" not in proc.stderr
