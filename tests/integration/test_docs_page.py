"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) are served from the package: no script, style,
image or font from another host, in the page or in the vendored files, and every vendored
file ships in the wheel. That they really render the operations is checked in a browser
(``test_ui_browser.py``)."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pystator.api.docs_page import STATIC_DIR
from tests.conftest import ROOT
from tests.integration.api_app import app_for, auth_settings, settings

PAGES = ["/docs", "/redoc"]

# What makes a browser fetch something: an element's src/href, a CSS url() or @import, and
# the URL of the OpenAPI document given to the reader.
PAGE_URLS = re.compile(r"""(?:src|href|spec-url|data-openapi-url)\s*=\s*["']([^"']+)["']""")
# In the vendored bundles: an absolute http(s) URL put in an element's src (the way ReDoc
# 2.5.4 loads its footer logo, replaced in our copy), or in a stylesheet's url()/@import.
LOADS_IN_JS = re.compile(r"""\bsrc\s*:\s*["'`](?:https?:)?//""")
LOADS_IN_CSS = re.compile(r"""(?:url\(\s*["']?|@import\s+["']?)(?:https?:)?//""")


@pytest.mark.parametrize("path", PAGES)
def test_the_page_loads_only_what_the_app_serves(tmp_path: Path, path: str) -> None:
    with TestClient(app_for(settings(tmp_path))) as client:
        page = client.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        urls = PAGE_URLS.findall(page.text)
        assert "/openapi.json" in urls
        assert len(urls) >= 3, urls  # the reader's script, the document, an icon
        assert "<script>" not in page.text, "no inline script: the policy forbids them"
        for url in urls:
            assert re.match(r"/[^/]", url), f"{url} is not served by the app"
            assert client.get(url).status_code == 200, url
        policy = page.headers["content-security-policy"]
        for directive in ("default-src 'self'", "script-src 'self'", "connect-src 'self'"):
            assert directive in policy
        assert "http" not in policy, "the policy allows this origin only"


@pytest.mark.parametrize("path", [*PAGES, "/openapi.json", "/docs-assets/swagger-init.js"])
def test_the_pages_need_no_token_when_auth_is_on(tmp_path: Path, path: str) -> None:
    with TestClient(app_for(auth_settings(tmp_path))) as client:
        assert client.get(path).status_code == 200


def test_the_document_is_openapi_3_1(tmp_path: Path) -> None:
    # Swagger UI before 5.0 cannot render 3.1: the reason the files were replaced.
    with TestClient(app_for(settings(tmp_path))) as client:
        assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    bundle = (STATIC_DIR / "swagger-ui" / "swagger-ui-bundle.js").read_text(encoding="utf-8")
    assert "OpenAPI31" in bundle or "isOAS31" in bundle


def test_no_vendored_file_loads_from_another_host() -> None:
    files = sorted(p for p in STATIC_DIR.rglob("*") if p.suffix in {".js", ".css"})
    assert {p.name for p in files} >= {
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "redoc.standalone.js",
        "swagger-init.js",
    }
    for path in files:
        text = path.read_text(encoding="utf-8")
        pattern = LOADS_IN_CSS if path.suffix == ".css" else LOADS_IN_JS
        found = [text[m.start() : m.start() + 80] for m in pattern.finditer(text)]
        assert not found, f"{path.relative_to(STATIC_DIR)} loads from another host: {found}"
        assert "fonts.googleapis" not in text, path.name


def test_the_vendored_files_have_their_licenses_and_the_versions_the_readme_names() -> None:
    for directory in ("swagger-ui", "redoc"):
        assert (STATIC_DIR / directory / "LICENSE").stat().st_size > 500
    readme = (STATIC_DIR / "README.md").read_text(encoding="utf-8")
    versions = dict(re.findall(r"\| `(swagger-ui-dist|redoc)` \| (\d+\.\d+\.\d+) \|", readme))
    assert set(versions) == {"swagger-ui-dist", "redoc"}, readme
    swagger = (STATIC_DIR / "swagger-ui" / "swagger-ui-bundle.js").read_text(encoding="utf-8")
    assert f'PACKAGE_VERSION:"{versions["swagger-ui-dist"]}"' in swagger
    redoc = (STATIC_DIR / "redoc" / "redoc.standalone.js").read_text(encoding="utf-8")
    assert f'"{versions["redoc"]}"' in redoc


def test_package_data_ships_every_vendored_file() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["pystator.api"]
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            rel = path.relative_to(STATIC_DIR.parent).as_posix()
            assert any(fnmatch(rel, p) and rel.count("/") == p.count("/") for p in patterns), (
                f"{rel} is not in [tool.setuptools.package-data] 'pystator.api'"
            )
    api = config["project"]["optional-dependencies"]["api"]
    assert not [d for d in api if d.startswith("swagger-ui-bundle")], "the files are vendored"
