"""``GET /health`` (the process answers) and ``GET /ready`` (its database and Redis answer).

``/health`` is liveness: it stays 200 while the database is down (restarting the process would
not bring the database back). ``/ready`` is 503 with ``Retry-After`` and what happened
(``postgresql: refused the connection``; not where: it answers without authentication) while
the database or Redis does not answer within its timeouts.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from pystator._version import __version__
from pystator.api.schemas import CheckOut, HealthOut, ReadyOut
from pystator.api.services import Services, ServicesDep
from pystator.errors import StoreUnavailableError


def _check_database(svc: Services) -> CheckOut:
    try:
        svc.catalog.ping()
    except StoreUnavailableError as exc:
        # What happened, not where: /ready answers without authentication.
        return CheckOut(ok=False, detail=f"{svc.settings.database_kind()}: {exc.reason}")
    except Exception as exc:  # any driver error means "not ready"; its text may hold secrets
        return CheckOut(ok=False, detail=f"{svc.settings.database_kind()}: {type(exc).__name__}")
    return CheckOut(ok=True, detail=svc.settings.database_kind())


def _check_redis(svc: Services) -> CheckOut:
    url = svc.settings.redis_url
    if url is None:
        return CheckOut(ok=True, configured=False, detail="not configured")
    settings = svc.settings
    try:
        import redis

        from pystator.stores.redis_faults import REDIS_DOWN, RedisFaults, client_options

        # A client made as the stores make theirs, but a probe answers quickly: at most a
        # second per step, less if the settings say so.
        timeouts = client_options(
            min(1.0, settings.store_connect_timeout), min(1.0, settings.store_read_timeout)
        )
        client = redis.Redis.from_url(url, **timeouts)
        try:
            client.ping()
        except REDIS_DOWN as exc:
            reason = RedisFaults.of_client(client).translate(exc).reason
            return CheckOut(ok=False, detail=f"redis: {reason}")
        finally:
            client.close()
    except ImportError:
        return CheckOut(ok=False, detail="the redis extra is not installed")
    except Exception as exc:
        return CheckOut(ok=False, detail=f"redis: {type(exc).__name__}")
    return CheckOut(ok=True, detail="redis")


def build() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health", response_model=HealthOut, summary="Liveness: the process answers")
    async def health(svc: ServicesDep) -> HealthOut:
        return HealthOut(version=__version__, auth_enabled=svc.settings.auth_enabled)

    @router.get(
        "/ready",
        response_model=ReadyOut,
        summary="Readiness: the database (and Redis, when configured) answer",
        responses={503: {"model": ReadyOut, "description": "A dependency is not available."}},
    )
    def ready(svc: ServicesDep) -> JSONResponse:
        database, redis_check = _check_database(svc), _check_redis(svc)
        ok = database.ok and redis_check.ok
        body = ReadyOut(
            status="ready" if ok else "unavailable", database=database, redis=redis_check
        )
        headers = None if ok else {"Retry-After": str(svc.settings.store_retry_after)}
        return JSONResponse(
            body.model_dump(mode="json"), status_code=200 if ok else 503, headers=headers
        )

    return router
