"""Schedulers for delayed transitions and state timeouts.

``AsyncioScheduler`` keeps timers in this process. ``RedisScheduler`` and ``ArqScheduler``
keep them in Redis, so any replica can fire them and they survive restarts; they need the
``redis`` extra (``pip install 'pystator[redis]'``) and are imported lazily.
``rearm_from_store`` hands the timers recorded on entities back to a scheduler that lost them.
"""

from __future__ import annotations

from typing import Any

from pystator.scheduler.asyncio_scheduler import AsyncioScheduler, ScheduledTimer
from pystator.scheduler.rearm import rearm_from_store

__all__ = [
    "ArqScheduler",
    "AsyncioScheduler",
    "RedisScheduler",
    "ScheduledTimer",
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
