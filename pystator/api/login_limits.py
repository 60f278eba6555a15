"""Failed logins at ``POST /api/v1/auth/token``, limited per client and per user name.

Three counters, each over a window of ``login_window_seconds`` that starts at the first
failure it counts (a limited caller waits until that window ends: ``Retry-After``):

* per client: ``login_client_failures`` failures, whatever the user names. Stops one address
  from trying many passwords or many users. The client is the IP address the server sees; an
  IPv6 address counts as its whole /64 (one host is usually given a /64 and may pick any
  address in it), an IPv4-mapped IPv6 address as its IPv4 address (``client_key``).
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
bounded: each table holds at most ``max_entries`` keys. To make room for a new key, the
expired keys go first, then the key with the fewest failures (to a factor of two; the oldest
among equals), so a key at or over its limit goes only once every key of the table is: junk
failures (one each, under many new names) cannot push out a limited client or a user past
its ceiling. Evicting a key with ``n`` failures takes a table full of keys with at least
about ``n / 2`` each, that is ``max_entries * n / 2`` failures, far more guesses than the
eviction could win back; so a table full of limited keys still takes new keys (evicting the
oldest limited one) rather than refusing everyone new or letting new keys go uncounted.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass


def client_key(host: str) -> str:
    """The key a client's failures are counted under: an IPv4 address as itself, an IPv6
    address as its /64 network (``2001:db8:1:2::/64``), an IPv4-mapped IPv6 address as its
    IPv4 address, and anything that is not an IP address (``testclient``) as it is."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))


@dataclass(slots=True)
class _Count:
    start: float
    failures: int
    tier: int


class _Table:
    """Failure counts by key, each over a window from its first failure, at most
    ``max_entries`` keys.

    The keys are kept in tiers by their count: tier ``k`` holds the counts from ``2**k`` to
    ``2**(k + 1) - 1`` that are under ``limit`` (tier 0 also holds a count refunded to 0), the
    last tier the counts at or over ``limit``. Each tier is in the order its keys entered it,
    which is about the order of their windows' starts: its expired keys are at the front, and
    room is made by evicting the front key of the lowest tier that has one. Every operation
    is O(1), or O(number of tiers) (at most 21) to make room."""

    def __init__(self, window: float, limit: int, max_entries: int) -> None:
        self.window = window
        self.limit = limit
        self.max_entries = max_entries
        self.items: dict[Hashable, _Count] = {}
        self.top = (limit - 1).bit_length()
        self.tiers: list[OrderedDict[Hashable, None]] = [OrderedDict() for _ in range(self.top + 1)]

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
            self._place(key, count)
            return
        self.drop(key)  # an ended window: the key starts a new one
        self._drop_expired(now)
        if len(self.items) >= self.max_entries:
            self._evict_one()
        count = _Count(now, 1, self._tier(1))
        self.items[key] = count
        self.tiers[count.tier][key] = None

    def refund(self, key: Hashable, now: float) -> None:
        count = self.get(key, now)
        if count is not None and count.failures > 0:
            count.failures -= 1
            self._place(key, count)

    def drop(self, key: Hashable) -> None:
        count = self.items.pop(key, None)
        if count is not None:
            del self.tiers[count.tier][key]

    def _tier(self, failures: int) -> int:
        if failures >= self.limit:
            return self.top
        return max(failures.bit_length() - 1, 0)

    def _place(self, key: Hashable, count: _Count) -> None:
        """Move the key to the back of the tier its count now belongs to, if it changed."""
        tier = self._tier(count.failures)
        if tier != count.tier:
            del self.tiers[count.tier][key]
            self.tiers[tier][key] = None
            count.tier = tier

    def _drop_expired(self, now: float) -> None:
        for tier in self.tiers:
            while tier:
                key = next(iter(tier))
                if now < self.items[key].start + self.window:
                    break
                tier.popitem(last=False)
                del self.items[key]

    def _evict_one(self) -> None:
        for tier in self.tiers:
            if tier:
                key, _ = tier.popitem(last=False)
                del self.items[key]
                return


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
        self._clients = _Table(window, client_failures, max_entries)
        self._pairs = _Table(window, user_failures, max_entries)
        self._users = _Table(window, user_ceiling, max_entries)
        self._lock = threading.Lock()

    def attempt(self, user: str, client: str) -> int | None:
        """Start a login from ``client`` (the address the server sees, keyed by
        ``client_key``): ``None`` if it may go on (it is counted as a failure until
        ``succeeded`` refunds it), else the seconds to wait (``Retry-After``, at least 1)."""
        client = client_key(client)
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
        client = client_key(client)
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


__all__ = ["LoginLimiter", "client_key"]
