"""``pystator api``: check the settings and the address, bind, and run uvicorn (no reload).

Without an auth secret the server listens on loopback only: any other address is refused
with one readable line unless ``--allow-insecure-bind`` (``PYSTATOR_ALLOW_INSECURE_BIND``)
says the operator knows why. The socket is bound here, before uvicorn starts, so "address
in use" is one line too.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from pydantic import ValidationError

from pystator.api.settings import ApiSettings, is_loopback
from pystator.errors import StoreUnavailableError


class ServeError(Exception):
    """The server cannot start; the message is one readable line."""


def settings_problem(exc: ValidationError) -> str:
    """One line naming each bad variable, without echoing values (they may be secrets)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in error["loc"]) or "settings"
        parts.append(f"PYSTATOR_{field.upper()}: {error['msg'].removeprefix('Value error, ')}")
    return "invalid settings: " + "; ".join(parts)


def load_settings(**overrides: Any) -> ApiSettings:
    """``ApiSettings`` from the environment and ``.env``, with ``overrides`` on top."""
    try:
        return ApiSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ServeError(settings_problem(exc)) from None


def check_bind(settings: ApiSettings) -> None:
    """Refuse a non-loopback address when authentication is off (unless overridden)."""
    if settings.auth_enabled or settings.allow_insecure_bind or is_loopback(settings.host):
        return
    raise ServeError(
        f"refusing to listen on {settings.host}: authentication is off (set "
        "PYSTATOR_AUTH_SECRET), or pass --allow-insecure-bind if you know why"
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); ``ServeError`` when that is impossible."""
    try:
        infos = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ServeError(f"cannot resolve host {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
    logger = logging.getLogger("pystator")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False


def serve(
    *,
    host: str | None = None,
    port: int | None = None,
    allow_insecure_bind: bool | None = None,
    log_level: str | None = None,
) -> int:
    """Run the API until interrupted; returns the exit code. Raises ``ServeError``."""
    try:
        import uvicorn
    except ImportError:
        raise ServeError("pystator api needs the api extra: pip install 'pystator[api]'") from None
    settings = load_settings(
        host=host,
        port=port,
        allow_insecure_bind=True if allow_insecure_bind else None,
        log_level=log_level,
    )
    check_bind(settings)
    _configure_logging(settings.log_level)
    sock = bind_socket(settings.host, settings.port)
    try:
        from pystator.api.app import create_app

        try:
            app = create_app(settings)
        except ImportError as exc:
            raise ServeError(str(exc)) from None
        except StoreUnavailableError as exc:  # one line, no password
            raise ServeError(f"cannot start: {exc.message}") from None
        except Exception as exc:  # the database or machines directory cannot be used
            raise ServeError(f"cannot start: {type(exc).__name__}: {exc}".splitlines()[0]) from None
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        logging.getLogger("pystator.api").info(
            "listening on http://%s:%d (OpenAPI docs at /docs)", shown, bound_port
        )
        config = uvicorn.Config(
            app,
            log_level=settings.log_level,
            server_header=False,
            proxy_headers=True,
            timeout_graceful_shutdown=10,
        )
        server = uvicorn.Server(config)
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0 if server.started else 1
