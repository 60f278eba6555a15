"""SCXML interchange: a definition as a W3C SCXML document, and an SCXML document as a
definition (``docs/scxml.md`` has the whole mapping).

* ``to_scxml(definition)``: the document; plain SCXML where SCXML has the element, the rest
  in PyStator's namespace (``urn:pystator:scxml:1``), so ``from_scxml`` reads it back equal;
* ``from_scxml(text)``: a ``MachineDefinition`` from a document, exported or written by hand;
  every element PyStator cannot express is a ``ConfigurationError`` naming it and its line;
* ``load_scxml_file(path)``: ``from_scxml`` of a file, a document without a name named after
  the file (``StateMachine.from_scxml`` and ``pystator import``);
* ``read_scxml(text)``: the plain data and the line of each path.

The modules: ``xml_io`` (safe reading, plain writing), ``conventions`` (the forms both
directions share), ``content`` (executable content), ``export``; and for reading,
``importer`` (the walk and the assembly), ``records``, ``timers`` (``<send delay>`` as
``after``) and ``transitions_in``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from pystator.errors import ConfigurationError
from pystator.loaders.definition_io import definition_from_data
from pystator.loaders.files import read_limited
from pystator.loaders.safe_yaml import DEFAULT_MAX_BYTES
from pystator.loaders.scxml.export import to_scxml
from pystator.loaders.scxml.importer import ScxmlImport, read_scxml
from pystator.loaders.scxml.xml_io import PYSTATOR_NS, SCXML_NS
from pystator.models.definition import MachineDefinition

__all__ = [
    "PYSTATOR_NS",
    "SCXML_NS",
    "ScxmlImport",
    "from_scxml",
    "load_scxml_file",
    "machine_name_of",
    "read_scxml",
    "to_scxml",
]


def from_scxml(
    text: str | bytes,
    *,
    name: str | None = None,
    source: str | None = None,
    check: Callable[[MachineDefinition], object] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> MachineDefinition:
    """The definition an SCXML document describes.

    ``name``: the machine's name when ``<scxml>`` has no ``name`` attribute. ``source``
    names the document in errors. ``check``: a further check of the definition (for example
    ``pystator.runtime.validation.check_machine``, which compiles the expressions); the
    problems it raises get their document lines too.

    Raises ``ConfigurationError`` with every problem and its line.
    """
    imported = read_scxml(text, name=name, max_bytes=max_bytes)
    try:
        definition = definition_from_data(imported.data, source=source)
        if check is not None:
            check(definition)
    except ConfigurationError as exc:
        raise imported.with_lines(exc) from None
    return definition


def machine_name_of(path: str | os.PathLike[str]) -> str:
    """A machine name from a file name, for a document whose ``<scxml>`` has none:
    ``traffic-light.scxml`` -> ``traffic_light``."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", Path(path).stem)
    return name if name[:1].isalpha() else f"m_{name}"


def load_scxml_file(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    check: Callable[[MachineDefinition], object] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> MachineDefinition:
    """``from_scxml`` of the file at ``path`` (read up to ``max_bytes``); a document without
    a ``name`` takes ``name``, else one made from the file name (``machine_name_of``)."""
    return from_scxml(
        read_limited(path, max_bytes),
        name=name or machine_name_of(path),
        source=str(path),
        check=check,
        max_bytes=max_bytes,
    )
