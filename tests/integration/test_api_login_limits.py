"""Failed logins at ``POST /api/v1/auth/token`` are limited (issue 12, item 9).

The window runs on a ``ManualClock`` put into the app's limiter: nothing sleeps. Clients are
told apart by their address (the TestClient's ``client=``; real loopback source addresses
against the real server).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from pystator.api import ApiSettings
from pystator.api.login_limits import LoginLimiter
from pystator.runtime.clock import ManualClock
from tests.integration.api_app import (
    PASSWORD,
    SECRET,
    USERS,
    app_for,
    auth_settings,
    in_process_server,
    running_server,
)

TOKEN = "/api/v1/auth/token"
WINDOW = 600


@pytest.fixture
def app(tmp_path: Path) -> Any:
    app = app_for(
        auth_settings(
            tmp_path,
            login_window_seconds=WINDOW,
            login_user_failures=3,
            login_client_failures=8,
            login_user_ceiling=20,
        )
    )
    app.state.clock = ManualClock(5000.0)
    app.state.services.logins.clock = app.state.clock.now
    return app


@pytest.fixture
def clients(app: Any) -> Iterator[dict[str, TestClient]]:
    """Two clients of one app, at two addresses."""
    with (
        TestClient(app, client=("198.51.100.7", 5000)) as attacker,
        TestClient(app, client=("203.0.113.20", 5000)) as user,
    ):
        yield {"attacker": attacker, "user": user}


def login(client: TestClient, password: str, username: str = "alice") -> Any:
    return client.post(TOKEN, json={"username": username, "password": password})


def assert_limited(response: Any, wait: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == str(wait)
    assert response.json() == {
        "detail": f"too many failed logins: try again in {wait} seconds",
        "errors": [],
    }


def test_failed_logins_end_in_429_and_other_clients_still_log_in(
    app: Any, clients: dict[str, TestClient]
) -> None:
    attacker, user = clients["attacker"], clients["user"]
    for n in range(3):
        assert login(attacker, f"guess-{n}").status_code == 401
    assert_limited(login(attacker, "guess-3"), WINDOW)
    # The right password from the limited client is refused too (and not even checked).
    app.state.clock.advance(100)
    assert_limited(login(attacker, PASSWORD), WINDOW - 100)
    # The real user, elsewhere, is not locked out.
    answer = login(user, PASSWORD)
    assert answer.status_code == 200, answer.text
    assert answer.json()["access_token"]
    # Once the window has passed, the limited client may try again.
    app.state.clock.advance(WINDOW - 100)
    assert login(attacker, PASSWORD).status_code == 200


def test_a_client_is_limited_across_user_names(clients: dict[str, TestClient]) -> None:
    attacker, user = clients["attacker"], clients["user"]
    for n in range(8):
        assert login(attacker, "guess", username=f"user{n}").status_code == 401
    assert_limited(login(attacker, PASSWORD), WINDOW)
    assert login(user, PASSWORD).status_code == 200


def test_unknown_and_known_user_names_are_limited_alike(clients: dict[str, TestClient]) -> None:
    attacker = clients["attacker"]
    for name in ("alice", "mallory"):
        for _ in range(3):
            assert login(attacker, "guess", username=name).status_code == 401
        assert_limited(login(attacker, "guess", username=name), WINDOW)


def test_many_addresses_guessing_one_user_do_not_lock_the_user_out(app: Any) -> None:
    guessers = [TestClient(app, client=(f"192.0.2.{n}", 4000)) for n in range(11)]
    # 10 addresses x 2 failures reach alice's ceiling of 20 without reaching any pair limit.
    for guesser in guessers[:10]:
        for _ in range(2):
            assert login(guesser, "guess").status_code == 401
    # Past the ceiling, an address that has failed for alice is refused...
    for guesser in guessers[:10]:
        assert_limited(login(guesser, "guess"), WINDOW)
    # ... a fresh one gets one guess ...
    assert login(guessers[10], "guess").status_code == 401
    assert_limited(login(guessers[10], "guess"), WINDOW)
    # ... and the real user, from an address that has not failed, logs in.
    with TestClient(app, client=("203.0.113.20", 5000)) as user:
        assert login(user, PASSWORD).status_code == 200


def test_the_token_endpoint_documents_429(app: Any) -> None:
    with TestClient(app) as client:
        operation = client.get("/openapi.json").json()["paths"][TOKEN]["post"]
    assert "429" in operation["responses"]


def test_the_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYSTATOR_LOGIN_WINDOW_SECONDS", "60")
    monkeypatch.setenv("PYSTATOR_LOGIN_CLIENT_FAILURES", "7")
    monkeypatch.setenv("PYSTATOR_LOGIN_USER_FAILURES", "2")
    monkeypatch.setenv("PYSTATOR_LOGIN_USER_CEILING", "40")
    loaded = ApiSettings(_env_file=None)
    assert (
        loaded.login_window_seconds,
        loaded.login_client_failures,
        loaded.login_user_failures,
        loaded.login_user_ceiling,
    ) == (60, 7, 2, 40)
    monkeypatch.setenv("PYSTATOR_LOGIN_USER_FAILURES", "0")
    with pytest.raises(ValueError, match="login_user_failures"):
        ApiSettings(_env_file=None)


def test_password_checks_run_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a password check is in progress, the server answers other requests."""
    import pystator.api.routes.auth as auth_routes
    from pystator.api.passwords import verify_password as real_check

    entered, release = threading.Event(), threading.Event()

    def slow_check(*args: Any, **kwargs: Any) -> bool:
        entered.set()
        release.wait(timeout=60)
        return real_check(*args, **kwargs)

    monkeypatch.setattr(auth_routes, "verify_password", slow_check)
    results: list[int] = []
    with in_process_server(app_for(auth_settings(tmp_path))) as base:

        def log_in() -> None:
            answer = httpx.post(
                f"{base}{TOKEN}", json={"username": "alice", "password": PASSWORD}, timeout=60
            )
            results.append(answer.status_code)

        thread = threading.Thread(target=log_in)
        thread.start()
        try:
            assert entered.wait(timeout=60), "the login never reached the password check"
            # A check on the event loop would block this answer until the release below.
            assert httpx.get(f"{base}/health", timeout=30).status_code == 200
        finally:
            release.set()
            thread.join(timeout=60)
    assert results == [200]


def test_the_real_server_tells_clients_apart_by_their_address(tmp_path: Path) -> None:
    env = {
        "PYSTATOR_AUTH_SECRET": SECRET,
        "PYSTATOR_USERS": USERS,
        "PYSTATOR_LOGIN_USER_FAILURES": "2",
    }
    with running_server(tmp_path, env=env) as base:
        guesser = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
        with guesser, httpx.Client() as user:
            body = {"username": "alice", "password": "guess"}
            for _ in range(2):
                assert guesser.post(f"{base}{TOKEN}", json=body).status_code == 401
            limited = guesser.post(f"{base}{TOKEN}", json=body)
            assert limited.status_code == 429
            assert int(limited.headers["retry-after"]) > 0
            right = {"username": "alice", "password": PASSWORD}
            assert guesser.post(f"{base}{TOKEN}", json=right).status_code == 429
            assert user.post(f"{base}{TOKEN}", json=right).status_code == 200


def test_addresses_in_one_ipv6_64_are_one_client(app: Any) -> None:
    """An attacker rotating addresses inside its /64 is still one client."""
    for n in range(3):
        with TestClient(app, client=(f"2001:db8:7:7::{n + 1:x}", 5000)) as guesser:
            assert login(guesser, f"guess-{n}").status_code == 401
    with TestClient(app, client=("2001:db8:7:7:abcd::1", 5000)) as guesser:
        assert_limited(login(guesser, PASSWORD), WINDOW)
    # Another /64, and the IPv4-mapped form of another address, are other clients.
    with TestClient(app, client=("2001:db8:7:8::1", 5000)) as user:
        assert login(user, PASSWORD).status_code == 200
    with TestClient(app, client=("::ffff:203.0.113.20", 5000)) as user:
        assert login(user, PASSWORD).status_code == 200


def test_junk_user_names_do_not_reset_a_users_ceiling(app: Any) -> None:
    """Failing under many junk names (from many addresses) fills the limiter's tables but
    does not push out a user who reached the ceiling."""
    logins = LoginLimiter(
        window=WINDOW,
        client_failures=8,
        user_failures=3,
        user_ceiling=20,
        max_entries=30,
        clock=app.state.clock.now,
    )
    app.state.services.logins = logins
    for n in range(10):
        with TestClient(app, client=(f"192.0.2.{n}", 4000)) as guesser:
            for _ in range(2):
                assert login(guesser, "guess").status_code == 401
    # Three times the tables' size in junk names, one failure each, from 15 addresses.
    for n in range(90):
        with TestClient(app, client=(f"198.18.0.{n // 6}", 4000)) as junk:
            assert login(junk, "guess", username=f"junk{n}").status_code == 401
    assert logins.tracked() <= 90
    # Alice's ceiling holds: a fresh address gets one guess, then is refused.
    with TestClient(app, client=("192.0.2.200", 4000)) as guesser:
        assert login(guesser, "guess").status_code == 401
        assert_limited(login(guesser, "guess"), WINDOW)
    with TestClient(app, client=("192.0.2.0", 4000)) as guesser:
        assert_limited(login(guesser, "guess"), WINDOW)
