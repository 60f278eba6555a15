"""Password hashes of the API's token users: PBKDF2, salted, parsed without echoing secrets."""

from __future__ import annotations

import pytest

from pystator.api.passwords import hash_password, iterations_of, parse_users, verify_password


def test_hash_and_verify() -> None:
    encoded = hash_password("s3cret", iterations=1000)
    assert encoded.startswith("pbkdf2_sha256$1000$")
    assert iterations_of(encoded) == 1000
    assert verify_password("s3cret", encoded)
    assert not verify_password("s3cret ", encoded)
    assert not verify_password("", encoded)


def test_hashes_are_salted() -> None:
    assert hash_password("same", iterations=1000) != hash_password("same", iterations=1000)


def test_an_unknown_user_never_verifies() -> None:
    assert not verify_password("anything", None, dummy_iterations=1000)


def test_overlong_passwords_are_refused() -> None:
    encoded = hash_password("x", iterations=1000)
    assert not verify_password("x" * 5000, encoded)
    with pytest.raises(ValueError, match="1 to 1024"):
        hash_password("x" * 5000)


def test_parse_users() -> None:
    a, b = hash_password("a", iterations=1000), hash_password("b", iterations=1000)
    assert parse_users(f" alice:{a} , bob@example.com:{b},") == {
        "alice": a,
        "bob@example.com": b,
    }


@pytest.mark.parametrize(
    "text",
    [
        "alice",
        "alice:plain-password",
        "alice:pbkdf2_sha256$x$salt$digest",
        "al ice:pbkdf2_sha256$1000$c2FsdA$" + "A" * 43,
        "alice:pbkdf2_sha256$1000$c2FsdA$short",
    ],
)
def test_malformed_users_are_refused_without_echo(text: str) -> None:
    with pytest.raises(ValueError, match="entry 1") as caught:
        parse_users(text)
    assert "plain-password" not in str(caught.value)


def test_a_user_listed_twice() -> None:
    encoded = hash_password("a", iterations=1000)
    with pytest.raises(ValueError, match="twice"):
        parse_users(f"alice:{encoded},alice:{encoded}")
