"""A machine deleted and stored again is served as stored again, by every replica.

Its revision starts at 1 again, so the compiled machines are kept per (revision, created_at):
the server that deleted it, a replica that compiled the old definition (two apps on one
SQLite file), and a machine registered in Python (compiled with its models) all serve the new
definition on their next request.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import BaseModel

from pystator import StateMachine
from pystator.api import create_app
from tests.integration.api_app import app_for, settings

FIRST = """\
meta: {machine_name: tm, version: "1.0.0"}
states:
  - {name: A, type: initial}
  - {name: B}
transitions:
  - {trigger: go, source: A, dest: B}
"""
SECOND = """\
meta: {machine_name: tm, version: "1.0.0"}
states:
  - {name: A, type: initial}
  - {name: B}
  - {name: C}
transitions:
  - {trigger: go, source: A, dest: B}
  - {trigger: jump, source: A, dest: C}
"""
MACHINE = "/api/v1/machines/tm"
ENTITIES = MACHINE + "/entities"


class Ctx(BaseModel):
    n: int = 0


def serves_the_second_definition(client: TestClient, entity_id: str) -> None:
    detail = client.get(MACHINE).json()
    assert detail["revision"] == 1
    assert detail["summary"]["states"] == ["A", "B", "C"]
    made = client.post(ENTITIES, json={"entity_id": entity_id})
    assert made.status_code == 201, made.text
    assert made.json()["available_triggers"] == ["go", "jump"]
    jumped = client.post(f"{ENTITIES}/{entity_id}/events/jump")
    assert jumped.json()["result"]["success"] is True, jumped.text
    assert jumped.json()["entity"]["state"] == "C"
    document = client.get(f"{MACHINE}/openapi.json").json()
    sends = sorted(p.rsplit("/", 1)[1] for p in document["paths"] if "/events/" in p)
    assert sends == ["go", "jump"]


def recreate(client: TestClient) -> None:
    assert client.delete(MACHINE).status_code == 204
    stored = client.post("/api/v1/machines", json={"yaml": SECOND})
    assert stored.status_code == 201, stored.text
    assert stored.json()["revision"] == 1


def test_the_server_that_recreates_it(tmp_path: Path) -> None:
    with TestClient(app_for(settings(tmp_path))) as client:
        client.post("/api/v1/machines", json={"yaml": FIRST})
        warm = client.post(ENTITIES, json={"entity_id": "e1"})
        assert warm.json()["available_triggers"] == ["go"]
        recreate(client)
        serves_the_second_definition(client, "e2")


def test_a_machine_registered_in_python(tmp_path: Path) -> None:
    machine = StateMachine.from_yaml_string(FIRST, context_model=Ctx)
    with TestClient(create_app(settings(tmp_path), machines=[machine])) as client:
        warm = client.post(ENTITIES, json={"entity_id": "e1"})
        assert warm.json()["available_triggers"] == ["go"]
        recreate(client)
        serves_the_second_definition(client, "e2")
        # Still compiled with its context model.
        bad = client.post(ENTITIES, json={"entity_id": "e3", "context": {"n": "many"}})
        assert bad.status_code == 422, bad.text


def test_another_replica(tmp_path: Path) -> None:
    shared = settings(tmp_path)  # one SQLite file, two apps
    with TestClient(app_for(shared)) as a, TestClient(app_for(shared)) as b:
        a.post("/api/v1/machines", json={"yaml": FIRST})
        warm = b.post(ENTITIES, json={"entity_id": "e1"})
        assert warm.json()["available_triggers"] == ["go"]
        recreate(a)
        serves_the_second_definition(b, "e2")
        serves_the_second_definition(a, "e3")


def test_a_typed_replica(tmp_path: Path) -> None:
    shared = settings(tmp_path)
    machine = StateMachine.from_yaml_string(FIRST, context_model=Ctx)
    with (
        TestClient(create_app(shared, machines=[machine])) as a,
        TestClient(create_app(shared, machines=[machine])) as b,
    ):
        warm = b.post(ENTITIES, json={"entity_id": "e1"})
        assert warm.json()["available_triggers"] == ["go"]
        recreate(a)
        serves_the_second_definition(b, "e2")
