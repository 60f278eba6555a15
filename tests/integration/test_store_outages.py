"""A store that goes down: ``StoreUnavailableError`` (503 over HTTP), one log line per outage,
and the first call after the server is back succeeds; nothing lost, nothing applied twice.

Each test stops and restarts a private server of its own (``private_servers``), never the
shared ones. Every event carries a sequence number in its payload, so the history shows
whether an acknowledged event is missing or was applied twice.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from pystator import Orchestrator, StateMachine, StoreTimeoutError, StoreUnavailableError
from pystator.runtime.ports import StateStore
from tests.integration.api_app import clean_env, free_port
from tests.integration.private_servers import (
    PrivatePostgres,
    PrivateRedis,
    private_postgres,
    private_redis,
)

pytestmark = pytest.mark.slow

TICKER: dict[str, Any] = {
    "meta": {"machine_name": "ticker", "version": "1.0.0"},
    "states": [{"name": "ON", "type": "initial"}],
    "transitions": [{"trigger": "tick", "source": "ON", "dest": "ON"}],
}


@pytest.fixture
def postgres_server() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@contextmanager
def api_server(tmp_path: Path, env: dict[str, str]) -> Iterator[str]:
    """``pystator api`` in a subprocess on a free port, logging to ``server.log``; yields its
    base URL."""
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pystator", "api", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(**env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(
                    "pystator api exited:\n" + (tmp_path / "server.log").read_text()
                )
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "pystator api did not answer /health in 60 s"
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def store_for(kind: str, url: str) -> StateStore:
    if kind == "postgres":
        from pystator.stores.sql import SQLStateStore

        return SQLStateStore(url, connect_timeout=2, read_timeout=5)
    from pystator.stores.redis import RedisStateStore

    return RedisStateStore(url, connect_timeout=2, read_timeout=5)


def sequence_in_history(orchestrator: Orchestrator, entity_id: str) -> list[int]:
    """The ``seq`` of every committed event, in commit order."""
    rows = orchestrator.get_history(entity_id, limit=500)
    return [row.context_changes["seq"] for row in rows if "seq" in row.context_changes]


def outage_lines(caplog: pytest.LogCaptureFixture) -> tuple[list[str], list[str]]:
    """(outage start lines, recovery lines) logged by the stores."""
    records = [r for r in caplog.records if r.name == "pystator.stores"]
    starts = [r.getMessage() for r in records if r.getMessage().startswith("store unavailable")]
    ends = [r.getMessage() for r in records if r.getMessage().startswith("store available")]
    return starts, ends


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ],
)
def test_an_outage_through_process_event(
    kind: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    server: PrivatePostgres | PrivateRedis = request.getfixturevalue(f"{kind}_server")
    caplog.set_level(logging.INFO, logger="pystator")
    store = store_for(kind, server.url)
    orchestrator = Orchestrator(StateMachine.from_dict(TICKER), store)
    # A second thread whose kept connection stays idle through the outage.
    idle = ThreadPoolExecutor(max_workers=1)
    acknowledged: list[int] = []
    try:
        orchestrator.process_event("e1", "tick", {"seq": 1})
        acknowledged.append(1)
        idle.submit(orchestrator.process_event, "e1", "tick", {"seq": 2}).result()
        acknowledged.append(2)

        server.stop()
        for seq in (3, 4, 5, 6):
            with pytest.raises(StoreUnavailableError) as info:
                orchestrator.process_event("e1", "tick", {"seq": seq}, idempotency_key=f"k{seq}")
            error = info.value
            assert not isinstance(error, StoreTimeoutError)  # refused: no waiting
            assert "\n" not in error.message
            assert error.message.startswith(f"store unavailable: {error.target} ")
            assert str(server.port) in error.target
            assert not error.outcome_unknown  # nothing could be sent
        with pytest.raises(StoreUnavailableError):
            orchestrator.get_entity("e1")
        with pytest.raises(StoreUnavailableError):
            orchestrator.get_history("e1")
        with pytest.raises(StoreUnavailableError):
            orchestrator.list_entities()

        server.start()
        # The very first call after the restart succeeds, on a connection kept from before
        # the outage (the server closed it).
        result = idle.submit(orchestrator.process_event, "e1", "tick", {"seq": 7}).result()
        assert result.success
        acknowledged.append(7)
        # The refused events were never applied: retried with their keys, they apply once.
        for seq in (3, 4):
            assert orchestrator.process_event(
                "e1", "tick", {"seq": seq}, idempotency_key=f"k{seq}"
            ).success
            acknowledged.append(seq)
        assert sequence_in_history(orchestrator, "e1") == acknowledged
        record = orchestrator.get_entity("e1")
        assert record is not None
        assert record.version == len(acknowledged)

        starts, ends = outage_lines(caplog)
        assert len(starts) == 1, starts
        assert str(server.port) in starts[0]
        assert len(ends) == 1, ends
        assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    finally:
        idle.shutdown()
        store.close()


@pytest.mark.postgres
def test_a_postgres_outage_through_the_http_api(
    postgres_server: PrivatePostgres, tmp_path: Path
) -> None:
    env = {
        "PYSTATOR_DATABASE_URL": postgres_server.url,
        "PYSTATOR_LOG_LEVEL": "info",
        "PYSTATOR_STORE_RETRY_AFTER": "7",
    }
    with api_server(tmp_path, env) as base, httpx.Client(base_url=base, timeout=60) as api:
        assert api.post("/api/v1/machines", json={"config": TICKER}).status_code == 201
        entities = "/api/v1/machines/ticker/entities"
        assert api.post(entities, json={"entity_id": "e1"}).status_code == 201
        acknowledged: list[int] = []

        def send(seq: int) -> httpx.Response:
            return api.post(
                f"{entities}/e1/events",
                json={"trigger": "tick", "context": {"seq": seq}},
                headers={"Idempotency-Key": f"k{seq}"},
            )

        for seq in (1, 2):
            assert send(seq).status_code == 200
            acknowledged.append(seq)

        postgres_server.stop()
        answers = [
            send(3),
            send(4),
            api.get(f"{entities}/e1"),
            api.get(f"{entities}/e1/history"),
            api.get(entities),
            api.post(entities, json={"entity_id": "e2"}),
            api.get("/api/v1/machines"),
        ]
        for answer in answers:
            assert answer.status_code == 503, (answer.request.url, answer.text)
            assert answer.headers["Retry-After"] == "7"
            detail = answer.json()["detail"]
            assert detail.startswith(
                f"store unavailable: PostgreSQL at 127.0.0.1:{postgres_server.port} "
            )
            assert "\n" not in detail
        ready = api.get("/ready")
        assert ready.status_code == 503
        assert not ready.json()["database"]["ok"]
        assert ready.json()["database"]["detail"] == "postgresql: refused the connection"
        assert ready.headers["Retry-After"] == "7"
        assert api.get("/health").status_code == 200  # the process itself is alive

        postgres_server.start()
        first = send(3)  # the very first request after the restart
        assert first.status_code == 200, first.text
        acknowledged.append(3)
        assert send(3).status_code == 200  # a retry with the same key: replayed, not applied
        assert api.get("/ready").status_code == 200
        history = api.get(f"{entities}/e1/history").json()["items"]
        seqs = [row["context_changes"]["seq"] for row in history if "seq" in row["context_changes"]]
        assert seqs == acknowledged
        assert api.get(f"{entities}/e1").json()["context"]["seq"] == 3

    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log, log
    starts = [line for line in log.splitlines() if "store unavailable:" in line]
    assert len(starts) == 1, log
    assert len([line for line in log.splitlines() if "store available again" in line]) == 1, log


def test_pystator_api_that_cannot_reach_its_database_says_so_in_one_line(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres"  # nothing listens
    done = subprocess.run(
        [sys.executable, "-m", "pystator", "api", "--port", "0"],
        cwd=tmp_path,
        env=clean_env(PYSTATOR_DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: cannot start: store unavailable: PostgreSQL at "
        f"{url.split('@')[1].split('/')[0]} refused the connection; retry later"
    ], done.stderr


@pytest.mark.postgres
def test_ready_says_what_happened_and_never_where(postgres_server: PrivatePostgres) -> None:
    """A login that starts failing (its role or database renamed, its sessions ended): /ready,
    which answers anyone, gives a fixed reason and no host, port, user or database name; the
    store's 503s name the configured host and port, never the driver's text."""
    import psycopg
    from fastapi.testclient import TestClient

    from pystator.api import ApiSettings, create_app

    port = postgres_server.port
    admin_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("CREATE ROLE stator_login LOGIN")
        admin.execute("CREATE DATABASE stator_data OWNER stator_login")

    def admin_do(statement: str) -> None:
        """``statement``, with the app's sessions ended (a database in use cannot be renamed;
        kept sessions would go on working)."""
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname LIKE 'stator%' AND pid <> pg_backend_pid()"
            )
            admin.execute(statement)

    settings = ApiSettings(
        _env_file=None,
        database_url=f"postgresql+psycopg://stator_login@127.0.0.1:{port}/stator_data",
        store_connect_timeout=5,
        store_read_timeout=10,
    )
    secrets = ("stator_login", "stator_data", "stator_gone", "127.0.0.1", str(port), "FATAL")
    with TestClient(create_app(settings)) as api:
        assert api.get("/ready").status_code == 200
        for broken, repaired, reason in (
            (
                "ALTER ROLE stator_login RENAME TO stator_gone",
                "ALTER ROLE stator_gone RENAME TO stator_login",
                "authentication failed",
            ),
            (
                "ALTER DATABASE stator_data RENAME TO stator_gone",
                "ALTER DATABASE stator_gone RENAME TO stator_data",
                "database does not exist",
            ),
        ):
            admin_do(broken)
            ready = api.get("/ready")
            assert ready.status_code == 503, ready.text
            assert ready.json()["database"]["detail"] == f"postgresql: {reason}"
            assert not [s for s in secrets if s in ready.text], ready.text
            listed = api.get("/api/v1/machines")
            assert listed.status_code == 503, listed.text
            assert listed.json()["detail"] == (
                f"store unavailable: PostgreSQL at 127.0.0.1:{port} {reason}; retry later"
            )
            admin_do(repaired)
            assert api.get("/ready").status_code == 200
