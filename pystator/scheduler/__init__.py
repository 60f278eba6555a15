"""Schedulers for delayed transitions and state timeouts: the adapters of the ``Scheduler``
port (``pystator.runtime.ports``).

What lives here:

* ``asyncio_scheduler``: ``AsyncioScheduler``, timers held in this process and fired by an
  asyncio task (single process, tests);
* ``redis_scheduler``: ``RedisScheduler``, timers kept in Redis and fired by a polling loop
  in every replica; ``arq_scheduler``: ``ArqScheduler``, each timer an arq job deferred to
  its due time (fired by ``pystator worker``). Both survive restarts, share the timer records
  and Lua scripts of ``redis_timers``, and need the ``redis`` extra (``pip install
  'pystator[redis]'``): they are imported lazily;
* ``timer_record``: ``TimerRecord``, the one timer type of this layer (``ScheduledTimer`` is
  its old name, kept as an alias): ``AsyncioScheduler.pending`` lists them, and the Redis
  schedulers store them;
* ``targets``: what the schedulers share (the orchestrators they fire timers through, by
  machine name; the background task; the Redis side);
* ``rearm``: ``rearm_from_store`` hands the timers recorded on entities back to a scheduler
  that lost them.

Every scheduler follows the runtime's naming rule: ``schedule`` is the sync call and
``aschedule`` its coroutine, ``close()`` is sync and ``aclose()`` its coroutine
(``schedule_sync`` and ``close_sync``, the old names, stay as aliases for one release).
"""

from __future__ import annotations

from typing import Any

from pystator.scheduler.asyncio_scheduler import AsyncioScheduler
from pystator.scheduler.rearm import rearm_from_store
from pystator.scheduler.timer_record import ScheduledTimer, TimerRecord

__all__ = [
    "ArqScheduler",
    "AsyncioScheduler",
    "RedisScheduler",
    "ScheduledTimer",
    "TimerRecord",
    "rearm_from_store",
]


def __getattr__(name: str) -> Any:
    if name == "RedisScheduler":
        from pystator.scheduler.redis_scheduler import RedisScheduler

        return RedisScheduler
    if name == "ArqScheduler":
        from pystator.scheduler.arq_scheduler import ArqScheduler

        return ArqScheduler
    raise AttributeError(f"module 'pystator.scheduler' has no attribute {name!r}")
