"""Definitions that used to break the service: states nested a thousand deep and more, guards
every other path refused, and bursts of large bodies.

* Deep definitions: as deep as allowed, they work through every endpoint and the machines
  directory; deeper, every endpoint answers 4xx naming the path, never 500.
* The same checks everywhere: ``StateMachine.from_yaml``, ``pystator validate``, ``POST
  /api/v1/validate`` and the machines directory refuse the same definitions with the same
  messages.
* Parse slots: with real concurrent requests, no more large definitions are parsed at once
  than ``PYSTATOR_MAX_CONCURRENT_PARSES`` (counted, not timed).
"""

from __future__ import annotations

import copy
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from pystator import ConfigurationError, StateMachine
from pystator.api.catalog import refusal_line
from tests.conftest import ROOT
from tests.integration.api_app import ORDER, app_for, in_process_server, settings
from tests.unit.test_deep_definitions import chain

DEADLINE = 60.0

TOO_DEEP = (
    "states[1001].parent: 'S1000' is nested 1001 levels deep: a state may be nested at most "
    "1000 levels (parents and regions count)"
)


def deep(levels: int, name: str = "deep") -> dict[str, Any]:
    data = chain(levels)
    data["meta"]["machine_name"] = name
    return data


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(app_for(settings(tmp_path))) as c:
        yield c


# ----------------------------------------------------------------------------- deep
class TestDeepDefinitions:
    def test_validate(self, client: TestClient) -> None:
        ok = client.post("/api/v1/validate", json={"config": deep(1000)})
        assert ok.status_code == 200
        assert ok.json()["valid"] is True
        assert ok.json()["summary"]["initial_state"] == "IDLE"
        refused = client.post("/api/v1/validate", json={"config": deep(5000)})
        assert refused.status_code == 200
        assert refused.json()["valid"] is False
        assert [f"{e['path']}: {e['message']}" for e in refused.json()["errors"]] == [TOO_DEEP]

    def test_store_and_run_a_deep_machine(self, client: TestClient) -> None:
        created = client.post("/api/v1/machines", json={"config": deep(1000)})
        assert created.status_code == 201, created.text
        assert client.get("/api/v1/machines/deep").status_code == 200
        entity = client.post(
            "/api/v1/machines/deep/entities", json={"entity_id": "e1", "initial_state": "IDLE"}
        )
        assert entity.status_code == 201, entity.text
        dived = client.post("/api/v1/machines/deep/entities/e1/events", json={"trigger": "dive"})
        assert dived.status_code == 200, dived.text
        assert dived.json()["result"]["target_state"] == "S999"
        surfaced = client.post(
            "/api/v1/machines/deep/entities/e1/events", json={"trigger": "surface"}
        )
        assert surfaced.json()["result"]["target_state"] == "IDLE"

    @pytest.mark.parametrize("method", ["post", "put"])
    def test_a_deeper_machine_is_a_422(self, client: TestClient, method: str) -> None:
        if method == "put":
            assert client.post("/api/v1/machines", json={"config": deep(3)}).status_code == 201
            response = client.put("/api/v1/machines/deep", json={"config": deep(5000)})
        else:
            response = client.post("/api/v1/machines", json={"config": deep(5000)})
        assert response.status_code == 422
        assert response.json()["errors"] == [
            {
                "path": f"body.config.{TOO_DEEP.split(': ')[0]}",
                "message": TOO_DEEP.split(": ", 1)[1],
            }
        ]

    def test_process(self, client: TestClient) -> None:
        body = {"current_state": "IDLE", "trigger": "dive"}
        ok = client.post("/api/v1/process", json={"config": deep(1000), **body})
        assert ok.status_code == 200, ok.text
        assert ok.json()["target_state"] == "S999"
        assert len(ok.json()["entered_states"]) == 1000
        refused = client.post("/api/v1/process", json={"config": deep(5000), **body})
        assert refused.status_code == 422
        assert refused.json()["detail"] == f"invalid machine definition: {TOO_DEEP}"

    def test_the_machines_directory(self, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        machines = tmp_path / "machines"
        machines.mkdir()
        (machines / "deep.json").write_text(json.dumps(deep(1000)), encoding="utf-8")
        (machines / "deeper.json").write_text(json.dumps(deep(5000, "deeper")), encoding="utf-8")
        with caplog.at_level(logging.INFO, logger="pystator.api"):
            app = app_for(settings(tmp_path, machines_dir=machines))
        with TestClient(app) as c:
            assert [m["id"] for m in c.get("/api/v1/machines").json()["items"]] == ["deep"]
            assert c.get("/api/v1/machines/deep").status_code == 200
            assert c.get("/api/v1/machines/deeper").status_code == 404
        assert f"machines directory: skipped deeper.json: 1 problem: {TOO_DEEP}" in caplog.text


# ----------------------------------------------------------------------------- same checks
BAD: dict[str, str] = {
    "expr-syntax": (
        "meta: {machine_name: m}\n"
        "states: [{name: A}, {name: B}]\n"
        "transitions:\n"
        "  - {trigger: go, source: A, dest: B, guards: [{expr: 'qty >= '}]}\n"
    ),
    "expr-import": (
        "meta: {machine_name: m}\n"
        "states: [{name: A}, {name: B}]\n"
        "transitions:\n"
        "  - {trigger: go, source: A, dest: B, guards: [{expr: '__import__(\"os\")'}]}\n"
    ),
    "expr-dunder": (
        "meta: {machine_name: m}\n"
        "states: [{name: A}, {name: B}]\n"
        "transitions:\n"
        "  - {trigger: go, source: A, dest: B, guards: [{expr: 'qty.__class__ == 1'}]}\n"
    ),
    "validate-context-without-contract": (
        "meta: {machine_name: m, validate_context: true}\nstates: [{name: A}]\n"
    ),
    "undefined-dest": (
        "meta: {machine_name: m}\n"
        "states: [{name: OPEN}]\n"
        "transitions: [{trigger: t, source: OPEN, dest: OPNE}]\n"
    ),
    "field-errors": (
        "meta: {machine_name: m}\n"
        "states: [{name: A}, {name: 2bad}]\n"
        "transitions: [{trigger: t, source: A, dest: B, priority: high}]\n"
    ),
    "too-deep": "meta: {machine_name: m}\nstates:\n"
    + "".join(f"  - {json.dumps(s)}\n" for s in chain(1001)["states"]),
    "deep-metadata": (
        "meta: {machine_name: m}\nstates: [{name: A, metadata: {x: " + "[" * 40 + "]" * 40 + "}}]\n"
    ),
    "duplicate-key": "meta: {machine_name: m}\nstates: [{name: A, name: B}]\n",
    "anchor": "meta: {machine_name: m}\nstates: &s [{name: A}]\n",
}


def _issues_of_from_yaml(path: Path) -> list[str]:
    with pytest.raises(ConfigurationError) as info:
        StateMachine.from_yaml(path)
    return [str(issue) for issue in info.value.issues]


class TestTheSameChecksEverywhere:
    """Each bad definition is refused by every way in, with the same messages."""

    def test_every_way_in_refuses_the_same(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        machines = tmp_path / "machines"
        machines.mkdir()
        paths = {}
        for name, text in BAD.items():
            paths[name] = machines / f"{name}.yaml"
            paths[name].write_text(text, encoding="utf-8")
        (machines / "orders.json").write_text(json.dumps(ORDER), encoding="utf-8")

        # 1. StateMachine.from_yaml: the reference.
        expected = {name: _issues_of_from_yaml(path) for name, path in paths.items()}
        assert all(expected.values())

        # 2. pystator validate, every file at once.
        proc = subprocess.run(
            [sys.executable, "-m", "pystator", "validate", *map(str, paths.values())],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=DEADLINE,
        )
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr
        for name, path in paths.items():
            printed = [
                line.removeprefix(f"{path}: ")
                for line in proc.stderr.splitlines()
                if line.startswith(f"{path}: ")
            ]
            assert printed == expected[name], name

        # 3. the machines directory at start-up, and 4. POST /api/v1/validate.
        with caplog.at_level(logging.WARNING, logger="pystator.api"):
            app = app_for(settings(tmp_path, machines_dir=machines))
        with TestClient(app) as c:
            stored = [m["id"] for m in c.get("/api/v1/machines").json()["items"]]
            assert stored == ["orders"]
            for name, text in BAD.items():
                answer = c.post("/api/v1/validate", json={"yaml": text})
                assert answer.status_code == 200, name
                assert answer.json()["valid"] is False, name
                given = [
                    f"{e['path']}: {e['message']}" if e["path"] else e["message"]
                    for e in answer.json()["errors"]
                ]
                assert given == expected[name], name
        logged = [r.getMessage() for r in caplog.records]
        for name, path in paths.items():
            with pytest.raises(ConfigurationError) as info:
                StateMachine.from_yaml(path)
            line = f"machines directory: skipped {refusal_line(path.name, info.value)}"
            assert line in logged, name
            assert "\n" not in line

    def test_a_valid_definition_is_accepted_everywhere(self, tmp_path: Path) -> None:
        path = tmp_path / "orders.json"
        path.write_text(json.dumps(ORDER), encoding="utf-8")
        StateMachine.from_json(path)
        proc = subprocess.run(
            [sys.executable, "-m", "pystator", "validate", str(path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=DEADLINE,
        )
        assert proc.returncode == 0, proc.stderr
        with TestClient(app_for(settings(tmp_path, machines_dir=tmp_path))) as c:
            assert c.post("/api/v1/validate", json={"config": ORDER}).json()["valid"] is True
            assert [m["id"] for m in c.get("/api/v1/machines").json()["items"]] == ["orders"]


# ----------------------------------------------------------------------------- parse slots
class Gate:
    """Wraps a parsing function: counts the calls inside it and holds them until opened.

    Used as ``with in_process_server(app) as base, gate:`` it opens when the block ends, even
    on a failed assertion, before the server stops: no handler thread is left held.
    """

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.lock = threading.Lock()
        self.inside = 0
        self.most = 0
        self.opened = threading.Event()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        try:
            self.opened.wait(DEADLINE)
            return self.real(*args, **kwargs)
        finally:
            with self.lock:
                self.inside -= 1

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.opened.set()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.01)


def post_all(base: str, requests: list[tuple[str, dict[str, Any]]]) -> list[threading.Thread]:
    """Send each (path, body) from its own thread; the responses land in ``thread.response``."""
    threads = []
    for path, body in requests:

        def send(path: str = path, body: dict[str, Any] = body) -> None:
            answer = httpx.post(f"{base}{path}", json=body, timeout=DEADLINE * 2)
            threading.current_thread().response = answer  # type: ignore[attr-defined]

        thread = threading.Thread(target=send, daemon=True)
        thread.start()
        threads.append(thread)
    return threads


def responses(threads: list[threading.Thread]) -> list[httpx.Response]:
    for thread in threads:
        thread.join(DEADLINE * 2)
        assert not thread.is_alive()
    return [thread.response for thread in threads]  # type: ignore[attr-defined]


def named(config: dict[str, Any], name: str) -> dict[str, Any]:
    out = copy.deepcopy(config)
    out["meta"]["machine_name"] = name
    return out


class TestParseSlots:
    def slots_app(self, tmp_path: Path, **overrides: Any) -> Any:
        values = {"max_concurrent_parses": 2, "large_definition_bytes": 1, **overrides}
        return app_for(settings(tmp_path, **values))

    def test_a_burst_is_parsed_two_at_a_time(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import pystator.api.definitions as definitions
        import pystator.api.routes.stateless as stateless

        gate = Gate(definitions.parse_definition)
        monkeypatch.setattr(definitions, "parse_definition", gate)
        monkeypatch.setattr(stateless, "parse_definition", gate)
        app = self.slots_app(tmp_path, parse_wait_seconds=DEADLINE)
        slots = app.state.services.parses
        requests = [("/api/v1/validate", {"config": named(ORDER, f"v{i}")}) for i in range(3)]
        requests += [("/api/v1/machines", {"config": named(ORDER, f"m{i}")}) for i in range(3)]
        with in_process_server(app) as base, gate:
            threads = post_all(base, requests)
            wait_until(lambda: slots.in_flight == 2 and slots.waiting == 4, "2 parsing, 4 waiting")
            assert gate.inside == 2
            gate.opened.set()
            answers = responses(threads)
        assert [a.status_code for a in answers] == [200] * 3 + [201] * 3
        assert gate.most == 2
        assert slots.peak == 2
        assert slots.in_flight == slots.waiting == 0

    def test_process_compiles_two_at_a_time(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import pystator.api.services as services
        from pystator.api.supplied_guards import machine_with_supplied_guards

        gate = Gate(machine_with_supplied_guards)
        monkeypatch.setattr(services, "machine_with_supplied_guards", gate)
        app = self.slots_app(tmp_path, parse_wait_seconds=DEADLINE)
        slots = app.state.services.parses
        body = {"current_state": "PENDING", "trigger": "ack"}
        requests = [
            ("/api/v1/process", {"config": named(ORDER, f"p{i}"), **body}) for i in range(5)
        ]
        with in_process_server(app) as base, gate:
            threads = post_all(base, requests)
            wait_until(lambda: slots.in_flight == 2 and slots.waiting == 3, "2 parsing, 3 waiting")
            assert gate.inside == 2
            # The event loop is free while they wait: other requests are answered.
            assert httpx.get(f"{base}/health", timeout=DEADLINE).status_code == 200
            gate.opened.set()
            answers = responses(threads)
        assert [a.status_code for a in answers] == [200] * 5
        assert all(a.json()["target_state"] == "OPEN" for a in answers)
        assert gate.most == 2

    def test_no_free_slot_in_time_is_a_503(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import pystator.api.routes.stateless as stateless
        from pystator.api.definitions import parse_definition

        gate = Gate(parse_definition)
        monkeypatch.setattr(stateless, "parse_definition", gate)
        app = self.slots_app(tmp_path, parse_wait_seconds=0)
        slots = app.state.services.parses
        with in_process_server(app) as base, gate:
            threads = post_all(base, [("/api/v1/validate", {"config": ORDER})] * 2)
            wait_until(lambda: slots.in_flight == 2, "2 parsing")
            busy = httpx.post(f"{base}/api/v1/validate", json={"config": ORDER}, timeout=DEADLINE)
            gate.opened.set()
            answers = responses(threads)
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == "1"
        assert "busy parsing 2 large machine definitions" in busy.json()["detail"]
        assert [a.status_code for a in answers] == [200, 200]

    def test_a_full_waiting_room_is_a_503_at_once(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Waiting requests hold worker threads: past 2 x slots waiting, one more is refused
        at once (while the slots are still held), and the other routes keep answering."""
        import pystator.api.routes.stateless as stateless
        from pystator.api.definitions import parse_definition

        gate = Gate(parse_definition)
        monkeypatch.setattr(stateless, "parse_definition", gate)
        app = self.slots_app(tmp_path, parse_wait_seconds=DEADLINE, large_definition_bytes=1500)
        slots = app.state.services.parses
        assert slots.max_waiting == 4  # unset: twice max_concurrent_parses
        large = named(ORDER, "big")
        large["meta"]["description"] = "x" * 2000
        with in_process_server(app) as base, gate:
            threads = post_all(base, [("/api/v1/validate", {"config": large})] * 6)
            wait_until(lambda: slots.in_flight == 2 and slots.waiting == 4, "2 parsing, 4 waiting")
            (extra,) = post_all(base, [("/api/v1/validate", {"config": large})])
            wait_until(lambda: not extra.is_alive() or slots.waiting > 4, "an answer or a 5th wait")
            # Answered without joining the waiting room, while the gate still holds the slots.
            assert slots.waiting == 4
            assert gate.inside == 2
            busy = extra.response  # type: ignore[attr-defined]
            assert busy.status_code == 503
            assert busy.headers["Retry-After"] == "30"
            assert (
                "busy parsing 2 large machine definitions and 4 more are waiting"
                in (busy.json()["detail"])
            )
            # Meanwhile a small definition, /health and a sync route still answer.
            small = {"config": ORDER, "current_state": "PENDING", "trigger": "ack"}
            answer = httpx.post(f"{base}/api/v1/process", json=small, timeout=DEADLINE)
            assert answer.status_code == 200, answer.text
            assert httpx.get(f"{base}/health", timeout=DEADLINE).status_code == 200
            assert httpx.get(f"{base}/ready", timeout=DEADLINE).status_code == 200
            assert gate.inside == 2
            gate.opened.set()
            answers = responses(threads)
        assert [a.status_code for a in answers] == [200] * 6
        assert slots.peak == 2
        assert slots.in_flight == slots.waiting == 0

    def test_the_waiting_room_setting(self, tmp_path: Path) -> None:
        app = self.slots_app(tmp_path, max_waiting_parses=0, parse_wait_seconds=DEADLINE)
        slots = app.state.services.parses
        with slots.slot(1), slots.slot(1), TestClient(app) as c:
            busy = c.post("/api/v1/validate", json={"config": ORDER})
            assert busy.status_code == 503
            assert slots.waiting == 0
            assert "and 0 more are waiting" in busy.json()["detail"]
        assert c.post("/api/v1/validate", json={"config": ORDER}).status_code == 200

    def test_small_definitions_never_wait(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import pystator.api.routes.stateless as stateless
        from pystator.api.definitions import parse_definition

        gate = Gate(parse_definition)
        monkeypatch.setattr(stateless, "parse_definition", gate)
        app = self.slots_app(tmp_path, large_definition_bytes=1_000_000)
        slots = app.state.services.parses
        with in_process_server(app) as base, gate:
            threads = post_all(base, [("/api/v1/validate", {"config": ORDER})] * 4)
            wait_until(lambda: gate.inside == 4, "4 parsing at once")
            gate.opened.set()
            answers = responses(threads)
        assert [a.status_code for a in answers] == [200] * 4
        assert slots.peak == 0

    def test_the_settings(self, tmp_path: Path) -> None:
        from pystator.api.settings import ApiSettings

        defaults = ApiSettings(_env_file=None)
        assert defaults.max_concurrent_parses == 2
        assert defaults.large_definition_bytes == 65_536
        assert defaults.parse_wait_seconds == 30.0
        with pytest.raises(ValueError, match="max_concurrent_parses"):
            settings(tmp_path, max_concurrent_parses=0)


# ----------------------------------------------------------------------------- event loop
class TestProcessOffTheEventLoop:
    def test_a_cache_miss_compiles_in_a_worker_thread(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Compiling a config (35 ms for a 36 KB one) never runs on the event loop, even for a
        small body; a cache hit does not compile at all."""
        import asyncio

        import pystator.api.services as services

        on_loop: list[tuple[str, bool]] = []

        def recording(real: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                try:
                    asyncio.get_running_loop()
                    on_loop.append((real.__name__, True))
                except RuntimeError:
                    on_loop.append((real.__name__, False))
                return real(*args, **kwargs)

            return call

        for name in ("definition_from_data", "machine_with_supplied_guards"):
            monkeypatch.setattr(services, name, recording(getattr(services, name)))
        body = {"config": ORDER, "current_state": "PENDING", "trigger": "ack"}
        invalid = named(ORDER, "invalid")
        invalid["transitions"][0]["dest"] = "NOWHERE"
        with TestClient(app_for(settings(tmp_path))) as c:
            large_bytes = c.app.state.services.parses.large_bytes  # type: ignore[attr-defined]
            assert len(json.dumps({**body, "config": invalid})) < large_bytes
            for _ in range(2):
                answer = c.post("/api/v1/process", json=body)
                assert answer.status_code == 200, answer.text
                assert answer.json()["target_state"] == "OPEN"
            refused = c.post("/api/v1/process", json={**body, "config": invalid})
            assert refused.status_code == 422
            assert "NOWHERE" in refused.json()["detail"]
        # The miss (parse, then compile), then the invalid config (parse); the hit: nothing.
        assert on_loop == [
            ("definition_from_data", False),
            ("machine_with_supplied_guards", False),
            ("definition_from_data", False),
        ]
