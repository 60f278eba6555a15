"""Schedulers for delayed transitions and state timeouts.

``AsyncioScheduler`` keeps timers in this process. ``RedisScheduler`` and ``ArqScheduler``
keep them in Redis, so any replica can fire them and they survive restarts; they need the
``redis`` extra (``pip install 'pystator[redis]'``) and are imported lazily.
``rearm_from_store`` hands the timers recorded on entities back to a scheduler that lost them.
``TimerRecord`` is the one timer type of this layer (``ScheduledTimer`` is its old name, kept as
an alias): ``AsyncioScheduler.pending`` lists them, and the Redis schedulers store them.
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
