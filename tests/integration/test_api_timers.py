"""The HTTP API hands the timers of delayed transitions to the workers' scheduler.

With ``PYSTATOR_REDIS_URL`` the API's orchestrators arm and cancel timers in the
``ArqScheduler`` that ``pystator worker`` fires (its default key prefix and queue, the API's
store timeouts): an event that arms a timer through the API leaves its record and its arq
job in Redis, deferred to the timer's due time; leaving the state, deleting the entity or
deleting the machine through the API removes both. The API itself never fires a timer.
Without the setting, timers are only recorded on the entities, as before. A Redis that is
down or frozen while a timer is armed costs the event nothing: it is committed, answered 200,
its timer recorded on the entity, and ``rearm_from_store`` (a worker's start-up re-arm) hands
it over once Redis is back.

Each test has a Redis server of its own (``private_redis``) and a SQLite file. That the
workers fire what the API arms, through other processes, is in ``test_deployment.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pystator.api import create_app
from tests.integration.api_app import settings
from tests.integration.private_servers import PrivateRedis, private_redis

pytestmark = pytest.mark.redis

MACHINE = "deadline"
PREFIX = "pystator:timers:"
QUEUE = "pystator:queue"
DEADLINE: dict[str, Any] = {
    "meta": {"machine_name": MACHINE, "version": "1.0.0"},
    "states": [
        {"name": "IDLE", "type": "initial"},
        {"name": "WAITING"},
        {"name": "EXPIRED", "type": "terminal"},
    ],
    "transitions": [
        {"trigger": "start", "source": "IDLE", "dest": "WAITING"},
        {"trigger": "stop", "source": "WAITING", "dest": "IDLE"},
        # Never due while a test runs: what is checked is where the timer is kept.
        {"after": "1h", "source": "WAITING", "dest": "EXPIRED"},
    ],
}
ENTITIES = f"/api/v1/machines/{MACHINE}/entities"


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@contextmanager
def api(tmp_path: Path, redis_url: str | None, **overrides: Any) -> Iterator[TestClient]:
    """The API on a SQLite file of the test, with ``PYSTATOR_REDIS_URL`` = ``redis_url``,
    and the test machine stored."""
    app = create_app(settings(tmp_path, redis_url=redis_url, **overrides))
    with TestClient(app) as client:
        stored = client.post("/api/v1/machines", json={"config": DEADLINE})
        assert stored.status_code == 201, stored.text
        yield client


def start(client: TestClient, entity: str) -> dict[str, Any]:
    """Create ``entity`` and send it ``start``; the entity as the answer shows it."""
    created = client.post(ENTITIES, json={"entity_id": entity})
    assert created.status_code == 201, created.text
    started = client.post(f"{ENTITIES}/{entity}/events", json={"trigger": "start"})
    assert started.status_code == 200, started.text
    body: dict[str, Any] = started.json()["entity"]
    assert [t["trigger"] for t in body["timers"]] == ["after:2"]
    return body


class RedisTimers:
    """What Redis holds of the machine's timers: their records and their arq jobs."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, decode_responses=True)

    def records(self) -> dict[str, Any]:
        import json

        raw = self.client.hgetall(f"{PREFIX}{MACHINE}:records")
        return {member: json.loads(text) for member, text in raw.items()}

    def queued(self) -> dict[str, float]:
        """Job id -> the time it is deferred to (ms), of every job in the worker's queue."""
        return dict(self.client.zrange(QUEUE, 0, -1, withscores=True))

    def job_exists(self, job_id: str) -> bool:
        return bool(self.client.exists(f"arq:job:{job_id}"))

    def close(self) -> None:
        self.client.close()


def job_id(entity: str, timer_id: str) -> str:
    """The arq job id ``ArqScheduler`` gives a timer (the worker enqueues the same)."""
    return f"{PREFIX}{MACHINE}:job:{timer_id}|{entity}"


@pytest.fixture
def timers(redis_server: PrivateRedis) -> Iterator[RedisTimers]:
    found = RedisTimers(redis_server.url)
    try:
        yield found
    finally:
        found.close()


# ---------------------------------------------------------------------------- arming
def test_a_timer_armed_through_the_api_is_a_job_for_the_workers(
    tmp_path: Path, redis_server: PrivateRedis, timers: RedisTimers
) -> None:
    with api(tmp_path, redis_server.url) as client:
        entity = start(client, "o-1")
        (timer,) = entity["timers"]
        member = f"{timer['id']}|o-1"

        records = timers.records()
        assert list(records) == [member]
        assert records[member]["timer_id"] == timer["id"]
        assert records[member]["due"] == timer["due"]
        job = job_id("o-1", timer["id"])
        assert timers.queued() == {job: round(timer["due"] * 1000)}
        assert timers.job_exists(job)

        # The entity's own record agrees, through any process that reads it.
        seen = client.get(f"{ENTITIES}/o-1").json()
        assert seen["timers"] == entity["timers"]


def test_the_scheduler_is_the_workers_with_the_api_s_store_timeouts(
    tmp_path: Path, redis_server: PrivateRedis
) -> None:
    from pystator.scheduler import ArqScheduler

    app = create_app(
        settings(
            tmp_path,
            redis_url=redis_server.url,
            store_connect_timeout=3.0,
            store_read_timeout=4.0,
        )
    )
    scheduler = app.state.services.scheduler
    assert isinstance(scheduler, ArqScheduler)
    assert (scheduler.url, scheduler.prefix, scheduler.queue_name) == (
        redis_server.url,
        PREFIX,
        QUEUE,
    )
    assert (scheduler.connect_timeout, scheduler.read_timeout) == (3.0, 4.0)
    client = scheduler._sync_client()
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["socket_connect_timeout"], kwargs["socket_timeout"]) == (3.0, 4.0)
    app.state.services.close()


def test_without_a_redis_url_timers_are_only_recorded(tmp_path: Path) -> None:
    with api(tmp_path, None) as client:
        assert client.app.state.services.scheduler is None  # type: ignore[attr-defined]
        entity = start(client, "o-1")
        assert client.get(f"{ENTITIES}/o-1").json()["timers"] == entity["timers"]


# ---------------------------------------------------------------------------- cancelling
def test_leaving_the_state_through_the_api_cancels_the_timer(
    tmp_path: Path, redis_server: PrivateRedis, timers: RedisTimers
) -> None:
    with api(tmp_path, redis_server.url) as client:
        timer_id = start(client, "o-1")["timers"][0]["id"]
        start(client, "o-2")  # another entity's timer stays armed
        stopped = client.post(f"{ENTITIES}/o-1/events", json={"trigger": "stop"})
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["entity"]["timers"] == []

        assert [m.split("|")[1] for m in timers.records()] == ["o-2"]
        assert [j.split("|")[1] for j in timers.queued()] == ["o-2"]
        assert not timers.job_exists(job_id("o-1", timer_id))

        # Entering the state again arms a new timer (a new id), handed over too.
        again = client.post(f"{ENTITIES}/o-1/events", json={"trigger": "start"})
        new_id = again.json()["entity"]["timers"][0]["id"]
        assert new_id != timer_id
        assert job_id("o-1", new_id) in timers.queued()


def test_deleting_the_entity_through_the_api_cancels_its_timers(
    tmp_path: Path, redis_server: PrivateRedis, timers: RedisTimers
) -> None:
    with api(tmp_path, redis_server.url) as client:
        timer_id = start(client, "o-1")["timers"][0]["id"]
        start(client, "o-2")
        assert client.delete(f"{ENTITIES}/o-1").status_code == 204
        assert client.delete(f"{ENTITIES}/o-1").status_code == 404

        assert [m.split("|")[1] for m in timers.records()] == ["o-2"]
        assert [j.split("|")[1] for j in timers.queued()] == ["o-2"]
        assert not timers.job_exists(job_id("o-1", timer_id))


def test_deleting_the_machine_through_the_api_cancels_the_timers_of_its_entities(
    tmp_path: Path, redis_server: PrivateRedis, timers: RedisTimers
) -> None:
    with api(tmp_path, redis_server.url) as client:
        armed = [start(client, f"o-{n}")["timers"][0]["id"] for n in range(3)]
        assert len(timers.queued()) == 3
        assert client.delete(f"/api/v1/machines/{MACHINE}").status_code == 204

        assert timers.records() == {}
        assert timers.queued() == {}
        assert not any(timers.job_exists(job_id(f"o-{n}", t)) for n, t in enumerate(armed))


def test_a_failed_cancel_is_logged_and_the_delete_stands(
    tmp_path: Path, redis_server: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    with api(tmp_path, redis_server.url) as client:
        start(client, "o-1")
        redis_server.stop(keep_data=False)
        with caplog.at_level(logging.WARNING, logger="pystator.orchestrator"):
            assert client.delete(f"{ENTITIES}/o-1").status_code == 204
        assert client.get(f"{ENTITIES}/o-1").status_code == 404
    assert "could not cancel timers" in caplog.text
    assert "refused the connection" in caplog.text


# ---------------------------------------------------------------------------- outages
def test_an_event_armed_while_redis_is_down_is_committed_and_rearmed_later(
    tmp_path: Path,
    redis_server: PrivateRedis,
    timers: RedisTimers,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from pystator.scheduler import ArqScheduler, rearm_from_store

    with api(tmp_path, redis_server.url) as client:
        redis_server.stop(keep_data=False)
        with caplog.at_level(logging.ERROR, logger="pystator.orchestrator"):
            entity = start(client, "o-1")  # 200, with its timer recorded
        assert "scheduler failed to arm" in caplog.text
        seen = client.get(f"{ENTITIES}/o-1").json()
        assert seen["state"] == "WAITING"
        assert seen["timers"] == entity["timers"]

        redis_server.start()  # empty: nothing of the timer reached it
        assert timers.records() == {}

        # What a worker does at start-up (rearm_on_start, `pystator worker --rearm`).
        served = client.app.state.services.served(MACHINE)  # type: ignore[attr-defined]
        worker_side = ArqScheduler(redis_server.url)

        async def rearm() -> int:
            try:
                return await rearm_from_store(worker_side, served.orchestrator)
            finally:
                await worker_side.aclose()

        assert asyncio.run(rearm()) == 1
        timer_id = entity["timers"][0]["id"]
        assert timers.queued() == {
            job_id("o-1", timer_id): round(entity["timers"][0]["due"] * 1000)
        }

        # Redis answers again: the next event's timer is handed over at once.
        start(client, "o-2")
        assert len(timers.queued()) == 2


def test_a_frozen_redis_holds_an_event_no_longer_than_the_read_timeout(
    tmp_path: Path, redis_server: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    with api(tmp_path, redis_server.url, store_read_timeout=1.0) as client:
        start(client, "o-0")  # connected: the next command waits on this connection
        redis_server.freeze()
        try:
            with caplog.at_level(logging.ERROR, logger="pystator.orchestrator"):
                entity = start(client, "o-1")  # answered, not held while Redis is frozen
        finally:
            redis_server.thaw()
        assert "did not answer within 1 s" in caplog.text
        assert client.get(f"{ENTITIES}/o-1").json()["timers"] == entity["timers"]


def test_without_the_redis_extra_the_api_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``PYSTATOR_REDIS_URL`` set without arq installed: one readable error naming the extra
    (``pystator api`` prints it as one line), never a bare ``No module named``."""
    import sys

    from pystator.api.services import open_scheduler
    from pystator.api.settings import ApiSettings

    monkeypatch.setitem(sys.modules, "pystator.scheduler.arq_scheduler", None)
    settings = ApiSettings(_env_file=None, redis_url="redis://127.0.0.1:6379/0")  # type: ignore[call-arg]
    with pytest.raises(ImportError, match=r"pip install 'pystator\[redis\]'"):
        open_scheduler(settings)
