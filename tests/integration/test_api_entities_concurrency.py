"""An event's response is the entity exactly as that event committed it (issue 12, item 4).

16 clients send ~50 events each, all at once, to ONE entity through a real HTTP server. Every
event records its own nonce in the context, so each answer can be checked against its own
request: the entity in the answer carries the request's nonce, and the versions of all
answers are distinct and are exactly 2..N+1 (1 is the creation). Storage must agree: the
history row of each version carries the nonce of the answer with that version.

Before the fix the route re-read the entity after the commit (outside the writer lock), so an
answer could show a later event's version and context.

The in-process server (uvicorn in a thread) serves the machine catalog from SQLite and the
entities from every store backend; one more test runs the shipped ``pystator api`` process.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import httpx

from pystator.api import create_app
from pystator.api.services import Services
from tests.integration.api_app import in_process_server, running_server, settings
from tests.integration.backends import StoreBackend, unique

CLIENTS = 16
EVENTS_PER_CLIENT = 50


def counter_machine(name: str) -> dict[str, Any]:
    return {
        "meta": {"machine_name": name, "version": "1.0.0", "strict_mode": True},
        "states": [{"name": "RUNNING", "type": "initial"}, {"name": "DONE", "type": "terminal"}],
        "transitions": [
            {"trigger": "tick", "source": "RUNNING", "dest": "RUNNING"},
            {"trigger": "finish", "source": "RUNNING", "dest": "DONE"},
        ],
    }


def hammer(base: str, machine_id: str, entity_id: str) -> list[tuple[dict[str, Any], Any]]:
    """CLIENTS threads, EVENTS_PER_CLIENT events each, started together; every
    (request payload, response body) pair, or the failure of a client."""
    url = f"{base}/api/v1/machines/{machine_id}/entities/{entity_id}/events"
    barrier = threading.Barrier(CLIENTS)
    answers: list[tuple[dict[str, Any], Any]] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        try:
            with httpx.Client(timeout=60) as http:
                barrier.wait(timeout=60)
                for seq in range(EVENTS_PER_CLIENT):
                    payload = {"client": number, "seq": seq, "nonce": uuid.uuid4().hex}
                    response = http.post(url, json={"trigger": "tick", "context": payload})
                    if response.status_code != 200:
                        raise AssertionError(f"{response.status_code}: {response.text}")
                    with lock:
                        answers.append((payload, response.json()))
        except Exception as exc:  # reported below, with the client's number
            with lock:
                failures.append(f"client {number}: {exc!r}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not failures, failures
    assert all(not t.is_alive() for t in threads), "a client did not finish"
    return answers


def history_nonces(base: str, machine_id: str, entity_id: str) -> dict[int, str]:
    """version -> the nonce its history row recorded (creation excluded)."""
    out: dict[int, str] = {}
    url = f"{base}/api/v1/machines/{machine_id}/entities/{entity_id}/history"
    offset = 0
    while True:
        page = httpx.get(url, params={"limit": 500, "offset": offset}, timeout=60)
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        for item in items:
            if item["trigger"] == "tick":
                out[item["version"]] = item["context_changes"]["nonce"]
        if len(items) < 500:
            return out
        offset += 500


def check_every_answer_is_its_own_commit(base: str) -> None:
    machine_id = unique("counter_")
    created = httpx.post(
        f"{base}/api/v1/machines", json={"config": counter_machine(machine_id)}, timeout=60
    )
    assert created.status_code == 201, created.text
    entity = httpx.post(
        f"{base}/api/v1/machines/{machine_id}/entities",
        json={"entity_id": "shared", "context": {"client": -1, "seq": -1, "nonce": "created"}},
        timeout=60,
    )
    assert entity.status_code == 201, entity.text
    assert entity.json()["version"] == 1

    answers = hammer(base, machine_id, "shared")
    total = CLIENTS * EVENTS_PER_CLIENT
    assert len(answers) == total

    wrong = []
    for payload, body in answers:
        assert body["result"]["success"] is True, body
        shown = body["entity"]
        if shown["context"] != payload or shown["state"] != "RUNNING":
            wrong.append((payload["nonce"], shown["version"], shown["context"].get("nonce")))
    assert not wrong, (
        f"{len(wrong)} of {total} answers show another event's entity, e.g. {wrong[:3]}"
    )
    versions = sorted(body["entity"]["version"] for _, body in answers)
    assert versions == list(range(2, total + 2)), "each answer must be a distinct commit"

    # Storage agrees with the answers, version by version.
    by_version = {body["entity"]["version"]: payload["nonce"] for payload, body in answers}
    assert history_nonces(base, machine_id, "shared") == by_version
    final = httpx.get(f"{base}/api/v1/machines/{machine_id}/entities/shared", timeout=60).json()
    assert final["version"] == total + 1
    assert final["context"]["nonce"] == by_version[total + 1]


def test_answers_are_their_own_commits_on_every_store(
    tmp_path: Path, backend: StoreBackend
) -> None:
    app = create_app(settings(tmp_path))
    # The routes find the services on the app's state: entities go to the backend's store,
    # machines stay in the settings' SQLite file.
    services = Services(app.state.settings, backend.store)
    app.state.services = services
    try:
        with in_process_server(app) as base:
            check_every_answer_is_its_own_commit(base)
    finally:
        services.close()


def test_answers_are_their_own_commits_through_pystator_api(tmp_path: Path) -> None:
    with running_server(tmp_path) as base:
        check_every_answer_is_its_own_commit(base)
