"""``LoginLimiter``: failed logins per client, per (user, client) and per user (manual clock)."""

from __future__ import annotations

from typing import Any

import pytest

from pystator.api.login_limits import LoginLimiter, client_key
from pystator.runtime.clock import ManualClock


def limiter(clock: ManualClock, **overrides: int) -> LoginLimiter:
    limits = {"client_failures": 10, "user_failures": 3, "user_ceiling": 6, **overrides}
    return LoginLimiter(window=60, clock=clock.now, **limits)


def fail(logins: LoginLimiter, user: str, client: str, times: int = 1) -> None:
    for _ in range(times):
        assert logins.attempt(user, client) is None


def test_a_user_and_client_pair_is_limited_then_released_after_the_window() -> None:
    clock = ManualClock(1000.0)
    logins = limiter(clock)
    fail(logins, "alice", "10.0.0.1", 3)
    clock.advance(20)
    assert logins.attempt("alice", "10.0.0.1") == 40  # the window began at the first failure
    # Another client, and another user from this client, are not affected.
    assert logins.attempt("alice", "10.0.0.2") is None
    assert logins.attempt("bob", "10.0.0.1") is None
    clock.advance(39.5)
    assert logins.attempt("alice", "10.0.0.1") == 1  # never 0: at least one second
    clock.advance(0.5)
    assert logins.attempt("alice", "10.0.0.1") is None


def test_a_client_is_limited_across_user_names() -> None:
    clock = ManualClock()
    logins = limiter(clock)
    for n in range(10):
        fail(logins, f"user{n}", "10.0.0.1")
    assert logins.attempt("someone-else", "10.0.0.1") == 60
    assert logins.attempt("user0", "10.0.0.2") is None


def test_a_success_is_refunded_and_clears_the_pair() -> None:
    clock = ManualClock()
    logins = limiter(clock)
    fail(logins, "alice", "10.0.0.1", 2)
    assert logins.attempt("alice", "10.0.0.1") is None
    logins.succeeded("alice", "10.0.0.1")
    # The pair starts afresh: three more failures before the limit.
    fail(logins, "alice", "10.0.0.1", 3)
    assert logins.attempt("alice", "10.0.0.1") is not None


def test_successes_do_not_use_up_the_client_limit() -> None:
    clock = ManualClock()
    logins = limiter(clock, client_failures=2)
    for _ in range(5):
        assert logins.attempt("alice", "10.0.0.1") is None
        logins.succeeded("alice", "10.0.0.1")
    fail(logins, "alice", "10.0.0.1", 2)
    assert logins.attempt("alice", "10.0.0.1") is not None


def test_past_the_user_ceiling_only_clients_without_failures_may_try() -> None:
    clock = ManualClock()
    logins = limiter(clock)
    # Three addresses, two failures each: no pair reaches its limit of 3, the user's
    # ceiling of 6 is reached.
    for client in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        fail(logins, "alice", client, 2)
    for client in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert logins.attempt("alice", client) == 60
    # The real user, from an address that has not failed, still logs in.
    assert logins.attempt("alice", "192.168.1.5") is None
    logins.succeeded("alice", "192.168.1.5")
    # A fresh address gets one try; once it fails, it is refused too.
    fail(logins, "alice", "10.0.0.4")
    assert logins.attempt("alice", "10.0.0.4") == 60
    # Other users are not affected.
    assert logins.attempt("bob", "10.0.0.1") is None


def test_memory_is_bounded() -> None:
    clock = ManualClock()
    logins = LoginLimiter(
        window=60,
        client_failures=5,
        user_failures=5,
        user_ceiling=50,
        max_entries=100,
        clock=clock.now,
    )
    for n in range(1000):
        logins.attempt(f"user{n}", f"10.0.{n // 256}.{n % 256}")
    assert logins.tracked() <= 300
    # Expired windows are dropped as new failures come in.
    clock.advance(61)
    logins.attempt("alice", "10.9.9.9")
    assert logins.tracked() == 3


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::1", "::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("::ffff:c633:6407", "198.51.100.7"),
        ("testclient", "testclient"),
        ("unknown", "unknown"),
        ("", ""),
    ],
)
def test_client_keys(host: str, key: str) -> None:
    assert client_key(host) == key


def test_addresses_in_one_ipv6_64_share_the_client_and_pair_limits() -> None:
    clock = ManualClock()
    logins = limiter(clock)
    # A new address in the same /64 for every failure: the pair limit (3) still holds ...
    for n in range(3):
        fail(logins, "alice", f"2001:db8:0:1::{n + 1:x}")
    assert logins.attempt("alice", "2001:db8:0:1:ffff::99") == 60
    # ... and so does the client limit (10), across user names.
    for n in range(7):
        fail(logins, f"user{n}", f"2001:db8:0:1::{n + 100:x}")
    assert logins.attempt("bob", "2001:db8:0:1:1234::1") == 60
    # The next /64 is another client.
    assert logins.attempt("alice", "2001:db8:0:2::1") is None


def test_an_ipv4_mapped_address_is_its_ipv4_address() -> None:
    clock = ManualClock()
    logins = limiter(clock)
    fail(logins, "alice", "198.51.100.7", 2)
    fail(logins, "alice", "::ffff:198.51.100.7")
    assert logins.attempt("alice", "198.51.100.7") == 60
    # A success from the mapped form clears the pair for the plain form too.
    clock.advance(60)
    assert logins.attempt("alice", "::ffff:198.51.100.7") is None
    logins.succeeded("alice", "::ffff:198.51.100.7")
    fail(logins, "alice", "198.51.100.7", 3)
    assert logins.attempt("alice", "198.51.100.7") is not None


def junk(logins: LoginLimiter, failures: int, prefix: str = "10.200") -> None:
    """``failures`` failures, each under a new user name, from enough fresh addresses to stay
    under the client limit (at most 10 failures an address)."""
    for n in range(failures):
        address = f"{prefix}.{n // 10 // 256}.{n // 10 % 256}"
        assert logins.attempt(f"junk{n}", address) is None


def test_junk_user_names_do_not_evict_a_user_past_the_ceiling() -> None:
    clock = ManualClock()
    logins = LoginLimiter(
        window=60,
        client_failures=10,
        user_failures=3,
        user_ceiling=6,
        max_entries=100,
        clock=clock.now,
    )
    for client in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        fail(logins, "alice", client, 2)
    assert logins.attempt("alice", "10.0.0.1") == 60
    # Ten times the table's size in single failures under junk names, from 100 addresses.
    clock.advance(10)
    junk(logins, 1000)
    assert logins.tracked() <= 300
    # Alice's ceiling still holds: the addresses that failed for her are still refused ...
    for client in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert logins.attempt("alice", client) == 50
    # ... and a fresh address gets one guess, not a fresh ceiling.
    fail(logins, "alice", "10.0.0.9")
    assert logins.attempt("alice", "10.0.0.9") == 50


def test_a_client_near_its_limit_is_not_reset_by_junk_clients() -> None:
    clock = ManualClock()
    logins = LoginLimiter(
        window=60,
        client_failures=3,
        user_failures=3,
        user_ceiling=1000,
        max_entries=20,
        clock=clock.now,
    )
    fail(logins, "a", "198.51.100.7")
    fail(logins, "b", "198.51.100.7")
    # 200 fresh addresses, one failure each: the oldest key, with two failures, stays.
    for n in range(200):
        fail(logins, f"junk{n}", f"10.1.{n // 256}.{n % 256}")
    fail(logins, "c", "198.51.100.7")
    assert logins.attempt("d", "198.51.100.7") == 60


def test_a_table_full_of_limited_keys_evicts_the_oldest_to_take_a_new_key() -> None:
    clock = ManualClock()
    logins = LoginLimiter(
        window=60,
        client_failures=1,
        user_failures=100,
        user_ceiling=100,
        max_entries=3,
        clock=clock.now,
    )
    for n in range(1, 4):
        fail(logins, f"user{n}", f"10.0.0.{n}")
        clock.advance(1)
    # Every client key is at its limit; a new client is still counted (and limited) ...
    fail(logins, "user4", "10.0.0.4")
    assert logins.attempt("user4", "10.0.0.4") == 60
    # ... the others are still limited, and the oldest limited client made room.
    assert logins.attempt("user2", "10.0.0.2") == 58
    assert logins.attempt("user3", "10.0.0.3") == 59
    assert logins.attempt("user1", "10.0.0.1") is None
    assert logins.tracked() <= 9


@pytest.mark.parametrize(
    "bad",
    [
        {"window": 0},
        {"client_failures": 0},
        {"user_failures": 0},
        {"user_ceiling": 0},
        {"max_entries": 0},
    ],
)
def test_bad_limits_are_refused(bad: dict[str, int]) -> None:
    values: dict[str, Any] = {
        "window": 60,
        "client_failures": 1,
        "user_failures": 1,
        "user_ceiling": 1,
        **bad,
    }
    with pytest.raises(ValueError, match="must be"):
        LoginLimiter(**values)
