"""``uvicorn pystator.api.main:app``: the application configured from the environment."""

from __future__ import annotations

from pystator.api.app import create_app

app = create_app()
