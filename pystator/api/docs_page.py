"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc): the OpenAPI 3.1 document, browsable, with
every file served by this process.

FastAPI's default pages load their scripts from a CDN, which fails on a closed network and
tells a third party about every visit. The files are vendored under ``pystator/api/static``
(``README.md`` there names each release and where it comes from); both readers understand
OpenAPI 3.1, which is what the app serves. The pages hold no inline script and carry a
Content-Security-Policy that allows this origin only, so nothing from another host loads even
if a vendored file asks for it (Swagger UI's online validator badge is switched off as well).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""``swagger-ui/`` and ``redoc/`` (vendored, unchanged) and ``swagger-init.js`` (ours)."""

ASSETS = "/docs-assets"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # Both readers set style attributes and ReDoc adds <style> elements at run time.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        # ReDoc's search index runs in a worker made from a blob: URL.
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

SWAGGER_PAGE = """\
<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  <link rel="icon" type="image/png" href="{assets}/swagger-ui/favicon-32x32.png">
  <link rel="stylesheet" href="{assets}/swagger-ui/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
  <script src="{assets}/swagger-ui/swagger-ui-bundle.js"></script>
  <script src="{assets}/swagger-init.js"></script>
</body>
</html>
"""

REDOC_PAGE = """\
<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  <link rel="icon" type="image/png" href="{assets}/swagger-ui/favicon-32x32.png">
  <style>body {{ margin: 0; }}</style>
</head>
<body>
  <redoc spec-url="{openapi_url}"></redoc>
  <script src="{assets}/redoc/redoc.standalone.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` and ReDoc at ``/redoc``, their files under
    ``/docs-assets``. Call with ``docs_url=None, redoc_url=None`` given to ``FastAPI``."""
    app.mount(ASSETS, StaticFiles(directory=STATIC_DIR), name="docs-assets")
    values = {
        "assets": ASSETS,
        "openapi_url": escape(app.openapi_url or "/openapi.json"),
        "title": escape(f"{app.title} - API docs"),
    }
    swagger = SWAGGER_PAGE.format(**values)
    redoc = REDOC_PAGE.format(**values)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(swagger, headers=HEADERS)

    @app.get("/redoc", include_in_schema=False)
    def redoc_page() -> HTMLResponse:
        return HTMLResponse(redoc, headers=HEADERS)
