"""The commands of the HTTP API: ``pystator api`` serves it, ``pystator hash-password``
hashes a password for its ``PYSTATOR_USERS``.

``pystator.api`` needs the ``api`` extra, so it is imported inside the commands: without
the extra, ``pystator api`` says which one to install and every other command still runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pystator.cli.arguments import CommandFailed


def _cmd_api(args: argparse.Namespace) -> int:
    try:
        from pystator.api.server import ServeError, serve
    except ImportError:
        raise CommandFailed(
            "pystator api needs the api extra: pip install 'pystator[api]'"
        ) from None
    try:
        return serve(
            host=args.host,
            port=args.port,
            allow_insecure_bind=args.allow_insecure_bind,
            log_level=args.log_level,
        )
    except ServeError as exc:
        raise CommandFailed(str(exc)) from None


def add_api_parser(sub: Any) -> None:
    """``pystator api [--host HOST] [--port PORT] [--allow-insecure-bind] [--log-level]``."""
    p = sub.add_parser(
        "api",
        help="run the HTTP API (FastAPI, docs at /docs)",
        description="Run the HTTP API with uvicorn. Settings come from PYSTATOR_* variables "
        "and .env (see docs/tutorial-api.md). Without PYSTATOR_AUTH_SECRET it listens on "
        "loopback only.",
    )
    p.add_argument("--host", help="address to listen on (default 127.0.0.1, PYSTATOR_HOST)")
    p.add_argument("--port", type=int, help="port to listen on (default 8000, PYSTATOR_PORT)")
    p.add_argument(
        "--allow-insecure-bind",
        action="store_true",
        help="listen on a non-loopback address without authentication",
    )
    p.add_argument(
        "--log-level", choices=["critical", "error", "warning", "info", "debug"], default=None
    )
    p.set_defaults(func=_cmd_api)


def _cmd_hash_password(args: argparse.Namespace) -> int:
    from pystator.api.passwords import hash_password

    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise CommandFailed("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        print(hash_password(password, iterations=args.iterations))
    except ValueError as exc:
        raise CommandFailed(str(exc)) from None
    return 0


def add_hash_password_parser(sub: Any) -> None:
    """``pystator hash-password [--iterations N]`` (the password comes on standard input)."""
    p = sub.add_parser(
        "hash-password",
        help="hash a password for PYSTATOR_USERS (reads it from standard input)",
    )
    p.add_argument("--iterations", type=int, default=600_000, help="PBKDF2 iterations")
    p.set_defaults(func=_cmd_hash_password)
