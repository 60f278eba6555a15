"""``POST /api/v1/validate`` answers a valid definition with its lint findings in ``warnings``
(code, path, message, and the line of YAML text), apart from ``errors``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.api_app import ORDER, app_for, settings

SHADOWED_YAML = """\
meta:
  machine_name: review
states:
  - {name: DRAFT, type: initial}
  - {name: IN_REVIEW}
  - {name: PUBLISHED, type: terminal}
transitions:
  - {trigger: submit, source: DRAFT, dest: PUBLISHED}
  - {trigger: submit, source: DRAFT, dest: IN_REVIEW, guards: [{expr: "needs_review"}]}
  - {trigger: approve, source: IN_REVIEW, dest: PUBLISHED}
"""

DEAD_END: dict[str, Any] = {
    "meta": {"machine_name": "payments"},
    "states": [
        {"name": "NEW", "type": "initial"},
        {"name": "AUTHORIZED"},
        {"name": "SETTLED", "type": "terminal"},
    ],
    "transitions": [
        {"trigger": "authorize", "source": "NEW", "dest": "AUTHORIZED"},
        {"trigger": "settle", "source": "NEW", "dest": "SETTLED"},
    ],
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(app_for(settings(tmp_path))) as c:
        yield c


def validate(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/validate", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_a_clean_definition_has_no_warnings(client: TestClient) -> None:
    body = validate(client, config=ORDER)
    assert body["valid"] is True
    assert body["warnings"] == []


def test_yaml_text_gets_each_finding_with_its_line(client: TestClient) -> None:
    body = validate(client, yaml=SHADOWED_YAML)
    assert body["valid"] is True
    assert body["errors"] == []
    assert [(w["code"], w["path"], w["line"]) for w in body["warnings"]] == [
        ("unreachable-state", "states[1]", 5),
        ("shadowed-transition", "transitions[1]", 9),
        ("dead-trigger", "transitions[2].trigger", 10),
    ]
    assert "'IN_REVIEW'" in body["warnings"][0]["message"]
    assert set(body["warnings"][0]) == {"code", "path", "message", "line"}


def test_a_json_config_gets_findings_without_lines(client: TestClient) -> None:
    (warning,) = validate(client, config=DEAD_END)["warnings"]
    assert warning["code"] == "dead-end-state"
    assert warning["path"] == "states[1]"
    assert warning["line"] is None
    assert "'AUTHORIZED'" in warning["message"]


def test_an_invalid_definition_has_errors_and_no_warnings(client: TestClient) -> None:
    broken = {**DEAD_END, "transitions": [{"trigger": "go", "source": "NEW", "dest": "NOPE"}]}
    body = validate(client, config=broken)
    assert body["valid"] is False
    assert body["errors"]
    assert body["warnings"] == []


def test_the_openapi_document_describes_the_warnings(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    warnings = schemas["ValidateResponse"]["properties"]["warnings"]
    assert warnings["items"]["$ref"].endswith("/LintWarning")
    assert set(schemas["LintWarning"]["required"]) == {"code", "path", "message"}
