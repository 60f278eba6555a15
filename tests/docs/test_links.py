"""Every relative link of the Markdown documentation points at a file that exists, and every
``#anchor`` at a heading (or an explicit ``<a id>``) of the page it names.

Checked: README.md, CHANGELOG.md, examples/README.md and every page under docs/. Links with a
scheme (``https:``, ``mailto:``) are not followed. Anchors follow GitHub's rule: the heading's
text, lower-cased, without punctuation, spaces turned into ``-``, ``-1``, ``-2`` ... added to
repeated headings. Links and headings inside code blocks and code spans do not count.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.docs.markdown_snippets import ROOT

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def markdown_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "examples" / "README.md"]
    files += sorted((ROOT / "docs").rglob("*.md"))
    return [f for f in files if f.exists()]


def prose_lines(path: Path, *, keep_code_spans: bool = False) -> list[tuple[int, str]]:
    """The lines of ``path`` outside fenced code blocks (code spans blanked out, unless kept)."""
    out: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if fence is None:
            opening = FENCE.match(line)
            if opening:
                fence = opening.group(1)
                continue
        else:
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                fence = None
            continue
        if not keep_code_spans:
            line = CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)
        out.append((number, line))
    return out


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors_of(path: Path) -> frozenset[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in prose_lines(path, keep_code_spans=True):
        found.update(HTML_ANCHOR.findall(line))
        heading = HEADING.match(line)
        if heading is None:
            continue
        base = slug(heading.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def links_of(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for number, line in prose_lines(path):
        found.extend((number, target) for target in INLINE_LINK.findall(line))
        definition = REFERENCE_DEF.match(line)
        if definition:
            found.append((number, definition.group(1)))
    return found


def relative_links() -> list[tuple[Path, int, str]]:
    return [
        (path, number, target)
        for path in markdown_files()
        for number, target in links_of(path)
        if target and not SCHEME.match(target)
    ]


LINKS = relative_links()


def broken(path: Path, target: str) -> str | None:
    """Why the link ``target`` of ``path`` is broken, or ``None``."""
    file_part, _, anchor = target.partition("#")
    destination = (path.parent / unquote(file_part)).resolve() if file_part else path
    if not destination.exists():
        return f"{file_part} does not exist"
    if anchor:
        if destination.is_dir() or destination.suffix.lower() != ".md":
            return f"#{anchor} points into {file_part}, which is not a Markdown page"
        if unquote(anchor) not in anchors_of(destination):
            return f"{destination.relative_to(ROOT)} has no heading for #{anchor}"
    return None


def test_the_documentation_has_relative_links() -> None:
    assert len(LINKS) > 20  # the extraction itself works


@pytest.mark.parametrize(
    ("path", "line", "target"),
    LINKS,
    ids=[f"{p.relative_to(ROOT)}:{n}:{t}" for p, n, t in LINKS],
)
def test_relative_link_resolves(path: Path, line: int, target: str) -> None:
    problem = broken(path, target)
    assert problem is None, f"{path.relative_to(ROOT)}:{line}: broken link ({target}): {problem}"


def test_slugs_follow_github() -> None:
    assert slug("Loaders (`pystator.loaders`)") == "loaders-pystatorloaders"
    assert slug("6. Settings") == "6-settings"
    assert slug("Orchestrator: persistence by entity id") == "orchestrator-persistence-by-entity-id"
    assert slug("`meta`") == "meta"


def test_the_docs_index_lists_every_page() -> None:
    index = ROOT / "docs" / "index.md"
    listed = {
        (index.parent / target.partition("#")[0]).resolve()
        for _, target in links_of(index)
        if not SCHEME.match(target)
    }
    for page in sorted((ROOT / "docs").rglob("*.md")):
        if page != index:
            assert page.resolve() in listed, f"docs/index.md does not list {page.relative_to(ROOT)}"
