"""The one timer rule of the runtime: which timers an entity has armed after a step.

The engine only says which timers to arm and which to cancel (``TimerSpec`` keys, in
``TransitionResult.timers_to_arm`` and ``timers_to_cancel``); time is data to it. The runtime
turns an order to arm into a ``TimerSnapshot``, the record of one arming, with:

* an id ``"<key>@<token>"``, where the token counts the transitions the entity has taken when
  the timer is armed (the orchestrator's entity version, the session's step). A state left and
  entered again arms a timer with a new id, so a fire meant for the earlier visit is told
  apart (it is stale);
* a due time ``now + delay``, in the clock's seconds.

After a step, the timers still armed are the earlier ones whose key was not cancelled (and not
the one that fired), then the new ones. The orchestrator builds every entity record through
here (``runtime/orchestration/commit.py``), and an ``EntitySession`` arms and cancels its
timers through here too (its token is its step count), so both keep the same records.
"""

from __future__ import annotations

from collections.abc import Iterable

from pystator.models.result import TimerSpec, TransitionResult
from pystator.models.snapshot import TimerSnapshot


def timer_id(key: str, token: int) -> str:
    """The id of one arming of the timer ``key``: ``"<key>@<token>"``, ``token`` being the
    transitions taken when it is armed."""
    return f"{key}@{token}"


def due_at(spec: TimerSpec, now: float) -> float:
    """When a timer armed at ``now`` (seconds) is due."""
    return now + spec.delay_ms / 1000.0


def armed(specs: Iterable[TimerSpec], *, now: float, token: int) -> list[TimerSnapshot]:
    """The records of the timers ``specs`` armed at ``now`` by the transition ``token``."""
    return [
        TimerSnapshot(
            id=timer_id(spec.key, token),
            key=spec.key,
            trigger=spec.trigger,
            due=due_at(spec, now),
        )
        for spec in specs
    ]


def still_armed(
    current: Iterable[TimerSnapshot], cancel: Iterable[str], *, fired: str | None = None
) -> list[TimerSnapshot]:
    """The timers of ``current`` a step leaves armed: those whose key it did not cancel
    (``cancel``: ``TransitionResult.timers_to_cancel``) and whose id is not ``fired`` (the
    timer that sent the event, if one did)."""
    cancelled = set(cancel)
    return [t for t in current if t.key not in cancelled and t.id != fired]


def timers_after(
    current: Iterable[TimerSnapshot],
    result: TransitionResult,
    *,
    now: float,
    token: int,
    fired: str | None = None,
) -> list[TimerSnapshot]:
    """The timers armed after ``result``: those of ``current`` it left armed
    (``still_armed``), then the ones it armed, with the token ``token``."""
    timers = still_armed(current, result.timers_to_cancel, fired=fired)
    timers.extend(armed(result.timers_to_arm, now=now, token=token))
    return timers


__all__ = ["armed", "due_at", "still_armed", "timer_id", "timers_after"]
