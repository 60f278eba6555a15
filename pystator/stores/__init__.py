"""State store adapters: in-memory here; SQL and Redis load their libraries lazily.

``SQLStateStore`` needs the ``sql`` extra (``pip install 'pystator[sql]'``) and
``RedisStateStore`` the ``redis`` extra (``pip install 'pystator[redis]'``).
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
