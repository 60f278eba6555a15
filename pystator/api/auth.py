"""Bearer tokens: HS256 JWTs (PyJWT) with a short lifetime and every claim checked.

A token is accepted only when all of these hold, and every failure is the same bare 401
(``{"detail": "not authenticated"}``), so a caller learns nothing about why:

* the header's ``alg`` is exactly ``HS256`` (``none``, ``RS256``, ``HS512``... are refused:
  no algorithm confusion), and the signature verifies with ``PYSTATOR_AUTH_SECRET``;
* ``exp``, ``iat``, ``sub``, ``aud`` and ``iss`` are present; ``aud`` and ``iss`` are ours;
  ``exp`` is in the future, ``iat`` (and ``nbf``, if present) not in the future;
* the token lives no longer than ``token_ttl_seconds`` (``exp - iat``), so a token minted
  elsewhere with the shared secret cannot outlive the configured lifetime.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from pystator.api.settings import ApiSettings

ALGORITHM = "HS256"
LEEWAY_SECONDS = 5
MAX_TOKEN_LENGTH = 4096
REQUIRED_CLAIMS = ("exp", "iat", "sub", "aud", "iss")


class InvalidTokenError(Exception):
    """The token is not acceptable (the reason stays on the server)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's subject, or ``anonymous`` when auth is off."""

    subject: str
    expires_at: float | None = None
    authenticated: bool = True


ANONYMOUS = Principal(subject="anonymous", expires_at=None, authenticated=False)


def issue_token(settings: ApiSettings, subject: str, *, now: float | None = None) -> str:
    """A signed token for ``subject``, valid for ``settings.token_ttl_seconds``."""
    if settings.auth_secret is None:
        raise RuntimeError("no auth secret is configured")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": subject,
        "iat": issued,
        "nbf": issued,
        "exp": issued + settings.token_ttl_seconds,
        "aud": settings.token_audience,
        "iss": settings.token_issuer,
    }
    return jwt.encode(claims, settings.auth_secret.get_secret_value(), algorithm=ALGORITHM)


def verify_token(settings: ApiSettings, token: str) -> Principal:
    """The principal of a valid token; ``InvalidTokenError`` otherwise."""
    if settings.auth_secret is None:
        raise InvalidTokenError("auth is off")
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise InvalidTokenError("malformed")
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise InvalidTokenError("algorithm")
        claims = jwt.decode(
            token,
            settings.auth_secret.get_secret_value(),
            algorithms=[ALGORITHM],
            audience=settings.token_audience,
            issuer=settings.token_issuer,
            leeway=LEEWAY_SECONDS,
            options={
                "require": list(REQUIRED_CLAIMS),
                "verify_signature": True,
                "verify_exp": True,
                "verify_iat": True,
                "verify_nbf": True,
                "verify_aud": True,
                "verify_iss": True,
            },
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(type(exc).__name__) from None
    subject, issued, expires = claims["sub"], claims["iat"], claims["exp"]
    if not isinstance(subject, str) or not subject or len(subject) > 200:
        raise InvalidTokenError("subject")
    if not isinstance(issued, int | float) or not isinstance(expires, int | float):
        raise InvalidTokenError("times")
    if expires - issued > settings.token_ttl_seconds + LEEWAY_SECONDS:
        raise InvalidTokenError("lifetime")
    return Principal(subject=subject, expires_at=float(expires))
