"""``/docs`` serves Swagger UI from the package: no script, style or icon from another host."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from tests.integration.api_app import app_for, settings


def test_docs_page_loads_only_local_assets(tmp_path: Path) -> None:
    with TestClient(app_for(settings(tmp_path))) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert "/openapi.json" in page.text
        urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page.text)
        urls += re.findall(r"""url:\s*['"]([^'"]+)['"]""", page.text)
        assert urls, "the page references no asset"
        for url in urls:
            assert url.startswith("/"), f"{url} is not served by the app itself"
            assert client.get(url).status_code == 200, url
        assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN
