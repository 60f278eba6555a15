"""``POST /api/v1/auth/token`` (configured users only) and ``GET /api/v1/auth/me``."""

# No "from __future__ import annotations": FastAPI must resolve the local User alias.
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from pystator.api.auth import Principal, issue_token
from pystator.api.passwords import DEFAULT_ITERATIONS, iterations_of, verify_password
from pystator.api.problems import ApiError, responses
from pystator.api.schemas import MeOut, TokenRequest, TokenResponse
from pystator.api.services import ServicesDep
from pystator.api.settings import ApiSettings


def build(
    principal: Callable[..., Awaitable[Principal]], route_class: type, settings: ApiSettings
) -> APIRouter:
    router = APIRouter(prefix="/api/v1/auth", tags=["auth"], route_class=route_class)
    user_dep = Annotated[Principal, Depends(principal)]

    @router.get(
        "/me",
        response_model=MeOut,
        summary="Who am I",
        description="The token's subject; 'anonymous' when authentication is off.",
        responses=responses(401, 403),
    )
    async def me(user: user_dep, svc: ServicesDep) -> MeOut:
        expires = (
            datetime.fromtimestamp(user.expires_at, tz=UTC) if user.expires_at is not None else None
        )
        return MeOut(
            username=user.subject,
            authenticated=user.authenticated,
            auth_enabled=svc.settings.auth_enabled,
            expires_at=expires,
        )

    if settings.auth_enabled:

        @router.post(
            "/token",
            response_model=TokenResponse,
            summary="Exchange a configured user's password for a bearer token",
            description="Users come from PYSTATOR_USERS (name:pbkdf2_sha256 hash pairs). "
            "Every failure is the same 401. Failed logins are limited per client and per user "
            "name (PYSTATOR_LOGIN_*): past a limit the answer is 429 with Retry-After, even "
            "for the right password, until the window ends.",
            responses=responses(400, 401, 413, 422, 429),
        )
        # A plain function: FastAPI runs it in its thread pool, so the password hashing (CPU
        # bound, tens of milliseconds) never blocks the event loop.
        def token(body: TokenRequest, request: Request, svc: ServicesDep) -> TokenResponse:
            # The address uvicorn saw (or a trusted proxy's X-Forwarded-For); the limiter keys
            # it by ``client_key`` (an IPv6 address by its /64).
            client = request.client.host if request.client is not None else "unknown"
            logins = svc.logins
            wait = logins.attempt(body.username, client)
            if wait is not None:
                raise ApiError(
                    429,
                    f"too many failed logins: try again in {wait} seconds",
                    headers={"Retry-After": str(wait)},
                )
            users = svc.settings.user_hashes()
            slowest = max(map(iterations_of, users.values()), default=DEFAULT_ITERATIONS)
            encoded = users.get(body.username)
            if not verify_password(body.password, encoded, dummy_iterations=slowest):
                raise ApiError(
                    401, "invalid username or password", headers={"WWW-Authenticate": "Bearer"}
                )
            logins.succeeded(body.username, client)
            return TokenResponse(
                access_token=issue_token(svc.settings, body.username),
                expires_in=svc.settings.token_ttl_seconds,
            )

    return router
