"""Serve the UI: the page at ``/``, its assets under ``/ui/assets``, helpers under ``/ui/api``.

Every asset comes from the package itself, and the page's Content-Security-Policy says so
(``default-src 'self'``, no inline script or style): a script, style or font from another host
would not load even if one slipped in. The editor's component (``static/vendor``, CodeMirror)
puts its styles in a constructed stylesheet, which the policy allows, rather than a ``<style>``
element, which it refuses (``static/vendor/README.md``, "One change").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI
from fastapi.params import Depends
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from pystator.ui.routes import ParseSlot, build_router, no_parse_slot

ASSETS_DIR = Path(__file__).resolve().parent / "static"
"""The UI's files: ``index.html``, ``css/``, ``js/`` (plain ES modules, no build step)."""

ASSETS_PATH = "/ui/assets"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate every time (ETag): an upgraded package never serves yesterday's scripts.
    "Cache-Control": "no-cache",
}


class _AssetFiles(StaticFiles):
    """``StaticFiles`` with the UI's security and caching headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def mount_ui(
    app: FastAPI,
    *,
    dependencies: Sequence[Depends] = (),
    route_class: type[APIRoute] = APIRoute,
    parse_slot: ParseSlot = no_parse_slot,
) -> None:
    """Serve the web UI from ``app``.

    ``dependencies`` guard the helper endpoints exactly like the API's own routes (pass the
    API's authentication dependency); the page and its assets are public, since they hold no
    data and the page asks for a token when the API needs one. ``parse_slot`` bounds how
    many large definitions the helpers parse at once (pass the API's parse slots).
    """
    index = (ASSETS_DIR / "index.html").read_text(encoding="utf-8")

    async def ui_index() -> HTMLResponse:
        return HTMLResponse(index, headers=_HEADERS)

    app.add_api_route("/", ui_index, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_api_route("/ui", ui_index, methods=["GET", "HEAD"], include_in_schema=False)
    app.include_router(build_router(dependencies, route_class, parse_slot))
    app.mount(ASSETS_PATH, _AssetFiles(directory=ASSETS_DIR), name="ui-assets")
