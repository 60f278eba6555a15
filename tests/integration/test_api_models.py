"""The API speaks the models (issue 13, item 6).

* ``/openapi.json`` is FastAPI's own document: a definition in a request is documented as
  ``MachineDefinition`` by the request model itself, nothing rewritten afterwards.
* A definition in a request is refused with the messages every other way in gives (JSON
  data and YAML text, the YAML with its lines).
* Each stored machine publishes its context and payload schemas
  (``/api/v1/machines/{id}/schema``) and a typed OpenAPI document of its entity operations
  (``/api/v1/machines/{id}/openapi.json``), one ``send`` operation per trigger.
* Entity contexts are checked against the machine's contract (a 422 naming the fields,
  nothing stored); event payloads against the trigger's (a refused result, as any other);
  machines registered in Python validate with their context and payload models.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from pydantic import BaseModel, Field

from pystator import ConfigurationError, StateMachine
from pystator.models.definition import MachineDefinition
from tests.integration.api_app import ORDER, app_for, auth_settings, settings

TYPED_YAML = """\
meta: {machine_name: typed_orders, version: "1.0.0", validate_context: true}
context:
  fields:
    order_qty: {type: integer, required: true, minimum: 1}
    filled_qty: {type: integer, default: 0}
events:
  fill:
    description: A fill from the exchange.
    fields:
      fill_qty: {type: integer, required: true, minimum: 1}
      venue: {type: string}
states:
  - {name: PENDING, type: initial}
  - {name: OPEN}
  - {name: FILLED, type: terminal}
transitions:
  - {trigger: ack, source: PENDING, dest: OPEN}
  - {trigger: fill, source: OPEN, dest: FILLED, guards: [{expr: "fill_qty >= order_qty"}]}
  - {trigger: amend, source: OPEN, dest: OPEN}
"""
BY_TRIGGER = "/api/v1/machines/typed_orders/entities/{entity_id}/events/{trigger}"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(app_for(settings(tmp_path))) as c:
        yield c


@pytest.fixture
def typed(client: TestClient) -> TestClient:
    stored = client.post("/api/v1/machines", json={"yaml": TYPED_YAML})
    assert stored.status_code == 201, stored.text
    return client


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/components/schemas/"), ref
    found: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return resolve(document, found)


def every_ref(node: Any) -> Iterator[str]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("$ref"), str):
                yield item["$ref"]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def refs_resolve(document: dict[str, Any]) -> None:
    names = set(document["components"]["schemas"])
    for ref in every_ref(document):
        assert ref.removeprefix("#/components/schemas/") in names, ref
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


# ----------------------------------------------------------------------------- /openapi.json
class TestTheAppDocument:
    def test_it_is_fastapis_own(self, client: TestClient) -> None:
        app = client.app
        assert isinstance(app, FastAPI)
        assert type(app).openapi is FastAPI.openapi
        assert "openapi" not in vars(app), "app.openapi is not replaced"

    def test_a_definition_in_a_request_is_the_machine_definition_model(
        self, client: TestClient
    ) -> None:
        document = client.get("/openapi.json").json()
        schemas = document["components"]["schemas"]
        body = document["paths"]["/api/v1/machines"]["post"]["requestBody"]
        branches = body["content"]["application/json"]["schema"]["anyOf"]
        assert [b["$ref"].rsplit("/", 1)[1] for b in branches] == ["ConfigInput", "YamlInput"]
        for model in ("ConfigInput", "ProcessRequest", "MachineDetail"):
            config = schemas[model]["properties"]["config"]
            assert config["$ref"] == "#/components/schemas/MachineDefinition", model
        reference = MachineDefinition.model_json_schema()
        assert schemas["MachineDefinition"]["properties"].keys() == reference["properties"].keys()
        assert schemas["MachineDefinition"]["required"] == reference["required"]
        assert "x-pystator-definition" not in str(document)
        refs_resolve(document)

    def test_the_per_trigger_operation_is_documented(self, client: TestClient) -> None:
        paths = client.get("/openapi.json").json()["paths"]
        generic = "/api/v1/machines/{machine_id}/entities/{entity_id}/events/{trigger}"
        assert paths[generic]["post"]["summary"] == "Send one trigger to an entity"
        assert "/api/v1/machines/{machine_id}/schema" in paths
        assert "/api/v1/machines/{machine_id}/openapi.json" in paths


# ----------------------------------------------------------------------------- same messages
BAD_CONFIGS: dict[str, Any] = {
    "undefined-dest": ("transitions", 0, "dest", "OPNE"),
    "bad-state-type": ("states", 2, "type", "weird"),
    "bad-priority": ("transitions", 1, "priority", "high"),
    "bad-name": ("states", 1, "name", "2bad"),
    "unknown-key": ("meta", "colour", None, "red"),
    "event-of-no-trigger": ("events", "flil", None, {"fields": {}}),
}


def broken(case: tuple[Any, ...]) -> dict[str, Any]:
    config = copy.deepcopy(ORDER)
    section, key, field, value = case
    if field is None:
        config.setdefault(section, {})[key] = value
    else:
        config[section][key][field] = value
    return config


class TestTheSameMessages:
    @pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
    def test_json_definitions(self, client: TestClient, name: str) -> None:
        config = broken(BAD_CONFIGS[name])
        with pytest.raises(ConfigurationError) as info:
            StateMachine.from_dict(config)
        expected = [
            {"path": f"body.config.{issue.path}", "message": issue.message}
            for issue in info.value.issues
        ]
        for method, url in (("post", "/api/v1/machines"), ("put", "/api/v1/machines/orders")):
            if method == "put":
                assert client.post("/api/v1/machines", json={"config": ORDER}).status_code == 201
            answer = client.request(method, url, json={"config": config})
            assert answer.status_code == 422, answer.text
            assert answer.json()["errors"] == expected, (name, method)
            assert answer.json()["detail"] == f"invalid machine definition: {info.value.issues[0]}"
        checked = client.post("/api/v1/validate", json={"config": config}).json()
        assert checked["valid"] is False
        assert checked["errors"] == [
            {"path": issue.path, "message": issue.message} for issue in info.value.issues
        ]

    def test_yaml_text_keeps_its_lines(self, client: TestClient) -> None:
        text = TYPED_YAML.replace("dest: FILLED", "dest: FILED")
        answer = client.post("/api/v1/machines", json={"yaml": text})
        assert answer.status_code == 422
        (error,) = answer.json()["errors"]
        assert error["path"] == "body.yaml.transitions[1].dest"
        line = next(n for n, t in enumerate(text.splitlines(), 1) if "FILED" in t)
        assert error["message"].endswith(f"(line {line})")
        assert "'FILED' is not defined" in error["message"]

    def test_a_config_that_is_not_an_object_is_a_422(self, client: TestClient) -> None:
        answer = client.post("/api/v1/machines", json={"config": ["a", "list"]})
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["path"] == "body.config"


# ----------------------------------------------------------------------------- schemas
class TestMachineSchemas:
    def test_schema_endpoint(self, typed: TestClient) -> None:
        body = typed.get("/api/v1/machines/typed_orders/schema").json()
        assert body["machine_id"] == "typed_orders"
        context = body["context"]
        assert context["properties"]["order_qty"]["type"] == "integer"
        assert context["required"] == ["order_qty"]
        assert set(body["events"]) == {"fill"}
        fill = body["events"]["fill"]
        assert fill["properties"]["fill_qty"] == {"type": "integer", "minimum": 1}
        assert fill["required"] == ["fill_qty"]
        assert typed.get("/api/v1/machines/nothing/schema").status_code == 404

    def test_a_machine_without_contracts(self, client: TestClient) -> None:
        client.post("/api/v1/machines", json={"config": ORDER})
        body = client.get("/api/v1/machines/orders/schema").json()
        assert body == {"machine_id": "orders", "context": {"type": "object"}, "events": {}}


class TestMachineOpenAPI:
    def test_one_typed_operation_per_trigger(self, typed: TestClient) -> None:
        document = typed.get("/api/v1/machines/typed_orders/openapi.json").json()
        assert document["openapi"].startswith("3.1")
        assert document["info"]["title"] == "typed_orders 1.0.0"
        paths = document["paths"]
        sends = sorted(p for p in paths if "/events/" in p)
        assert sends == sorted(BY_TRIGGER.replace("{trigger}", t) for t in ("ack", "amend", "fill"))
        assert not any("{machine_id}" in p for p in paths)
        fill = paths[BY_TRIGGER.replace("{trigger}", "fill")]["post"]
        assert fill["summary"] == "Send fill"
        assert fill["description"].startswith("A fill from the exchange.")
        assert [p["name"] for p in fill["parameters"]] == ["entity_id", "Idempotency-Key"]
        body = resolve(document, fill["requestBody"]["content"]["application/json"]["schema"])
        payload = resolve(document, body["properties"]["context"])
        assert payload["properties"]["fill_qty"] == {"type": "integer", "minimum": 1}
        assert payload["required"] == ["fill_qty"]
        assert set(body["properties"]) == {"context", "guards", "idempotency_key"}
        ack = paths[BY_TRIGGER.replace("{trigger}", "ack")]["post"]
        ack_body = resolve(document, ack["requestBody"]["content"]["application/json"]["schema"])
        assert resolve(document, ack_body["properties"]["context"])["type"] == "object"
        refs_resolve(document)

    def test_entity_creation_has_the_context_schema(self, typed: TestClient) -> None:
        document = typed.get("/api/v1/machines/typed_orders/openapi.json").json()
        create = document["paths"]["/api/v1/machines/typed_orders/entities"]["post"]
        body = resolve(document, create["requestBody"]["content"]["application/json"]["schema"])
        context = resolve(document, body["properties"]["context"])
        assert context["properties"]["order_qty"]["type"] == "integer"
        assert context["required"] == ["order_qty"]
        assert "/api/v1/machines/typed_orders/entities/{entity_id}/history" in document["paths"]

    def test_it_needs_a_token_when_auth_is_on(self, tmp_path: Path) -> None:
        from pystator.api.auth import issue_token

        configured = auth_settings(tmp_path)
        headers = {"Authorization": f"Bearer {issue_token(configured, 'alice')}"}
        with TestClient(app_for(configured)) as c:
            c.post("/api/v1/machines", json={"yaml": TYPED_YAML}, headers=headers)
            url = "/api/v1/machines/typed_orders/openapi.json"
            assert c.get(url).status_code == 401
            document = c.get(url, headers=headers).json()
            assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
            create = document["paths"]["/api/v1/machines/typed_orders/entities"]["post"]
            assert create["security"] == [{"bearer": []}]

    def test_docs_page_for_one_machine(self, typed: TestClient) -> None:
        page = typed.get("/docs?machine=typed_orders")
        assert page.status_code == 200
        script = typed.get("/docs-assets/swagger-init.js").text
        assert "/api/v1/machines/${machine}/openapi.json" in script


# ----------------------------------------------------------------------------- validation
class TestContextsAndPayloads:
    def test_a_context_that_breaks_the_contract_is_a_422(self, typed: TestClient) -> None:
        url = "/api/v1/machines/typed_orders/entities"
        answer = typed.post(url, json={"entity_id": "o1", "context": {"order_qty": "many"}})
        assert answer.status_code == 422, answer.text
        assert [e["path"] for e in answer.json()["errors"]] == ["body.context.order_qty"]
        missing = typed.post(url, json={"entity_id": "o1", "context": {}})
        assert missing.status_code == 422
        assert missing.json()["errors"] == [
            {"path": "body.context.order_qty", "message": "required key is missing"}
        ]
        assert typed.get(f"{url}/o1").status_code == 404, "nothing stored"
        assert typed.post(url, json={"entity_id": "o1", "context": {"order_qty": 5}}).is_success

    def test_payloads_are_checked_before_guards(self, typed: TestClient) -> None:
        entities = "/api/v1/machines/typed_orders/entities"
        typed.post(entities, json={"entity_id": "o1", "context": {"order_qty": 5}})
        assert typed.post(f"{entities}/o1/events/ack").json()["result"]["success"] is True
        bad = typed.post(f"{entities}/o1/events/fill", json={"context": {"fill_qty": "lots"}})
        assert bad.status_code == 200, bad.text
        result = bad.json()["result"]
        assert result["success"] is False
        assert result["metadata"]["reason"] == "payload_validation"
        assert result["error"]["code"] == "VALIDATION_FAILED"
        assert any(e.startswith("fill_qty") for e in result["metadata"]["errors"])
        assert bad.json()["entity"]["version"] == 2, "nothing written"
        # The same through the generic route.
        generic = typed.post(f"{entities}/o1/events", json={"trigger": "fill", "context": {}})
        assert generic.json()["result"]["metadata"]["reason"] == "payload_validation"
        good = typed.post(f"{entities}/o1/events/fill", json={"context": {"fill_qty": 5}})
        assert good.json()["result"]["success"] is True
        assert good.json()["entity"]["state"] == "FILLED"
        assert good.json()["entity"]["context"]["fill_qty"] == 5

    def test_an_event_that_would_break_the_context_is_a_422(self, typed: TestClient) -> None:
        entities = "/api/v1/machines/typed_orders/entities"
        typed.post(entities, json={"entity_id": "o1", "context": {"order_qty": 5}})
        typed.post(f"{entities}/o1/events/ack")
        answer = typed.post(f"{entities}/o1/events/amend", json={"context": {"order_qty": 0}})
        assert answer.status_code == 422, answer.text
        assert [e["path"] for e in answer.json()["errors"]] == ["body.context.order_qty"]
        entity = typed.get(f"{entities}/o1").json()
        assert entity["context"]["order_qty"] == 5
        assert entity["version"] == 2

    def test_the_per_trigger_route(self, typed: TestClient) -> None:
        entities = "/api/v1/machines/typed_orders/entities"
        typed.post(entities, json={"entity_id": "o1", "context": {"order_qty": 5}})
        url = f"{entities}/o1/events/ack"
        first = typed.post(url, headers={"Idempotency-Key": "k1"})
        assert first.json()["result"]["target_state"] == "OPEN"
        again = typed.post(url, json={"idempotency_key": "k1"})
        assert again.json()["result"]["metadata"]["replayed"] is True
        differ = typed.post(url, json={"idempotency_key": "k2"}, headers={"Idempotency-Key": "k3"})
        assert differ.status_code == 422
        assert typed.post(f"{entities}/o1/events/9bad").status_code == 422
        assert typed.post(f"{entities}/o1/events/nope").json()["result"]["success"] is False
        unknown = typed.post(f"{entities}/o1/events/ack", json={"guards": {"nope": True}})
        assert unknown.status_code == 422


# ----------------------------------------------------------------------------- Python models
class OrderContext(BaseModel):
    order_qty: int = Field(ge=1)
    filled_qty: int = 0


class Fill(BaseModel):
    fill_qty: int = Field(ge=1, description="Shares filled.")


PYTHON_YAML = """\
meta: {machine_name: py_orders, version: "2.0.0"}
states:
  - {name: PENDING, type: initial}
  - {name: OPEN}
  - {name: FILLED, type: terminal}
transitions:
  - {trigger: ack, source: PENDING, dest: OPEN}
  - {trigger: fill, source: OPEN, dest: FILLED}
"""


@pytest.fixture
def python_client(tmp_path: Path) -> Iterator[TestClient]:
    machine = StateMachine.from_yaml_string(
        PYTHON_YAML, context_model=OrderContext, event_models={"fill": Fill}
    )
    with TestClient(app_for_machines(tmp_path, machine)) as c:
        yield c


def app_for_machines(tmp_path: Path, *machines: StateMachine) -> Any:
    from pystator.api import create_app

    return create_app(settings(tmp_path), machines=machines)


class TestMachinesRegisteredInPython:
    def test_the_definition_is_stored(self, python_client: TestClient) -> None:
        ids = [m["id"] for m in python_client.get("/api/v1/machines").json()["items"]]
        assert ids == ["py_orders"]

    def test_contexts_are_validated_with_the_model(self, python_client: TestClient) -> None:
        url = "/api/v1/machines/py_orders/entities"
        bad = python_client.post(url, json={"entity_id": "p1", "context": {"order_qty": 0}})
        assert bad.status_code == 422, bad.text
        assert [e["path"] for e in bad.json()["errors"]] == ["body.context.order_qty"]
        assert python_client.get(f"{url}/p1").status_code == 404
        made = python_client.post(url, json={"entity_id": "p1", "context": {"order_qty": "7"}})
        assert made.status_code == 201, made.text
        assert made.json()["context"] == {"order_qty": 7, "filled_qty": 0}

    def test_payloads_are_validated_with_the_event_model(self, python_client: TestClient) -> None:
        url = "/api/v1/machines/py_orders/entities"
        python_client.post(url, json={"entity_id": "p1", "context": {"order_qty": 7}})
        python_client.post(f"{url}/p1/events/ack")
        bad = python_client.post(f"{url}/p1/events/fill", json={"context": {"fill_qty": 0}})
        assert bad.json()["result"]["metadata"]["reason"] == "payload_validation"
        good = python_client.post(f"{url}/p1/events/fill", json={"context": {"fill_qty": "7"}})
        assert good.json()["entity"]["state"] == "FILLED"

    def test_the_schemas_are_the_models(self, python_client: TestClient) -> None:
        body = python_client.get("/api/v1/machines/py_orders/schema").json()
        assert body["context"]["properties"]["order_qty"]["minimum"] == 1
        assert body["events"]["fill"]["properties"]["fill_qty"]["description"] == "Shares filled."
        document = python_client.get("/api/v1/machines/py_orders/openapi.json").json()
        fill = document["paths"]["/api/v1/machines/py_orders/entities/{entity_id}/events/fill"]
        schema = fill["post"]["requestBody"]["content"]["application/json"]["schema"]
        payload = resolve(document, resolve(document, schema)["properties"]["context"])
        assert payload["properties"]["fill_qty"]["minimum"] == 1
        refs_resolve(document)
