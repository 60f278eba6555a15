"""Forged, stale and malformed bearer tokens: every one is the same bare 401.

Tokens are built by hand (base64url JSON and an HMAC), so each forgery is exactly what an
attacker could send, independent of what PyJWT would agree to produce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pystator.api.auth import issue_token, verify_token
from tests.integration.api_app import SECRET, app_for, auth_settings

AUDIENCE, ISSUER = "pystator-api", "pystator"
NOT_AUTHENTICATED = {"detail": "not authenticated", "errors": []}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def part(value: dict[str, Any]) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "alice",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "aud": AUDIENCE,
        "iss": ISSUER,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def signed(
    payload: dict[str, Any],
    *,
    key: str = SECRET,
    header: dict[str, Any] | None = None,
    digest: Callable[..., Any] = hashlib.sha256,
) -> str:
    head = header if header is not None else {"alg": "HS256", "typ": "JWT"}
    signing_input = f"{part(head)}.{part(payload)}"
    signature = hmac.new(key.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def unsigned(payload: dict[str, Any], alg: str = "none") -> str:
    return f"{part({'alg': alg, 'typ': 'JWT'})}.{part(payload)}."


def tampered() -> str:
    head, _, signature = signed(claims()).split(".")
    return f"{head}.{part(claims(sub='admin'))}.{signature}"


FORGERIES: dict[str, Callable[[], str]] = {
    "alg none": lambda: unsigned(claims()),
    "alg None": lambda: unsigned(claims(), "None"),
    "alg NONE with a signature": lambda: unsigned(claims(), "NONE") + "c2ln",
    "HS256 with a wrong key": lambda: signed(claims(), key="k" * 40),
    "HS256 with an empty key": lambda: signed(claims(), key=""),
    "alg confusion RS256 header, HMAC signature": lambda: signed(
        claims(), header={"alg": "RS256", "typ": "JWT"}
    ),
    "alg confusion ES256 header": lambda: signed(claims(), header={"alg": "ES256"}),
    "HS512 with the right key": lambda: signed(
        claims(), header={"alg": "HS512", "typ": "JWT"}, digest=hashlib.sha512
    ),
    "no alg in the header": lambda: signed(claims(), header={"typ": "JWT"}),
    "expired": lambda: signed(claims(iat=int(time.time()) - 600, exp=int(time.time()) - 60)),
    "iat in the future": lambda: signed(claims(iat=int(time.time()) + 3600)),
    "nbf in the future": lambda: signed(claims(nbf=int(time.time()) + 3600)),
    "missing exp": lambda: signed(claims(exp=...)),
    "missing iat": lambda: signed(claims(iat=...)),
    "missing sub": lambda: signed(claims(sub=...)),
    "missing aud": lambda: signed(claims(aud=...)),
    "missing iss": lambda: signed(claims(iss=...)),
    "wrong aud": lambda: signed(claims(aud="another-api")),
    "aud list without ours": lambda: signed(claims(aud=["a", "b"])),
    "wrong iss": lambda: signed(claims(iss="evil")),
    "sub not a string": lambda: signed(claims(sub=42)),
    "empty sub": lambda: signed(claims(sub="")),
    "exp not a number": lambda: signed(claims(exp="tomorrow")),
    "lifetime longer than allowed": lambda: signed(claims(exp=int(time.time()) + 7 * 86400)),
    "tampered payload": tampered,
    "signature removed": lambda: signed(claims()).rsplit(".", 1)[0] + ".",
    "truncated token": lambda: signed(claims())[:-10],
    "two segments": lambda: ".".join(signed(claims()).split(".")[:2]),
    "four segments": lambda: signed(claims()) + ".x",
    "garbage": lambda: "this-is-not-a-token",
    "garbage with dots": lambda: "a.b.c",
    "oversized": lambda: signed(claims(pad="x" * 5000)),
    "header not JSON": lambda: b64(b"{not json") + "." + part(claims()) + ".sig",
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp: Path = tmp_path_factory.mktemp("jwt")
    with TestClient(app_for(auth_settings(tmp))) as c:
        yield c


def test_there_are_at_least_twelve_kinds() -> None:
    assert len(FORGERIES) >= 12


def test_a_genuine_token_is_accepted(client: TestClient) -> None:
    response = client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {signed(claims())}"}
    )
    assert response.status_code == 200
    assert response.json()["username"] == "alice"


@pytest.mark.parametrize("kind", list(FORGERIES))
def test_forgery_is_401_without_details(client: TestClient, kind: str) -> None:
    token = FORGERIES[kind]()
    for path in ("/api/v1/auth/me", "/api/v1/machines"):
        response = client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (kind, response.text)
        assert response.json() == NOT_AUTHENTICATED
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Basic YWxpY2U6cGFzc3dvcmQ=",
        "Token {token}",
        "{token}",
        "Bearer {token} {token}",
        "",
    ],
)
def test_malformed_authorization_headers_are_401(client: TestClient, header: str) -> None:
    value = header.format(token=signed(claims()))
    response = client.get("/api/v1/machines", headers={"Authorization": value})
    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED


def test_no_header_is_401(client: TestClient) -> None:
    response = client.get("/api/v1/machines")
    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED


def test_issued_tokens_carry_every_required_claim(tmp_path: Path) -> None:
    configured = auth_settings(tmp_path)
    token = issue_token(configured, "alice")
    head, payload, _ = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert {"exp", "iat", "sub", "aud", "iss"} <= set(decoded)
    assert decoded["exp"] - decoded["iat"] == configured.token_ttl_seconds
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    assert header["alg"] == "HS256"
    assert verify_token(configured, token).subject == "alice"


def test_a_token_expires_after_its_lifetime(tmp_path: Path) -> None:
    from pystator.api.auth import InvalidTokenError

    configured = auth_settings(tmp_path, token_ttl_seconds=60)
    old = issue_token(configured, "alice", now=time.time() - 120)
    with pytest.raises(InvalidTokenError):
        verify_token(configured, old)


def test_a_token_of_another_secret_is_refused(tmp_path: Path) -> None:
    from pystator.api.auth import InvalidTokenError

    other = auth_settings(tmp_path, auth_secret="z" * 48)
    with pytest.raises(InvalidTokenError):
        verify_token(auth_settings(tmp_path), issue_token(other, "alice"))
