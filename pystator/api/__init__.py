"""The HTTP service (FastAPI). Needs the ``api`` extra (which brings ``sql``):
``pip install 'pystator[api]'``.

``create_app(settings=None)`` builds the application; ``ApiSettings`` reads ``PYSTATOR_*``
environment variables. Nothing here is imported by ``import pystator``.

What lives here:

* the application: ``app`` (``create_app``), ``settings`` (``ApiSettings``), ``services``
  (what the routes share: the store, the catalogue, compiled machines), ``main`` (the app
  for ``uvicorn``) and ``server`` (``pystator api``: checks, bind, run);
* the routes, one module per resource in ``routes``: ``stateless`` (``/validate``,
  ``/process``), ``machines``, ``entities`` (through the ``Orchestrator``), ``auth`` and
  ``health``;
* machines and requests: ``catalog`` (the stored machines and the compiled ones served),
  ``definitions`` (request bodies to definitions, large ones parsed a few at a time),
  ``supplied_guards`` (named guards answered by the request), ``schemas`` (request and
  response bodies), ``machine_openapi`` (one machine's typed OpenAPI document) and
  ``docs_page`` (``/docs``, ``/redoc``);
* the edge: ``auth`` (bearer tokens), ``passwords`` (PBKDF2 hashes), ``login_limits``
  (failed logins), ``limits`` (body size, strict JSON, loopback-only without auth) and
  ``problems`` (every failure as ``ErrorBody`` JSON with its status).

The API computes transitions only through the runtime, and keeps data only through the SQL
store (``SQLStateStore``, ``SQLMachineCatalog``): it writes no SQL of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pystator.api.app import create_app
    from pystator.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]

_EXTRA = "the HTTP API needs its extras: pip install 'pystator[api]'"


def __getattr__(name: str) -> Any:
    try:
        if name == "create_app":
            from pystator.api.app import create_app

            return create_app
        if name == "ApiSettings":
            from pystator.api.settings import ApiSettings

            return ApiSettings
    except ImportError as exc:
        if exc.name in {"fastapi", "starlette", "pydantic_settings", "jwt", "uvicorn"}:
            raise ImportError(f"{_EXTRA} (missing module '{exc.name}')") from exc
        raise
    raise AttributeError(f"module 'pystator.api' has no attribute {name!r}")
