"""Hand the timers recorded on entities back to a scheduler (after it lost them).

The state store is the source of truth for which timers are armed: every commit writes the
entity's armed timers (``EntityRecord.timers``) with their absolute due times. A scheduler
that lost its own copy (an ``AsyncioScheduler`` after a process restart, Redis restarted
without persistence) gets them back from there. Arming an id that the scheduler already
holds changes nothing (``RedisScheduler`` and ``ArqScheduler`` arm an id once), and a timer
that fires twice is a no-op the second time, so re-arming is safe to repeat.
"""

from __future__ import annotations

from pystator.models.entity import EntityRecord
from pystator.runtime.orchestrator import Orchestrator
from pystator.runtime.ports import Scheduler


async def rearm_from_store(
    scheduler: Scheduler, orchestrator: Orchestrator, *, page_size: int = 500
) -> int:
    """Schedule every timer armed on the entities of ``orchestrator``'s machine, as its store
    holds them; returns how many timers were handed over.

    One caveat: a timer that fired while its guard was false stays recorded on the entity
    (nothing was committed), so it fires again, and its guard is checked again.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    machine_name = orchestrator.machine_name
    armed = 0
    offset = 0
    while True:
        page = await orchestrator.store.alist_entities(machine_name, limit=page_size, offset=offset)
        records: list[EntityRecord] = list(page.items)
        for record in records:
            if record.timers:
                await scheduler.aschedule(machine_name, record.entity_id, record.timers, [])
                armed += len(record.timers)
        offset += len(records)
        if not records or offset >= page.total:
            return armed


__all__ = ["rearm_from_store"]
