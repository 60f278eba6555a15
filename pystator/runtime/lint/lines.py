"""The line of a finding in the file its definition was read from.

The YAML reader already keeps the line of every key and list item (``LoadedYAML.line_of``,
what puts ``(line 5)`` in validation errors); a finding's path (``states[3].on_enter[0]``)
walks that document. JSON text is read the same way (YAML's flow style is a superset of it),
so both formats get lines; text that does not parse gives none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pystator.errors import ConfigurationError
from pystator.loaders import load_yaml_text
from pystator.runtime.lint.findings import Finding

_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def path_parts(path: str) -> tuple[str | int, ...]:
    """``"states[3].on_enter[0]"`` -> ``("states", 3, "on_enter", 0)``."""
    return tuple(int(index) if index else key for key, index in _STEP.findall(path))


def with_lines(findings: Sequence[Finding], text: str) -> list[Finding]:
    """``findings`` with the line each path points to in ``text`` (a YAML or JSON document);
    unchanged when there are none or the text does not parse."""
    if not findings:
        return list(findings)
    try:
        document = load_yaml_text(text)
    except ConfigurationError:
        return list(findings)
    return [f.with_line(document.line_of(path_parts(f.path))) for f in findings]
