"""The per-machine OpenAPI document (``/api/v1/machines/{id}/openapi.json``): user models keep
their own schemas beside the app's components, and only sendable triggers get an operation.

* The app's components (``TimerSpec``, ``TransitionResult``, ...) and the document's own names
  (``Context``, ``EntityCreate``, ``<trigger>_payload``, ``<trigger>_event``) are reserved; a
  user model nested in the context or a payload under one of those names is placed under
  another, its references rewritten. Every reference resolves to the schema it meant.
* ``done.state.*`` triggers (raised by the engine) and triggers that only label delayed
  transitions (fired by their timers) get no ``Send`` operation.
* ``/docs?machine=<not an id>`` says so on the page (checked by running the page script
  under Node, when it is installed).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from pystator import StateMachine
from pystator.api import create_app
from pystator.api.docs_page import STATIC_DIR
from tests.conftest import IN_CI
from tests.integration.api_app import app_for, settings
from tests.integration.test_api_models import refs_resolve, resolve


# User models named like the app's components and the document's own names.
class TimerSpec(BaseModel):
    qty: int


class Context(BaseModel):
    x: int


class EntityCreate(BaseModel):
    created_by: str


class go_event(BaseModel):  # noqa: N801 - named like the body of "Send go" on purpose
    venue: str


class Context_TimerSpec(BaseModel):  # noqa: N801 - the name a clash would be given first
    other: bool


class Ctx(BaseModel):
    t: TimerSpec
    c: Context | None = None
    n: int = 0


class BusyCtx(Ctx):
    made: EntityCreate | None = None
    ev: go_event | None = None
    also: Context_TimerSpec | None = None


class FillPayload(BaseModel):
    t: TimerSpec
    q: int = Field(ge=1)


MACHINE_YAML = """\
meta: {machine_name: tm, version: "1.0.0"}
states:
  - {name: A, type: initial}
  - {name: B}
transitions:
  - {trigger: go, source: A, dest: B}
  - {trigger: back, source: B, dest: A}
"""
ENTITIES = "/api/v1/machines/tm/entities"
SEND = ENTITIES + "/{entity_id}/events/"


def document_of(tmp_path: Path, machine: StateMachine) -> Iterator[tuple[TestClient, Any, Any]]:
    with TestClient(create_app(settings(tmp_path), machines=[machine])) as client:
        app_document = client.get("/openapi.json").json()
        answer = client.get(f"/api/v1/machines/{machine.name}/openapi.json")
        assert answer.status_code == 200, answer.text
        yield client, answer.json(), app_document


@pytest.fixture
def clashing(tmp_path: Path) -> Iterator[tuple[TestClient, Any, Any]]:
    """The reviewer's repro: ``Ctx`` nests models named ``TimerSpec`` and ``Context``."""
    machine = StateMachine.from_yaml_string(
        MACHINE_YAML, context_model=Ctx, event_models={"go": FillPayload}
    )
    yield from document_of(tmp_path, machine)


def body_schema(document: Any, operation: Any) -> Any:
    return resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])


def fields(schema: Any) -> set[str]:
    return set(schema["properties"])


class TestUserModelsNamedLikeComponents:
    def test_every_reference_resolves_to_a_valid_schema(self, clashing: Any) -> None:
        _, document, _ = clashing
        refs_resolve(document)

    def test_the_apps_components_are_the_apps(self, clashing: Any) -> None:
        _, document, app_document = clashing
        schemas = document["components"]["schemas"]
        app_schemas = app_document["components"]["schemas"]
        result = schemas["TransitionResult"]
        assert result == app_schemas["TransitionResult"]
        timer = resolve(document, result["properties"]["timers_to_arm"]["items"])
        assert timer == app_schemas["TimerSpec"]
        assert {"key", "state", "trigger", "delay_ms"} <= fields(timer)
        assert "qty" not in fields(timer)
        # Every component the document shares a name with the app is the app's, but the
        # typed body of entity creation, which replaces it.
        for name in set(schemas) & set(app_schemas) - {"EntityCreate"}:
            assert schemas[name] == app_schemas[name], name

    def test_the_context_keeps_its_nested_models(self, clashing: Any) -> None:
        _, document, _ = clashing
        create = document["paths"][ENTITIES]["post"]
        body = body_schema(document, create)
        assert {"entity_id", "context"} <= fields(body)
        context = resolve(document, body["properties"]["context"])
        assert context["title"] == "Ctx"
        assert fields(context) == {"t", "c", "n"}
        assert fields(resolve(document, context["properties"]["t"])) == {"qty"}
        nested, none = context["properties"]["c"]["anyOf"]
        assert none == {"type": "null"}
        assert fields(resolve(document, nested)) == {"x"}

    def test_the_payload_keeps_its_nested_models(self, clashing: Any) -> None:
        _, document, _ = clashing
        send = document["paths"][SEND + "go"]["post"]
        body = body_schema(document, send)
        assert {"context", "idempotency_key"} <= fields(body)
        payload = resolve(document, body["properties"]["context"])
        assert fields(payload) == {"t", "q"}
        assert payload["properties"]["q"]["minimum"] == 1
        assert fields(resolve(document, payload["properties"]["t"])) == {"qty"}

    def test_the_documents_own_names_are_reserved(self, tmp_path: Path) -> None:
        machine = StateMachine.from_yaml_string(
            MACHINE_YAML, context_model=BusyCtx, event_models={"go": FillPayload}
        )
        for _, document, _ in document_of(tmp_path, machine):
            refs_resolve(document)
            schemas = document["components"]["schemas"]
            assert {"entity_id", "context"} <= fields(schemas["EntityCreate"])
            assert {"context", "idempotency_key"} <= fields(schemas["go_event"])
            assert schemas["Context"]["title"] == "BusyCtx"
            context = resolve(document, {"$ref": "#/components/schemas/Context"})
            expected = {
                "t": {"qty"},
                "made": {"created_by"},
                "ev": {"venue"},
                "also": {"other"},
                "c": {"x"},
            }
            for name, wanted in expected.items():
                prop = context["properties"][name]
                target = prop["anyOf"][0] if "anyOf" in prop else prop
                assert fields(resolve(document, target)) == wanted, name

    def test_the_validated_context_is_the_documented_one(self, clashing: Any) -> None:
        client, _, _ = clashing
        made = client.post(ENTITIES, json={"entity_id": "e1", "context": {"t": {"qty": "3"}}})
        assert made.status_code == 201, made.text
        assert made.json()["context"] == {"t": {"qty": 3}, "c": None, "n": 0}


# ----------------------------------------------------------------------------- sendable triggers
UNSENDABLE_YAML = """\
meta: {machine_name: dm, version: "1.0.0"}
states:
  - {name: P, type: initial, initial_child: P1}
  - {name: P1, parent: P}
  - {name: P2, parent: P, type: terminal}
  - {name: Q}
  - {name: R}
transitions:
  - {trigger: next, source: P1, dest: P2}
  - {trigger: done.state.P, source: P, dest: Q}
  - {trigger: expire, source: Q, dest: R, after: 5s}
  - {trigger: nudge, source: Q, dest: R, after: 1s}
  - {trigger: nudge, source: R, dest: Q}
  - {source: R, dest: P, after: 2s}
"""


class TestOnlySendableTriggers:
    def test_engine_and_timer_triggers_get_no_operation(self, tmp_path: Path) -> None:
        with TestClient(app_for(settings(tmp_path))) as client:
            stored = client.post("/api/v1/machines", json={"yaml": UNSENDABLE_YAML})
            assert stored.status_code == 201, stored.text
            summary_triggers = stored.json()["summary"]["triggers"]
            assert {"done.state.P", "expire"} <= set(summary_triggers)
            document = client.get("/api/v1/machines/dm/openapi.json").json()
            refs_resolve(document)
            sends = sorted(p.rsplit("/", 1)[1] for p in document["paths"] if "/events/" in p)
            assert sends == ["next", "nudge"]
            schemas = document["components"]["schemas"]
            assert not any(name.startswith(("done", "expire")) for name in schemas)
            # Why: neither can be sent, even from its source state.
            entities = "/api/v1/machines/dm/entities"
            assert client.post(entities, json={"entity_id": "e1"}).json()["state"] == "P1"
            refused(client, f"{entities}/e1", "done.state.P")
            assert client.post(f"{entities}/e1/events/next").json()["entity"]["state"] == "Q"
            refused(client, f"{entities}/e1", "expire")
            assert client.get(f"{entities}/e1").json()["state"] == "Q"


def refused(client: TestClient, entity: str, trigger: str) -> None:
    sent = client.post(f"{entity}/events", json={"trigger": trigger})
    assert sent.status_code == 200, sent.text
    result = sent.json()["result"]
    assert result["success"] is False, trigger
    assert result["error"]["code"] == "INVALID_TRIGGER", result


# ----------------------------------------------------------------------------- /docs?machine=
NODE = shutil.which("node")

HARNESS = """\
const fs = require("fs");
const search = process.argv[2];
const inserted = [];
const root = {
  dataset: { openapiUrl: "/openapi.json" },
  parentNode: { insertBefore: (node, before) => inserted.push(node) },
};
global.window = {
  location: { search: search, href: "http://h/docs" + search, origin: "http://h" },
};
global.document = {
  title: "PyStator API",
  getElementById: () => root,
  createElement: (tag) => ({
    tag: tag, style: {}, attrs: {}, setAttribute(k, v) { this.attrs[k] = v; },
  }),
};
let options = null;
global.SwaggerUIBundle = (o) => { options = o; return {}; };
global.SwaggerUIBundle.presets = { apis: {} };
eval(fs.readFileSync(process.argv[1], "utf8"));
console.log(JSON.stringify({
  url: options.url,
  title: document.title,
  notices: inserted.map((n) => ({ text: n.textContent, role: n.attrs.role })),
}));
"""


def run_page_script(search: str) -> Any:
    assert NODE is not None
    answer = subprocess.run(
        [NODE, "-e", HARNESS, str(STATIC_DIR / "swagger-init.js"), search],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(answer.stdout)


@pytest.fixture(autouse=False)
def node() -> str:
    """Node runs the page script; the machines the project runs on have it. Skip without it,
    except in CI (CI=true), where that is a failure."""
    if NODE is None:
        if IN_CI:
            pytest.fail("Node is not installed (CI=true: the page-script tests must run)")
        pytest.skip("needs Node to run the page script")
    return NODE


@pytest.mark.usefixtures("node")
class TestDocsPageNotice:
    def test_a_machine_id_shows_its_document(self) -> None:
        page = run_page_script("?machine=typed_orders")
        assert page["url"] == "/api/v1/machines/typed_orders/openapi.json"
        assert page["title"].startswith("typed_orders - ")
        assert page["notices"] == []

    def test_no_machine_shows_the_whole_api_quietly(self) -> None:
        assert run_page_script("") == {
            "url": "/openapi.json",
            "title": "PyStator API",
            "notices": [],
        }

    @pytest.mark.parametrize("bad", ["a-b", "<b>x</b>", "", "9lives"])
    def test_a_bad_id_is_said_on_the_page(self, bad: str) -> None:
        from urllib.parse import quote

        page = run_page_script(f"?machine={quote(bad)}")
        assert page["url"] == "/openapi.json"
        (notice,) = page["notices"]
        assert notice["role"] == "alert"
        assert f'"{bad}" is not a machine id' in notice["text"]
        assert "whole API" in notice["text"]
