"""Timers handed to the scheduler after a commit: which to arm, which to cancel, and what a
failing scheduler does (nothing to the event).

The timers of an entity are part of its record (``EntityRecord.timers``, made by the timer
rule of ``pystator.runtime.timers``); the scheduler only fires them. After a commit the
orchestrator hands it the difference between the record before and after
(``timer_changes``); a new entity's initial timers were never handed over, so all of them are
armed. A scheduler that raises is logged, never raised: the event is committed.
"""

from __future__ import annotations

import logging

from pystator.errors import StoreUnavailableError
from pystator.models.entity import EntityRecord
from pystator.models.snapshot import TimerSnapshot
from pystator.runtime.orchestration.effects import ArmTimers, Step
from pystator.runtime.ports import Scheduler

logger = logging.getLogger("pystator.orchestrator")


def timer_changes(
    before: EntityRecord, after: EntityRecord
) -> tuple[list[TimerSnapshot], list[str]]:
    """The timers to arm and the timer ids to cancel when ``before`` became ``after``
    (``before`` at version 0 is a new entity: nothing of it was handed over)."""
    scheduled = before.timers if before.version > 0 else []
    arm = [t for t in after.timers if t not in scheduled]
    cancel = [t.id for t in scheduled if t not in after.timers]
    return arm, cancel


def hand_timers(
    machine_name: str, entity_id: str, arm: list[TimerSnapshot], cancel: list[str]
) -> Step[None]:
    """Arm ``arm`` and cancel ``cancel`` with the scheduler; log (never raise) its failure."""
    try:
        yield ArmTimers(machine_name, entity_id, arm, cancel)
    except Exception as exc:
        # The transition is committed and its timers are recorded on the entity: raising
        # now would report a committed event as failed (and skip its actions). A lost arm
        # is recovered by ``rearm_from_store``; a lost cancel is harmless (stale timer).
        # A scheduler's server that is down is one line per event (the outage is its own
        # reason, and a traceback per event would flood the log); anything else is a bug
        # worth its traceback.
        outage = isinstance(exc, StoreUnavailableError)
        logger.error(
            "scheduler failed to arm %s / cancel %s for %s/%s; the transition is committed "
            "(rearm_from_store() re-arms recorded timers)%s",
            [t.id for t in arm],
            cancel,
            machine_name,
            entity_id,
            f": {exc}" if outage else "",
            exc_info=not outage,
        )


def _cancel_failed(machine_name: str, record: EntityRecord, exc: Exception) -> None:
    logger.warning(
        "could not cancel timers %s of deleted entity %s/%s (they will fire as no-ops): %s",
        [timer.id for timer in record.timers],
        machine_name,
        record.entity_id,
        " ".join(str(exc).split()) or type(exc).__name__,
    )


def cancel_deleted(scheduler: Scheduler | None, machine_name: str, record: EntityRecord) -> None:
    """Cancel, with ``scheduler``, the timers ``record`` (an entity just deleted) had armed.

    A failure is logged, never raised: the entity is deleted, and a timer of an entity that
    no longer exists fires as a no-op (the orchestrator finds no entity and changes nothing).
    """
    if scheduler is None or not record.timers:
        return
    try:
        scheduler.schedule(machine_name, record.entity_id, [], [t.id for t in record.timers])
    except Exception as exc:
        _cancel_failed(machine_name, record, exc)


async def acancel_deleted(
    scheduler: Scheduler | None, machine_name: str, record: EntityRecord
) -> None:
    """``cancel_deleted`` for asyncio."""
    if scheduler is None or not record.timers:
        return
    try:
        await scheduler.aschedule(machine_name, record.entity_id, [], [t.id for t in record.timers])
    except Exception as exc:
        _cancel_failed(machine_name, record, exc)


__all__ = ["acancel_deleted", "cancel_deleted", "hand_timers", "timer_changes"]
