"""Settings of the HTTP service, read from ``PYSTATOR_*`` environment variables and ``.env``.

Every field below is the lower-case name of its variable without the prefix: ``database_url``
is ``PYSTATOR_DATABASE_URL``. Secrets are ``SecretStr`` so they never show in a ``repr`` or a
log line.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pystator.api.passwords import parse_users

MIN_SECRET_LENGTH = 32
"""HS256 keys shorter than the hash output (32 bytes) are weak (RFC 7518, section 3.2)."""


class ApiSettings(BaseSettings):
    """Configuration of ``pystator api`` and ``create_app``."""

    model_config = SettingsConfigDict(
        env_prefix="PYSTATOR_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    database_url: str = Field(
        default="sqlite:///./pystator.db",
        description="SQLAlchemy URL of the database holding machines and entities "
        "(SQLite file by default; 'postgresql+psycopg://user@host/db' in production).",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL of the workers' queue and timers. When set, timers of delayed "
        "transitions are armed there (the ArqScheduler that 'pystator worker' fires, default "
        "key prefix and queue) and cancelled when their entity leaves the state or is deleted, "
        "and the readiness check pings it. Unset: timers are only recorded on the entities.",
    )
    # Store outages and timeouts (issue 12, items 6 and 7): see docs/configuration.md.
    store_connect_timeout: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="Seconds to wait for a connection to the database (PostgreSQL counts whole "
        "seconds, at least 2) and to Redis; past it, requests are answered 503.",
    )
    store_read_timeout: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="Seconds a database statement may run (PostgreSQL's statement_timeout; a "
        "server that does not answer is given up on one second later) and Redis may take to "
        "answer; past it, 503.",
    )
    store_retry_after: int = Field(
        default=5,
        ge=1,
        le=3600,
        description="Seconds in the Retry-After header of a 503 answered while the database is "
        "unavailable.",
    )
    auth_secret: SecretStr | None = Field(
        default=None,
        description="HS256 key of the bearer tokens (at least 32 characters). Without it "
        "authentication is off and only loopback clients are served.",
    )
    token_ttl_seconds: int = Field(
        default=900, ge=60, le=86_400, description="Lifetime of an issued token (seconds)."
    )
    token_audience: str = Field(default="pystator-api", min_length=1, max_length=200)
    token_issuer: str = Field(default="pystator", min_length=1, max_length=200)
    users: SecretStr | None = Field(
        default=None,
        description="Users of the token endpoint: 'name:HASH,name:HASH', each HASH made by "
        "'pystator hash-password' (pbkdf2_sha256). Never plain passwords.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed by CORS, comma-separated; empty (the default) = closed.",
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, le=1 << 30, description="Largest request body accepted."
    )
    max_json_depth: int = Field(
        default=32, ge=2, le=200, description="Deepest nesting of arrays and objects accepted."
    )
    # Context cap and failed-login limits (issue 12, items 8 and 9): see docs/api.md.
    max_context_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        le=1 << 30,
        description="Largest context an entity may store, as compact JSON in UTF-8 bytes. An "
        "event or a creation that would pass it is refused with 413 and nothing is stored.",
    )
    login_window_seconds: int = Field(
        default=900,
        ge=1,
        le=86_400,
        description="Failed logins are counted over this many seconds; a limited client waits "
        "until the window that limited it ends (Retry-After).",
    )
    login_client_failures: int = Field(
        default=20,
        ge=1,
        le=1_000_000,
        description="Failed logins one client (IP address) may make per window, whatever the "
        "user names; past it, its logins are 429.",
    )
    login_user_failures: int = Field(
        default=5,
        ge=1,
        le=1_000_000,
        description="Failed logins for one user name from one client per window; past it, that "
        "client's logins as that user are 429 (other clients are not affected).",
    )
    login_user_ceiling: int = Field(
        default=100,
        ge=1,
        le=1_000_000,
        description="Failed logins for one user name from all clients together per window; "
        "past it, only clients with no failed login for that user in the window may try.",
    )
    # Large definitions parsed at once (issue 12, item 5): see docs/tutorial-api.md, "Settings".
    max_concurrent_parses: int = Field(
        default=2,
        ge=1,
        le=256,
        description="Large machine definitions (see large_definition_bytes) parsed at once; "
        "more wait for a free slot, then get 503 with Retry-After.",
    )
    large_definition_bytes: int = Field(
        default=65_536,
        ge=0,
        le=1 << 30,
        description="Request bodies of this many bytes or more that carry a definition count "
        "against max_concurrent_parses; smaller ones never wait.",
    )
    parse_wait_seconds: float = Field(
        default=30.0,
        ge=0,
        le=600,
        description="How long a large definition waits for a parse slot before the answer is "
        "503 with Retry-After.",
    )
    max_waiting_parses: int | None = Field(
        default=None,
        ge=0,
        le=1024,
        description="Large definitions that may wait for a parse slot at once (each holds a "
        "worker thread); one more is answered 503 with Retry-After at once. Unset: twice "
        "max_concurrent_parses.",
    )
    machines_dir: Path | None = Field(
        default=None,
        description="Directory whose *.yaml, *.yml and *.json definitions are stored at "
        "start-up (machines already stored keep their stored definition).",
    )
    allow_insecure_bind: bool = Field(
        default=False,
        description="Serve non-loopback addresses and clients without an auth secret.",
    )
    host: str = Field(default="127.0.0.1", min_length=1, max_length=255)
    port: int = Field(default=8000, ge=0, le=65_535)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"

    @field_validator("auth_secret", "users", "redis_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("auth_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters long")
        return value

    @field_validator("users")
    @classmethod
    def _users_parse(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_users(value.get_secret_value())
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard_with_others(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"origin {origin!r} must start with http:// or https://")
        return value

    @property
    def auth_enabled(self) -> bool:
        return self.auth_secret is not None

    def user_hashes(self) -> dict[str, str]:
        """Configured users: name -> password hash."""
        if self.users is None:
            return {}
        return parse_users(self.users.get_secret_value())

    def database_kind(self) -> str:
        """``sqlite``, ``postgresql``, ... (the URL scheme without its driver)."""
        return self.database_url.split(":", 1)[0].split("+", 1)[0]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
