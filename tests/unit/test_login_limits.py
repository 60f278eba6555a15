"""``LoginLimiter``: failed logins per client, per (user, client) and per user (manual clock)."""

from __future__ import annotations

from typing import Any

import pytest

from pystator.api.login_limits import LoginLimiter
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
