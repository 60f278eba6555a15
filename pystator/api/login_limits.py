"""Failed logins at ``POST /api/v1/auth/token``, limited per client and per user name.

Three counters, each over a window of ``login_window_seconds`` that starts at the first
failure it counts (a limited caller waits until that window ends: ``Retry-After``):

* per client (the IP address the server sees): ``login_client_failures`` failures, whatever
  the user names. Stops one address from trying many passwords or many users.
* per (user name, client): ``login_user_failures`` failures. Stops one address from guessing
  one user's password, without touching that user's logins from anywhere else: a guesser on
  one address cannot lock the real user out on another.
* per user name, all clients together: ``login_user_ceiling`` failures (much higher). Past it
  (many addresses guessing one user), a client that has failed for that user in the window is
  refused; a client with no failure for that user may still try. So a spread-out attack gets
  one guess per fresh address and window, while the real user, from an address that has not
  failed, still logs in.

An attempt is counted as a failure when it starts, before the password is checked, and
refunded when it succeeds: many requests sent at once cannot all slip past the limit while
the first ones are being checked, and a refused request costs no password hashing. The
answer is the same for every limit (a 429 that does not say which), and unknown user names
are counted like known ones, so the limits do not tell which users exist.

The counters are kept in this process's memory (each replica counts on its own) and are
bounded: each table holds at most ``max_entries`` keys, the oldest windows evicted first
(expired ones on every attempt).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(slots=True)
class _Count:
    start: float
    failures: int


class _Table:
    """Failure counts by key, each over a window from its first failure; insertion order is
    the order of the windows' starts, so the oldest (and the expired) are at the front."""

    def __init__(self, window: float, max_entries: int) -> None:
        self.window = window
        self.max_entries = max_entries
        self.items: dict[Hashable, _Count] = {}

    def __len__(self) -> int:
        return len(self.items)

    def get(self, key: Hashable, now: float) -> _Count | None:
        """The key's count in a window that has not ended, or ``None``."""
        count = self.items.get(key)
        if count is None or now >= count.start + self.window:
            return None
        return count

    def add(self, key: Hashable, now: float) -> None:
        count = self.get(key, now)
        if count is not None:
            count.failures += 1
            return
        self.items.pop(key, None)  # an ended window: the key moves to the back
        self.items[key] = _Count(now, 1)
        self._evict(now)

    def refund(self, key: Hashable, now: float) -> None:
        count = self.get(key, now)
        if count is not None and count.failures > 0:
            count.failures -= 1

    def drop(self, key: Hashable) -> None:
        self.items.pop(key, None)

    def _evict(self, now: float) -> None:
        items = self.items
        while items:
            key = next(iter(items))
            if now < items[key].start + self.window and len(items) <= self.max_entries:
                return
            del items[key]


class LoginLimiter:
    """Counts failed logins per client, per (user, client) and per user; see the module
    docstring. Thread-safe. ``clock`` (monotonic seconds) may be replaced, e.g. by a test's
    ``ManualClock().now``."""

    def __init__(
        self,
        *,
        window: float,
        client_failures: int,
        user_failures: int,
        user_ceiling: int,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window <= 0:
            raise ValueError("window must be > 0 seconds")
        if min(client_failures, user_failures, user_ceiling, max_entries) < 1:
            raise ValueError("limits and max_entries must be >= 1")
        self.window = window
        self.client_failures = client_failures
        self.user_failures = user_failures
        self.user_ceiling = user_ceiling
        self.clock = clock
        self._clients = _Table(window, max_entries)
        self._pairs = _Table(window, max_entries)
        self._users = _Table(window, max_entries)
        self._lock = threading.Lock()

    def attempt(self, user: str, client: str) -> int | None:
        """Start a login: ``None`` if it may go on (it is counted as a failure until
        ``succeeded`` refunds it), else the seconds to wait (``Retry-After``, at least 1)."""
        with self._lock:
            now = self.clock()
            wait = self._blocked_until(user, client, now)
            if wait is not None:
                return max(1, math.ceil(wait - now))
            self._clients.add(client, now)
            self._pairs.add((user, client), now)
            self._users.add(user, now)
            return None

    def succeeded(self, user: str, client: str) -> None:
        """The login started by ``attempt`` succeeded: refund it, and forget this client's
        earlier failures for this user."""
        with self._lock:
            now = self.clock()
            self._clients.refund(client, now)
            self._users.refund(user, now)
            self._pairs.drop((user, client))

    def tracked(self) -> int:
        """How many keys the three tables hold (bounded by ``3 * max_entries``)."""
        with self._lock:
            return len(self._clients) + len(self._pairs) + len(self._users)

    def _blocked_until(self, user: str, client: str, now: float) -> float | None:
        ends: list[float] = []
        by_client = self._clients.get(client, now)
        if by_client is not None and by_client.failures >= self.client_failures:
            ends.append(by_client.start + self.window)
        pair = self._pairs.get((user, client), now)
        if pair is not None and pair.failures >= self.user_failures:
            ends.append(pair.start + self.window)
        by_user = self._users.get(user, now)
        if (
            by_user is not None
            and by_user.failures >= self.user_ceiling
            and pair is not None
            and pair.failures > 0
        ):
            # Refused until the user's window ends or this client's record is clean again.
            ends.append(min(by_user.start, pair.start) + self.window)
        return max(ends) if ends else None


__all__ = ["LoginLimiter"]
