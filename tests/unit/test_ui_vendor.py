"""The web UI's vendored browser components (``pystator/ui/static/vendor``, built by
``ui-vendor/build.mjs`` from ``ui-vendor/package-lock.json``): every bundled package is
recorded with the version the lock file pins and its licence text, the README's checksums
are those of the files, the lock file names no download URL, and nothing in the files loads
from another host."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

VENDOR = ROOT / "pystator" / "ui" / "static" / "vendor"
UI_VENDOR = ROOT / "ui-vendor"

# What makes a browser fetch something from a script or stylesheet: an absolute URL put in
# an element's src, or in a CSS url()/@import.
LOADS_IN_JS = re.compile(r"""\bsrc\s*[:=]\s*["'`](?:https?:)?//""")
LOADS_IN_CSS = re.compile(r"""(?:url\(\s*["']?|@import\s+["']?)(?:https?:)?//""")


def records() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads((VENDOR / "versions.json").read_text("utf-8"))
    return found


def lock() -> dict[str, Any]:
    found: dict[str, Any] = json.loads((UI_VENDOR / "package-lock.json").read_text("utf-8"))
    return found


def readme() -> str:
    return (VENDOR / "README.md").read_text(encoding="utf-8")


def test_every_recorded_package_has_the_version_of_the_lock_file() -> None:
    packages = lock()["packages"]
    assert records(), "versions.json lists the bundled packages"
    for record in records():
        locked = packages.get(f"node_modules/{record['name']}")
        assert locked is not None, f"{record['name']} is not in package-lock.json"
        assert record["version"] == locked["version"], record["name"]
        assert record["license"] == locked.get("license"), record["name"]


def test_the_direct_dependencies_are_pinned_and_locked() -> None:
    manifest = json.loads((UI_VENDOR / "package.json").read_text("utf-8"))
    packages = lock()["packages"]
    for name, version in manifest["devDependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name}: {version} is not exact"
        assert packages[f"node_modules/{name}"]["version"] == version, name


def test_every_built_file_is_recorded_with_its_licence_text() -> None:
    built = {r["file"] for r in records()}
    assert built == {"codemirror/codemirror.js", "elk/elk.bundled.js"}
    for record in records():
        assert (VENDOR / record["file"]).is_file(), record["file"]
        licence = VENDOR / record["licence_text"]
        assert licence.is_file(), f"{record['licence_text']} is missing"
        assert licence.stat().st_size > 300, f"{record['licence_text']} is not a licence text"
    named = {r["licence_text"] for r in records()}
    on_disk = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("LICENSE*")}
    assert on_disk == named, "every licence file is named in versions.json, and only those"


def test_the_readme_names_every_package_and_version() -> None:
    text = readme()
    for record in records():
        assert f"| `{record['name']}` | {record['version']} | {record['license']} |" in text


def test_the_readme_checksums_are_those_of_the_files() -> None:
    sums = re.findall(r"^([0-9a-f]{64})  (\S+)$", readme(), flags=re.MULTILINE)
    assert {path for _, path in sums} >= {
        "codemirror/codemirror.js",
        "elk/elk.bundled.js",
        "versions.json",
    }
    for digest, path in sums:
        actual = hashlib.sha256((VENDOR / path).read_bytes()).hexdigest()
        assert actual == digest, f"{path} changed since the README was written: rebuild"


def test_the_lock_file_holds_no_download_url() -> None:
    text = (UI_VENDOR / "package-lock.json").read_text(encoding="utf-8")
    assert '"resolved"' not in text
    for name, entry in lock()["packages"].items():
        assert "resolved" not in entry, name
        assert "integrity" in entry or not name, f"{name} has no integrity hash"
    assert not re.search(r"https?://\S+\.tgz", text), "no tarball URLs"
    assert "omit-lockfile-registry-resolved=true" in (UI_VENDOR / ".npmrc").read_text("utf-8")


@pytest.mark.parametrize("path", sorted(VENDOR.rglob("*.js")), ids=lambda p: p.name)
def test_no_vendored_file_loads_from_another_host(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [text[m.start() : m.start() + 80] for m in LOADS_IN_JS.finditer(text)]
    found += [text[m.start() : m.start() + 80] for m in LOADS_IN_CSS.finditer(text)]
    assert not found, f"{path.name} loads from another host: {found}"


def test_the_editor_bundle_names_no_other_host() -> None:
    bundle = (VENDOR / "codemirror" / "codemirror.js").read_text(encoding="utf-8")
    hosts = set(re.findall(r"https?://[A-Za-z0-9.-]+\.[A-Za-z]{2,}", bundle))
    assert hosts <= {"http://www.w3.org"}, hosts  # XML namespaces (SVG) are names, not loads


def test_the_bundle_puts_its_styles_in_a_constructed_stylesheet() -> None:
    """The one change (README.md): without it the page's policy refuses the editor's styles."""
    bundle = (VENDOR / "codemirror" / "codemirror.js").read_text(encoding="utf-8")
    assert "adoptedStyleSheets" in bundle
    assert not re.search(r"!\w+\.head&&\w+\.adoptedStyleSheets", bundle)
