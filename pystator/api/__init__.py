"""The HTTP service (FastAPI). Needs the ``api`` extra (which brings ``sql``):
``pip install 'pystator[api]'``.

``create_app(settings=None)`` builds the application; ``ApiSettings`` reads ``PYSTATOR_*``
environment variables. Nothing here is imported by ``import pystator``.
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
