"""Clocks: time is an argument, never read inside the engine.

A ``Clock`` returns seconds as a float. Sessions and schedulers take one so that tests can
move time by hand (``ManualClock``) instead of sleeping.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """A source of the current time in seconds."""

    def now(self) -> float: ...


class SystemClock:
    """Wall-clock time (``time.time()``): due times survive a restart of the process."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to: ``advance(seconds)`` or ``set(t)``."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (not backwards); returns the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards: seconds must be >= 0")
        self._now += seconds
        return self._now

    def set(self, now: float) -> None:
        if now < self._now:
            raise ValueError("a clock does not go backwards")
        self._now = float(now)


SYSTEM_CLOCK = SystemClock()
