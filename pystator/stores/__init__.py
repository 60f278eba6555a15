"""State store adapters: the implementations of the ``StateStore`` port
(``pystator.runtime.ports``).

What lives here:

* ``memory``: ``InMemoryStateStore``, the plain reference adapter (tests, single-process
  apps), with its one speed trick fenced in ``frozen_records`` (records kept as ``marshal``
  blobs, beside the ``copy.deepcopy`` twin);
* ``sql`` (a package: tables, rows, statements, connections, faults, store, catalog):
  ``SQLStateStore`` on SQLite or PostgreSQL, and ``SQLMachineCatalog``, the API's stored
  machines. Needs the ``sql`` extra (``pip install 'pystator[sql]'``);
* ``redis`` (a package: store, scripts, connections): ``RedisStateStore``, every atomic write
  one Lua script. Needs the ``redis`` extra (``pip install 'pystator[redis]'``);
* backends that fail: ``availability`` (default timeouts, and one log line per outage) and
  ``redis_faults`` (what a Redis that is down, slow or frozen becomes, for the Redis store and
  schedulers); the SQL store's own is ``sql.faults``.

The SQL and Redis stores load their libraries lazily: ``import pystator.stores`` needs
neither.
"""

from __future__ import annotations

from typing import Any

from pystator.stores.memory import InMemoryStateStore

__all__ = ["InMemoryStateStore", "RedisStateStore", "SQLStateStore"]


def __getattr__(name: str) -> Any:
    if name == "SQLStateStore":
        from pystator.stores.sql import SQLStateStore

        return SQLStateStore
    if name == "RedisStateStore":
        from pystator.stores.redis import RedisStateStore

        return RedisStateStore
    raise AttributeError(f"module 'pystator.stores' has no attribute {name!r}")
