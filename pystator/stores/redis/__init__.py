"""The Redis adapter, ``RedisStateStore`` (needs the ``redis`` extra).

Modules, in reading order:

* ``store``: ``RedisStateStore``, its key layout, and how each method maps onto Redis;
* ``scripts``: the Lua scripts of the atomic writes, each with its ``KEYS`` and ``ARGV``;
* ``connections``: how commands are sent, through the client's pool (the plain path) or on a
  connection each thread keeps (the speed trick of ``load`` and ``commit``).

What a server that is down or slow becomes (``StoreUnavailableError``) lives beside this
package, in ``pystator.stores.redis_faults``: the schedulers, the worker and the API's health
check use it without the store.
"""

from __future__ import annotations

try:
    import redis  # noqa: F401  (only to say what is missing)
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("RedisStateStore needs redis-py: pip install 'pystator[redis]'") from exc

from pystator.stores.redis.store import RedisStateStore

__all__ = ["RedisStateStore"]
