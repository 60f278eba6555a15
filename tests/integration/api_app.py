"""Helpers of the API tests: settings on a private SQLite file, a test machine, a token user."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from pystator.api import ApiSettings, create_app
from pystator.api.passwords import hash_password
from tests.conftest import ROOT

SECRET = "s" * 16 + "-test-secret-0123456789"
PASSWORD = "correct horse battery staple"
# Few iterations: the tests hash and check passwords often; the format is the same.
USERS = f"alice:{hash_password(PASSWORD, iterations=1000)}"

ORDER: dict[str, Any] = {
    "meta": {"machine_name": "orders", "version": "1.0.0", "strict_mode": True},
    "states": [
        {"name": "PENDING", "type": "initial"},
        {"name": "OPEN", "on_enter": [{"name": "notify", "params": {"channel": "desk"}}]},
        {"name": "PARTIAL"},
        {"name": "FILLED", "type": "terminal"},
        {"name": "CANCELLED", "type": "terminal"},
    ],
    "transitions": [
        {"trigger": "ack", "source": "PENDING", "dest": "OPEN"},
        {
            "trigger": "fill",
            "source": ["OPEN", "PARTIAL"],
            "dest": "FILLED",
            "guards": ["is_full_fill"],
            "actions": ["book"],
        },
        {
            "trigger": "fill",
            "source": ["OPEN", "PARTIAL"],
            "dest": "PARTIAL",
            "guards": [{"expr": "fill_qty > 0"}],
        },
        {"trigger": "cancel", "source": ["PENDING", "OPEN", "PARTIAL"], "dest": "CANCELLED"},
        {
            "trigger": "amend",
            "source": "OPEN",
            "dest": "OPEN",
            "guards": [{"expr": "qty < 100"}, {"name": "desk_approves", "params": {"level": 2}}],
        },
    ],
}


def settings(tmp_path: Path, **overrides: Any) -> ApiSettings:
    """Settings on a SQLite file of the test, ignoring the environment's ``.env``."""
    values: dict[str, Any] = {"database_url": f"sqlite:///{tmp_path / 'api.db'}"}
    values.update(overrides)
    return ApiSettings(_env_file=None, **values)  # type: ignore[call-arg]


def auth_settings(tmp_path: Path, **overrides: Any) -> ApiSettings:
    return settings(tmp_path, **{"auth_secret": SECRET, "users": USERS, **overrides})


def app_for(settings_: ApiSettings) -> Any:
    return create_app(settings_)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any PYSTATOR_ setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYSTATOR_")}
    env.update(extra)
    return env


@contextmanager
def running_server(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``pystator api`` in a subprocess on a free port; yields its base URL."""
    port = free_port()
    environment = clean_env(
        PYSTATOR_DATABASE_URL=f"sqlite:///{tmp_path / 'server.db'}",
        PYSTATOR_LOG_LEVEL="warning",
        **(env or {}),
    )
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pystator", "api", "--port", str(port), *args],
        cwd=tmp_path,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                log.close()
                raise AssertionError(
                    "pystator api exited:\n" + (tmp_path / "server.log").read_text()
                )
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("pystator api did not answer /health within 30 s")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextmanager
def in_process_server(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread of this process, on a free loopback port (the
    test can reach into the app, e.g. to replace its store or its clock); yields its URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive():
                raise AssertionError("the in-process server stopped before it started")
            if time.monotonic() > deadline:
                raise AssertionError("the in-process server did not start within 30 s")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


__all__ = ["ROOT"]
