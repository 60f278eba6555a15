"""The JSON Schema of a machine definition file, as one document: what ``pystator schema``
prints, ``schemas/machine.schema.json`` holds, editors use and the web UI's editor completes
and explains from (``GET /ui/api/schema``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def major_of(version: str) -> str:
    """The major part of a version (``"1"`` of ``"1.4.2"``), as the snapshot check reads it,
    made safe for a URN."""
    return quote(version.split(".")[0].strip() or "0", safe="")


def machine_schema() -> dict[str, Any]:
    """The JSON Schema of a machine definition file.

    Its ``$id`` is a URN, ``urn:pystator:schema:machine:<major version of PyStator>``: it
    names the format wherever the file is stored (a relative id would resolve against the
    file's own place and break once copied under another name) and changes only when the
    definition format breaks.
    """
    from pystator._version import __version__
    from pystator.models.definition import MachineDefinition

    schema = MachineDefinition.model_json_schema()
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:pystator:schema:machine:{major_of(__version__)}",
        **{k: v for k, v in schema.items() if k not in {"$schema", "$id"}},
    }
