"""One log line when a store stops answering, and one when it answers again.

A store that is down fails every call; a traceback per failed request buries the log. The
stores report each failure to the ``Availability`` of their backend instead: the first failure
of an outage is logged as one warning line, the following ones are only counted, and the first
call that succeeds afterwards logs one line with how long the outage lasted and how many calls
failed. There is one ``Availability`` per backend (``target``, e.g. ``"PostgreSQL at
127.0.0.1:5432"``) in a process, shared by every store, engine and scheduler that talks to it,
so an outage seen by several of them is still one line.

Also the timeouts every store and scheduler uses unless told otherwise.
"""

from __future__ import annotations

import logging
import threading
import time

from pystator.errors import StoreUnavailableError

logger = logging.getLogger("pystator.stores")

DEFAULT_CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a connection to a database or Redis server."""
DEFAULT_READ_TIMEOUT = 10.0
"""Seconds to wait for the answer to one statement or command."""


def check_timeout(name: str, value: float | None) -> float | None:
    """``value`` if it is a usable timeout (``None``: no limit); ``ValueError`` otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a number of seconds > 0 (or None), got {value!r}")
    return float(value)


class Availability:
    """Whether a backend answers, as the calls made to it found out; logs the changes."""

    __slots__ = ("_failures", "_lock", "_since", "down", "target")

    def __init__(self, target: str) -> None:
        self.target = target
        self.down = False
        """True from a failed call until the next call that succeeds."""
        self._lock = threading.Lock()
        self._since = 0.0
        self._failures = 0

    def failed(self, error: StoreUnavailableError) -> None:
        """A call failed because the backend is unavailable; logged if it was up until now."""
        with self._lock:
            self._failures += 1
            if self.down:
                return
            self.down = True
            self._since = time.monotonic()
            self._failures = 1
        logger.warning(
            "store unavailable: %s %s (further failures are not logged until it answers again)",
            error.target or self.target,
            error.reason or "failed",
        )

    def answered(self) -> None:
        """A call succeeded; logs the end of an outage. Cheap when nothing was down."""
        if not self.down:
            return
        with self._lock:
            if not self.down:
                return
            self.down = False
            lasted = time.monotonic() - self._since
            failures = self._failures
        logger.info(
            "store available again: %s (unavailable for %.1f s, %d failed call%s)",
            self.target,
            lasted,
            failures,
            "" if failures == 1 else "s",
        )


_BACKENDS: dict[str, Availability] = {}
_BACKENDS_LOCK = threading.Lock()


def availability(target: str) -> Availability:
    """The ``Availability`` of ``target``, the same object for every caller in the process."""
    found = _BACKENDS.get(target)
    if found is None:
        with _BACKENDS_LOCK:
            found = _BACKENDS.setdefault(target, Availability(target))
    return found


def seconds(value: float) -> str:
    """A timeout as the messages write it: ``10 s``, ``0.5 s``."""
    return f"{value:g} s"


__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "Availability",
    "availability",
    "check_timeout",
    "seconds",
]
