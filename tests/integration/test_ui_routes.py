"""The web UI's server side, in-process: the page and its assets, the helper endpoints under
``/ui/api``, their auth, and what ships in the package. The browser tests are in
``test_ui_browser.py``."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from pystator.api import ApiSettings, create_app
from pystator.api.passwords import hash_password
from pystator.ui import ASSETS_DIR
from tests.conftest import EXAMPLES, ROOT

SECRET = "ui-test-secret-" + "x" * 32
PASSWORD = "a long ui test password"
ORDER_YAML = (EXAMPLES / "order_fsm.yaml").read_text(encoding="utf-8")


def make_settings(tmp_path: Path, **overrides: Any) -> ApiSettings:
    values: dict[str, Any] = {"database_url": f"sqlite:///{tmp_path / 'ui.db'}", **overrides}
    return ApiSettings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path))) as c:
        yield c


@pytest.fixture
def auth_client(tmp_path: Path) -> Iterator[TestClient]:
    users = f"ada:{hash_password(PASSWORD, iterations=1000)}"
    with TestClient(create_app(make_settings(tmp_path, auth_secret=SECRET, users=users))) as c:
        yield c


def order_config() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ORDER_YAML)
    return data


class TestPage:
    def test_index_is_served_at_the_root_with_a_strict_policy(self, client: TestClient) -> None:
        response = client.get("/")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="/ui/assets/js/app.js">' in response.text
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"

    def test_the_api_stays_under_api_v1(self, client: TestClient) -> None:
        assert client.get("/api/v1/machines").status_code == 200
        assert client.get("/health").json()["status"] == "ok"
        paths = client.get("/openapi.json").json()["paths"]
        assert not [p for p in paths if p.startswith("/ui")], "UI helpers stay out of the docs"

    def test_every_asset_is_served_with_its_type(self, client: TestClient) -> None:
        types = {".js": "javascript", ".css": "text/css", ".svg": "image/svg+xml"}
        for path in sorted(ASSETS_DIR.rglob("*")):
            if path.is_dir() or path.suffix not in types:
                continue
            rel = path.relative_to(ASSETS_DIR).as_posix()
            response = client.get(f"/ui/assets/{rel}")
            assert response.status_code == 200, rel
            assert types[path.suffix] in response.headers["content-type"], rel
            assert "content-security-policy" in response.headers

    def test_a_missing_asset_is_404(self, client: TestClient) -> None:
        assert client.get("/ui/assets/js/nope.js").status_code == 404
        assert client.get("/ui/assets/../../api/app.py").status_code == 404

    def test_nothing_is_loaded_from_another_host(self) -> None:
        # XML namespaces are names, not loads; anything else with a scheme is a finding.
        # The vendored bundles (static/vendor: elkjs names EMF's XML namespaces) are checked
        # for loads by tests/unit/test_ui_vendor.py.
        allowed = {"http://www.w3.org/2000/svg"}
        for path in sorted(ASSETS_DIR.rglob("*")):
            if path.is_dir() or path.relative_to(ASSETS_DIR).parts[0] == "vendor":
                continue
            text = path.read_text(encoding="utf-8")
            urls = set(re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s\"'`)]*", text))
            assert urls <= allowed, f"{path.name}: {sorted(urls - allowed)}"
            assert "@import" not in text, path.name
            assert not re.search(r"\bfrom\s+[\"']https?:", text), path.name


class TestPackaging:
    def test_package_data_covers_every_asset(self) -> None:
        config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        patterns = config["tool"]["setuptools"]["package-data"]["pystator.ui"]
        for path in sorted(ASSETS_DIR.rglob("*")):
            if path.is_file():
                rel = path.relative_to(ASSETS_DIR.parent).as_posix()
                assert any(fnmatch(rel, p) and rel.count("/") == p.count("/") for p in patterns), (
                    f"{rel} is not in [tool.setuptools.package-data] 'pystator.ui'"
                )

    def test_browser_test_driver_is_a_dev_dependency(self) -> None:
        config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        dev = config["project"]["optional-dependencies"]["dev"]
        assert any(dep.startswith("selenium") for dep in dev)


class TestParse:
    def test_yaml_text_becomes_data(self, client: TestClient) -> None:
        body = client.post("/ui/api/parse", json={"text": ORDER_YAML}).json()
        assert body["format"] == "yaml"
        assert body["error"] is None
        assert body["data"] == order_config()

    def test_json_text_is_detected(self, client: TestClient) -> None:
        body = client.post("/ui/api/parse", json={"text": '{"meta": {"machine_name": "x"}}'})
        assert body.json() == {
            "format": "json",
            "data": {"meta": {"machine_name": "x"}},
            "error": None,
        }

    def test_a_syntax_error_has_its_line(self, client: TestClient) -> None:
        text = "meta:\n  machine_name: x\nstates: [A\n"
        error = client.post("/ui/api/parse", json={"text": text}).json()["error"]
        assert error["line"] == 4
        assert "invalid YAML" in error["message"]
        bad_json = '{\n  "meta": {\n    "machine_name": "x",\n  }\n}'
        error = client.post("/ui/api/parse", json={"text": bad_json}).json()["error"]
        assert error["line"] == 4

    def test_yaml_hazards_are_refused(self, client: TestClient) -> None:
        text = "a: &x [1]\nb: *x\n"
        body = client.post("/ui/api/parse", json={"text": text}).json()
        assert body["data"] is None
        assert "anchors" in body["error"]["message"] or "aliases" in body["error"]["message"]

    @pytest.mark.parametrize("text", ["", "   \n", "- a\n- b\n", "just text"])
    def test_text_that_is_not_a_mapping(self, client: TestClient, text: str) -> None:
        body = client.post("/ui/api/parse", json={"text": text}).json()
        assert body["data"] is None
        assert body["error"]["message"]

    def test_unknown_fields_are_422(self, client: TestClient) -> None:
        assert client.post("/ui/api/parse", json={"text": "", "oops": 1}).status_code == 422


class TestDump:
    def test_yaml_round_trip_keeps_the_order_of_keys(self, client: TestClient) -> None:
        config = order_config()
        text = client.post("/ui/api/dump", json={"config": config}).json()["text"]
        assert text.startswith("meta:\n")
        assert text.index("states:") < text.index("transitions:")
        back = client.post("/ui/api/parse", json={"text": text}).json()["data"]
        assert back == config

    def test_risky_words_stay_strings(self, client: TestClient) -> None:
        config = {"meta": {"machine_name": "x", "description": "no"}, "states": [{"name": "on"}]}
        text = client.post("/ui/api/dump", json={"config": config}).json()["text"]
        assert yaml.safe_load(text) == config

    def test_json(self, client: TestClient) -> None:
        body = client.post("/ui/api/dump", json={"config": {"a": [1, 2]}, "format": "json"})
        assert body.json()["text"] == '{\n  "a": [\n    1,\n    2\n  ]\n}\n'


class TestInspect:
    def test_initial_state_and_its_transitions(self, client: TestClient) -> None:
        body = client.post("/ui/api/inspect", json={"config": order_config()}).json()
        assert body["initial_state"] == "PENDING"
        assert body["state"] == "PENDING"
        assert body["active"] == ["PENDING"]
        assert body["triggers"] == ["exchange_ack"]
        assert body["terminal"] is False
        [transition] = body["transitions"]
        assert transition["index"] == 0
        assert transition["dest"] == "OPEN"

    def test_terminal_state(self, client: TestClient) -> None:
        body = client.post(
            "/ui/api/inspect", json={"config": order_config(), "state": "FILLED"}
        ).json()
        assert body["terminal"] is True
        assert body["triggers"] == []

    def test_named_and_expression_guards(self, client: TestClient) -> None:
        config = {
            "meta": {"machine_name": "g"},
            "states": [{"name": "A"}, {"name": "B"}],
            "transitions": [
                {
                    "trigger": "go",
                    "source": "A",
                    "dest": "B",
                    "guards": ["approved", {"expr": "qty > 0"}],
                    "actions": ["ship", {"name": "log", "params": {"x": 1}}],
                },
                {"after": "5s", "source": "A", "dest": "B"},
            ],
        }
        body = client.post("/ui/api/inspect", json={"config": config}).json()
        go = next(t for t in body["transitions"] if t["trigger"] == "go")
        assert go["guards"] == [
            {"label": "approved", "name": "approved", "expr": None},
            {"label": "expr: qty > 0", "name": None, "expr": "qty > 0"},
        ]
        assert go["actions"] == ["ship", "log"]
        assert body["triggers"] == ["go"]

    def test_compound_and_parallel_states_are_entered(self, client: TestClient) -> None:
        config = {
            "meta": {"machine_name": "p"},
            "states": [
                {"name": "IDLE", "type": "initial"},
                {
                    "name": "MONITORING",
                    "type": "parallel",
                    "regions": [
                        {"name": "feed", "states": ["CONNECTING", "STREAMING"]},
                        {"name": "risk", "states": ["CALM", "ALERT"]},
                    ],
                },
            ],
            "transitions": [{"trigger": "start", "source": "IDLE", "dest": "MONITORING"}],
        }
        body = client.post("/ui/api/inspect", json={"config": config, "state": "MONITORING"}).json()
        assert body["state"] == "MONITORING(feed=CONNECTING, risk=CALM)"
        assert body["leaves"] == ["CONNECTING", "CALM"]
        assert set(body["active"]) == {"MONITORING", "feed", "CONNECTING", "risk", "CALM"}
        again = client.post(
            "/ui/api/inspect",
            json={"config": config, "state": "MONITORING(feed=STREAMING, risk=ALERT)"},
        ).json()
        assert again["leaves"] == ["STREAMING", "ALERT"]

    def test_invalid_definition_and_unknown_state_are_422(self, client: TestClient) -> None:
        bad = {"meta": {"machine_name": "x"}, "states": []}
        response = client.post("/ui/api/inspect", json={"config": bad})
        assert response.status_code == 422
        assert "invalid machine definition" in response.json()["detail"]
        response = client.post("/ui/api/inspect", json={"config": order_config(), "state": "NOPE"})
        assert response.status_code == 422
        assert "NOPE" in response.json()["detail"]


class TestDiagram:
    def test_mermaid_and_dot_are_the_command_lines_text(self, client: TestClient) -> None:
        from pystator.diagram import render
        from pystator.loaders import load_yaml_string

        definition = load_yaml_string(ORDER_YAML)
        for fmt in ("mermaid", "dot"):
            body = client.post("/ui/api/diagram", json={"config": order_config(), "format": fmt})
            assert body.status_code == 200
            assert body.json() == {"format": fmt, "text": render(definition, fmt)}

    def test_an_invalid_definition_is_422(self, client: TestClient) -> None:
        response = client.post("/ui/api/diagram", json={"config": {"meta": {}}})
        assert response.status_code == 422

    def test_the_checks_of_every_other_entry_point_apply(self, client: TestClient) -> None:
        # A guard expression every other path refuses must not be drawn as if it were valid.
        config = order_config()
        config["transitions"][1]["guards"] = [{"expr": "qty >= "}]
        for route in ("/ui/api/diagram", "/ui/api/inspect"):
            response = client.post(route, json={"config": config})
            assert response.status_code == 422, route
            assert "transitions[1].guards[0]" in response.json()["detail"], route


class TestParseSlots:
    """The helpers parse and compile inside the API's parse slots, like /api/v1/validate."""

    @pytest.fixture
    def busy_client(self, tmp_path: Path) -> Iterator[TestClient]:
        settings = make_settings(
            tmp_path, max_concurrent_parses=1, large_definition_bytes=64, parse_wait_seconds=0.05
        )
        with TestClient(create_app(settings)) as c:
            yield c

    def test_large_bodies_wait_for_a_slot_and_small_ones_never_do(
        self, busy_client: TestClient
    ) -> None:
        slots = busy_client.app.state.services.parses  # type: ignore[attr-defined]
        bodies = {
            "/ui/api/parse": {"text": ORDER_YAML},
            "/ui/api/diagram": {"config": order_config()},
            "/ui/api/inspect": {"config": order_config()},
        }
        for route, body in bodies.items():
            assert busy_client.post(route, json=body).status_code == 200, route
        # With the only slot taken, every large body is refused with 503 and Retry-After.
        with slots.slot(slots.large_bytes):
            for route, body in bodies.items():
                response = busy_client.post(route, json=body)
                assert response.status_code == 503, route
                assert "Retry-After" in response.headers
                assert "busy parsing" in response.json()["detail"]
            assert busy_client.post("/ui/api/parse", json={"text": "a: 1"}).status_code == 200
        assert slots.peak == 1

    def test_the_slot_is_held_for_the_request_bodys_size(self) -> None:
        """The helpers hold the slot for the body they were sent (its size is known), not for
        a JSON dump of the config made only to measure it."""
        import json

        from fastapi import FastAPI

        from pystator.ui.routes import build_router, no_parse_slot

        sizes: list[int] = []

        def recording_slot(size: int) -> Any:
            sizes.append(size)
            return no_parse_slot(size)

        app = FastAPI()
        app.include_router(build_router(parse_slot=recording_slot))
        # Indented JSON: the body is larger than the config's compact dump.
        bodies = {
            "/ui/api/parse": {"text": ORDER_YAML},
            "/ui/api/diagram": {"config": order_config()},
            "/ui/api/inspect": {"config": order_config(), "state": None},
        }
        sent = []
        with TestClient(app) as c:
            for route, body in bodies.items():
                content = json.dumps(body, indent=4).encode()
                sent.append(len(content))
                headers = {"content-type": "application/json"}
                response = c.post(route, content=content, headers=headers)
                assert response.status_code == 200, route
        assert sizes == sent


class TestTemplates:
    def test_every_template_of_the_new_machine_page_is_valid(self, client: TestClient) -> None:
        source = (ASSETS_DIR / "js" / "templates.js").read_text(encoding="utf-8")
        texts = re.findall(r"yaml: `([^`]*)`", source)
        assert len(texts) >= 4
        for text in texts:
            body = client.post("/api/v1/validate", json={"yaml": text}).json()
            assert body["valid"], (text.splitlines()[1], body["errors"])


class TestAuth:
    def test_helpers_need_a_token_when_auth_is_on(self, auth_client: TestClient) -> None:
        assert auth_client.get("/").status_code == 200  # the page itself holds no data
        assert auth_client.get("/ui/assets/js/app.js").status_code == 200
        assert auth_client.post("/ui/api/parse", json={"text": "a: 1"}).status_code == 401
        token = auth_client.post(
            "/api/v1/auth/token", json={"username": "ada", "password": PASSWORD}
        ).json()["access_token"]
        response = auth_client.post(
            "/ui/api/parse",
            json={"text": "a: 1"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200
