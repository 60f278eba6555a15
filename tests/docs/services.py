"""Real servers for the documentation's blocks marked ``<!-- snippet: needs=redis -->`` or
``needs=postgres`` (see ``markdown_snippets``).

A block that needs a service runs when it is available, skips with that reason when it is
not, and fails when ``CI=true``. Every Redis or PostgreSQL URL written in the block
(``redis://cache.internal:6379/0``) is replaced by one the test owns, so the documentation can
show production-looking addresses:

* Redis: a ``redis-server`` started for the block on a free port and stopped after it
  (``tests/integration/private_servers.py``); ``PYSTATOR_REDIS_URL`` points there too, for
  the calls that default to it.
* PostgreSQL: a database created for the block on the test server
  (``PYSTATOR_TEST_POSTGRES_URL``) and dropped after it.
"""

from __future__ import annotations

import ast
import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from tests.conftest import require_service

SERVICES = ("redis", "postgres")
POSTGRES_URL = os.environ.get(
    "PYSTATOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def docs_redis() -> Iterator[str]:
    """The URL of a Redis server of the block's own (``private_redis``), gone afterwards: the
    blocks may write any key and nothing on the shared server is touched."""
    from tests.integration.private_servers import private_redis

    with private_redis() as server:
        yield server.url


@contextmanager
def docs_postgres() -> Iterator[str]:
    """The URL of a new PostgreSQL database for one block; dropped afterwards."""
    require_service("PostgreSQL", POSTGRES_URL, 5432)
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(POSTGRES_URL)
    admin_url = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"pystator_docs_{secrets.token_hex(5)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def services_for(needs: set[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """``{service: url}`` for every service in ``needs``, each ready for one block."""
    unknown = needs - set(SERVICES)
    assert not unknown, f"needs= names unknown services {sorted(unknown)}; known: {SERVICES}"
    with ExitStack() as stack:
        urls: dict[str, str] = {}
        if "redis" in needs:
            urls["redis"] = stack.enter_context(docs_redis())
            monkeypatch.setenv("PYSTATOR_REDIS_URL", urls["redis"])
        if "postgres" in needs:
            urls["postgres"] = stack.enter_context(docs_postgres())
        yield urls


URL_PREFIXES = {"redis": ("redis://", "rediss://"), "postgres": ("postgresql",)}


class ServiceUrls(ast.NodeTransformer):
    """Replace every Redis or PostgreSQL URL written in a block by the test's own."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, str):
            for service, url in self.urls.items():
                if node.value.startswith(URL_PREFIXES[service]) and "://" in node.value:
                    return ast.copy_location(ast.Constant(url), node)
        return node
