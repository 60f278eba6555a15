"""Find the code blocks of the README and docs/ and say how each is to be checked.

A block is a fenced block (```lang ... ```). An HTML comment on the line before the fence
(blank lines between are allowed) gives directives, separated by ``;``:

* ``<!-- snippet: skip (why) -->``: not run; say why.
* ``<!-- snippet: file=order_fsm.yaml -->``: the block's text is written to that file in the
  directory where later blocks of the same document run. When ``examples/`` has a file of
  that name, the two must hold the same data.
* ``<!-- snippet: continue -->``: a python block that runs in the namespace of the previous
  python block of the same document (instead of a fresh one).
* ``<!-- snippet: session=NAME -->``: a python block that runs after every earlier python block
  of the same document with the same session name, in one namespace.
* ``<!-- snippet: invalid -->``: a yaml block that shows a definition which must be refused.
* ``<!-- snippet: output -->``: a text block holding exactly what the python block before it
  prints.
* ``<!-- snippet: extra=api -->``: the extra a python block documents (``core``: none); its
  imports must work with only what ``pip install '.[EXTRA]'`` installs (default ``all``;
  ``test_extras.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
DIRECTIVE = re.compile(r"^\s*<!--\s*snippet:\s*(?P<body>.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown file."""

    path: Path
    line: int
    """Line of the opening fence (1-based)."""
    lang: str
    code: str
    directives: dict[str, str] = field(default_factory=dict)

    @property
    def doc(self) -> str:
        return str(self.path.relative_to(ROOT))

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"

    @property
    def skipped(self) -> bool:
        return "skip" in self.directives

    @property
    def file(self) -> str | None:
        return self.directives.get("file")


def parse_directives(body: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in body.split(";"):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if sep:
            out[key.strip()] = value.strip()
        else:
            word, _, rest = part.partition(" ")
            out[word] = rest.strip()
    return out


def blocks_of(path: Path) -> list[Block]:
    """Every fenced block of ``path``, in document order, with its directives."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    pending: dict[str, str] = {}
    while i < len(lines):
        text = lines[i]
        directive = DIRECTIVE.match(text)
        if directive:
            pending = parse_directives(directive.group("body"))
            i += 1
            continue
        opening = FENCE.match(text)
        if opening is None:
            if text.strip():
                pending = {}
            i += 1
            continue
        fence = opening.group("fence")
        lang = opening.group("info").strip().split(" ")[0].lower()
        body: list[str] = []
        start = i + 1
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        if i >= len(lines):
            raise ValueError(f"{path}:{start}: unclosed code fence")
        blocks.append(Block(path, start, lang, "\n".join(body) + "\n", pending))
        pending = {}
        i += 1
    return blocks


def documents() -> list[Path]:
    """README.md and every Markdown file under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def all_blocks() -> list[Block]:
    return [block for doc in documents() for block in blocks_of(doc)]
