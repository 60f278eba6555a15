"""Where the store tests keep their data: one isolated place per test, on every backend.

A ``StoreSpec`` is picklable, so worker processes (concurrency and crash tests) open their own
store on the same data. Isolation: SQLite uses a file in the test's ``tmp_path``; PostgreSQL a
database created for the session (see ``conftest.py``) and a table prefix per test; Redis a key
prefix per test. ``StoreBackend.cleanup`` drops what the test created.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Any

from pystator.runtime.ports import StateStore
from pystator.stores import InMemoryStateStore

POSTGRES_URL = os.environ.get(
    "PYSTATOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("PYSTATOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

KINDS = ("memory", "sqlite", "postgres", "redis")
PERSISTENT = ("sqlite", "postgres", "redis")


@dataclass(frozen=True)
class StoreSpec:
    """How to open a store on one test's data (picklable)."""

    kind: str
    url: str = ""
    prefix: str = ""

    def open(self) -> Any:
        """A new store object on this data (a memory store cannot be shared: a new one)."""
        if self.kind == "memory":
            return InMemoryStateStore()
        if self.kind in ("sqlite", "postgres"):
            from pystator.stores import SQLStateStore

            return SQLStateStore(self.url, table_prefix=self.prefix)
        if self.kind == "redis":
            from pystator.stores import RedisStateStore

            return RedisStateStore(self.url, prefix=self.prefix)
        raise ValueError(f"unknown store kind {self.kind!r}")


def unique(stem: str) -> str:
    return f"{stem}{secrets.token_hex(5)}"


class StoreBackend:
    """One test's data on one backend; ``store()`` opens stores on it, ``cleanup`` drops it."""

    def __init__(self, spec: StoreSpec) -> None:
        self.spec = spec
        self._opened: list[Any] = []
        self._memory = InMemoryStateStore() if spec.kind == "memory" else None

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def persistent(self) -> bool:
        return self.spec.kind != "memory"

    def store(self) -> StateStore:
        """A store on this test's data: the one shared object for memory, a new one else."""
        if self._memory is not None:
            return self._memory
        store = self.spec.open()
        self._opened.append(store)
        result: StateStore = store
        return result

    def cleanup(self) -> None:
        if self.spec.kind in ("sqlite", "postgres", "redis"):
            admin = self.spec.open()
            try:
                if self.spec.kind == "redis":
                    admin.clear()
                elif self.spec.kind == "postgres":
                    admin.drop_tables()
            finally:
                admin.close()
        for store in self._opened:
            store.close()
        self._opened.clear()
