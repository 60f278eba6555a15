"""Fixtures for the store and orchestrator tests: every backend, each test on its own data.

* ``postgres_url`` (session): a database ``pystator_test_<random>`` created through the
  database of ``PYSTATOR_TEST_POSTGRES_URL`` and dropped at the end; tests add a table prefix.
  It runs with ``synchronous_commit = off`` (set on that database only): the tests kill
  workers, never the server, and the fsync per commit would dominate the concurrency tests.
* ``backend``: parametrised over memory, a SQLite file, PostgreSQL and Redis (markers
  ``postgres`` and ``redis``); ``persistent_backend`` over the three that outlive a process,
  ``sql_backend`` over SQLite and PostgreSQL.
  A service that is down skips the test, or fails it when ``CI=true``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_service
from tests.integration.backends import (
    POSTGRES_URL,
    REDIS_URL,
    StoreBackend,
    StoreSpec,
    unique,
)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    require_service("PostgreSQL", POSTGRES_URL, 5432)
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(POSTGRES_URL)
    admin_url = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = unique("pystator_test_")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> str:
    require_service("Redis", REDIS_URL, 6379)
    return REDIS_URL


def make_backend(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> StoreBackend:
    if kind == "memory":
        return StoreBackend(StoreSpec("memory"))
    if kind == "sqlite":
        return StoreBackend(StoreSpec("sqlite", f"sqlite:///{tmp_path / 'store.db'}", "pystator_"))
    if kind == "postgres":
        url = request.getfixturevalue("postgres_url")
        return StoreBackend(StoreSpec("postgres", url, unique("t") + "_"))
    if kind == "redis":
        url = request.getfixturevalue("redis_url")
        return StoreBackend(StoreSpec("redis", url, unique("pystator-test:") + ":"))
    raise ValueError(kind)


ALL_BACKENDS = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]
PERSISTENT_BACKENDS = ALL_BACKENDS[1:]
SQL_BACKENDS = ALL_BACKENDS[1:3]


@pytest.fixture(params=ALL_BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreBackend]:
    made = make_backend(request, request.param, tmp_path)
    try:
        yield made
    finally:
        made.cleanup()


@pytest.fixture(params=PERSISTENT_BACKENDS)
def persistent_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreBackend]:
    made = make_backend(request, request.param, tmp_path)
    try:
        yield made
    finally:
        made.cleanup()


@pytest.fixture(params=SQL_BACKENDS)
def sql_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreBackend]:
    made = make_backend(request, request.param, tmp_path)
    try:
        yield made
    finally:
        made.cleanup()
