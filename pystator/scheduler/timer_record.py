"""``TimerRecord``: the one type every scheduler uses for a timer it holds.

A record carries everything needed to fire the timer (machine, entity, timer id, trigger,
due time), plus the failed attempts and last error the Redis schedulers count.
``AsyncioScheduler`` keeps records in memory; ``RedisScheduler`` and ``ArqScheduler`` store
them in Redis as ``to_json()`` writes them, under the hash member ``member``. That JSON is a
stored format: records written by earlier versions must keep loading, so it does not change.

``ScheduledTimer`` is the name ``AsyncioScheduler`` used for its own record type; it stays an
alias of ``TimerRecord``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pystator.models.snapshot import TimerSnapshot


@dataclass(frozen=True, slots=True)
class TimerRecord:
    """A timer waiting in a scheduler: enough to fire it from any replica."""

    machine_name: str
    entity_id: str
    timer_id: str
    trigger: str
    due: float
    attempts: int = 0
    error: str | None = None

    @classmethod
    def armed(cls, machine_name: str, entity_id: str, timer: TimerSnapshot) -> TimerRecord:
        """The record of ``timer``, just armed on an entity of the machine (no failed
        attempt yet)."""
        return cls(machine_name, entity_id, timer.id, timer.trigger, timer.due)

    @property
    def member(self) -> str:
        """The timer's member in the Redis keys of its machine (see ``member_of``)."""
        return member_of(self.entity_id, self.timer_id)

    def to_json(self) -> str:
        """The record as Redis stores it (compact JSON; ``error`` only when set)."""
        data: dict[str, Any] = {
            "machine_name": self.machine_name,
            "entity_id": self.entity_id,
            "timer_id": self.timer_id,
            "trigger": self.trigger,
            "due": self.due,
            "attempts": self.attempts,
        }
        if self.error is not None:
            data["error"] = self.error
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> TimerRecord:
        """Read back what ``to_json`` wrote (``attempts`` and ``error`` may be absent)."""
        data = json.loads(raw)
        return cls(
            machine_name=str(data["machine_name"]),
            entity_id=str(data["entity_id"]),
            timer_id=str(data["timer_id"]),
            trigger=str(data["trigger"]),
            due=float(data["due"]),
            attempts=int(data.get("attempts", 0)),
            error=data.get("error"),
        )

    def failed(self, error: str) -> TimerRecord:
        """This record after one more failed attempt that ended with ``error``."""
        return replace(self, attempts=self.attempts + 1, error=error)


ScheduledTimer = TimerRecord
"""The former name of ``AsyncioScheduler``'s timer record; an alias, kept for imports."""


def member_of(entity_id: str, timer_id: str) -> str:
    """``<timer id>|<entity id>``: timer ids are unique per entity only."""
    # A timer id never holds '|' (state names are identifiers); the entity id comes last so
    # that it may hold anything.
    return f"{timer_id}|{entity_id}"


__all__ = ["ScheduledTimer", "TimerRecord", "member_of"]
