"""Password hashes for the token endpoint's users: PBKDF2-HMAC-SHA256 from the standard library.

A hash reads ``pbkdf2_sha256$<iterations>$<salt>$<digest>`` (salt and digest in unpadded
URL-safe base64), the form Django and passlib use. ``PYSTATOR_USERS`` holds
``name:HASH`` pairs separated by commas; plain passwords are never configured or logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

ALGORITHM = "pbkdf2_sha256"
DEFAULT_ITERATIONS = 600_000
"""OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256."""
MAX_ITERATIONS = 10_000_000
MAX_PASSWORD_LENGTH = 1024
_USER_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,100}$")
# The salt of the stand-in check made for an unknown user.
_DUMMY_SALT = b"pystator-no-user"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS) -> str:
    """A new salted hash of ``password`` for ``PYSTATOR_USERS``."""
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be between 1 and {MAX_ITERATIONS}")
    if not password or len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"a password has 1 to {MAX_PASSWORD_LENGTH} characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"{ALGORITHM}${iterations}${_b64(salt)}${_b64(digest)}"


def _parse_hash(encoded: str) -> tuple[int, bytes, bytes]:
    parts = encoded.split("$")
    if len(parts) != 4 or parts[0] != ALGORITHM:
        raise ValueError(f"a password hash reads '{ALGORITHM}$ITERATIONS$SALT$DIGEST'")
    try:
        iterations = int(parts[1])
        salt, digest = _unb64(parts[2]), _unb64(parts[3])
    except ValueError:
        raise ValueError("a password hash has a number of iterations and base64 parts") from None
    if not 1 <= iterations <= MAX_ITERATIONS or not salt or len(digest) != 32:
        raise ValueError("a password hash has 1 to 10,000,000 iterations, a salt, a 32-byte digest")
    return iterations, salt, digest


def iterations_of(encoded: str) -> int:
    """The PBKDF2 iteration count of a hash."""
    return _parse_hash(encoded)[0]


def verify_password(
    password: str, encoded: str | None, *, dummy_iterations: int = DEFAULT_ITERATIONS
) -> bool:
    """True when ``password`` matches ``encoded``. ``None`` (no such user) is always False,
    after the same work as a real check of ``dummy_iterations`` (pass the iterations of the
    configured hashes, so the answer's timing does not tell which users exist)."""
    if encoded is None:
        iterations, salt, digest = min(dummy_iterations, MAX_ITERATIONS), _DUMMY_SALT, b""
    else:
        iterations, salt, digest = _parse_hash(encoded)
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    candidate = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8", "replace"), salt, iterations)
    return encoded is not None and hmac.compare_digest(candidate, digest)


def parse_users(text: str) -> dict[str, str]:
    """``"alice:HASH,bob:HASH"`` -> ``{"alice": "HASH", "bob": "HASH"}``; raises ``ValueError``
    (without echoing the text) when an entry is malformed."""
    users: dict[str, str] = {}
    for position, entry in enumerate(text.split(","), start=1):
        entry = entry.strip()
        if not entry:
            continue
        name, sep, encoded = entry.partition(":")
        name = name.strip()
        if not sep or not _USER_NAME.match(name):
            raise ValueError(
                f"entry {position} must read NAME:HASH with a NAME of letters, digits, '_.@-'"
            )
        try:
            _parse_hash(encoded.strip())
        except ValueError as exc:
            raise ValueError(f"entry {position} ('{name}'): {exc}") from None
        if name in users:
            raise ValueError(f"user '{name}' is listed twice")
        users[name] = encoded.strip()
    return users
