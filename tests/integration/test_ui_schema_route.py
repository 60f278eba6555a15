"""``GET /ui/api/schema``: the JSON Schema the web UI's editor completes and explains from,
the same document ``pystator schema`` prints, guarded like the other helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pystator.api import create_app
from pystator.models.json_schema import machine_schema
from tests.integration.test_ui_routes import PASSWORD, make_settings
from tests.integration.test_ui_routes import auth_client as auth_client


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path))) as c:
        yield c


def test_the_schema_is_the_one_pystator_schema_prints(client: TestClient) -> None:
    response = client.get("/ui/api/schema")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == machine_schema()
    assert response.json()["$id"].startswith("urn:pystator:schema:machine:")
    # What the editor reads: the keys of a transition, with their descriptions.
    transition = response.json()["$defs"]["TransitionDefinition"]["properties"]
    assert {"trigger", "source", "dest", "guards", "actions"} <= set(transition)
    assert all(prop.get("description") for prop in transition.values())


def test_the_schema_is_not_in_the_api_docs(client: TestClient) -> None:
    assert "/ui/api/schema" not in client.get("/openapi.json").json()["paths"]


def test_the_schema_needs_a_token_when_auth_is_on(auth_client: TestClient) -> None:
    assert auth_client.get("/ui/api/schema").status_code == 401
    token = auth_client.post(
        "/api/v1/auth/token", json={"username": "ada", "password": PASSWORD}
    ).json()["access_token"]
    response = auth_client.get("/ui/api/schema", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert "TransitionDefinition" in response.json()["$defs"]
