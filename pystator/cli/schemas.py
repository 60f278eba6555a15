"""The JSON Schema documents ``pystator schema`` prints.

* ``machine_schema``/``schema_text``: the schema of a machine definition file, the one
  ``schemas/machine.schema.json`` holds and editors use.
* ``machine_data_schemas``: the schemas of what one machine's users write, its context and
  each declared event payload.

Both give complete documents (``$schema``, a URN ``$id`` carrying the major version) so a
file keeps its meaning wherever it is copied.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pystator.runtime.machine import StateMachine

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _major(version: str) -> str:
    """The major part of a version (``"1"`` of ``"1.4.2"``), as the snapshot check reads it,
    made safe for a URN."""
    from urllib.parse import quote

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
        "$id": f"urn:pystator:schema:machine:{_major(__version__)}",
        **{k: v for k, v in schema.items() if k not in {"$schema", "$id"}},
    }


def schema_text() -> str:
    """``machine_schema()`` as the text ``pystator schema`` prints."""
    return json_text(machine_schema())


def json_text(document: dict[str, Any]) -> str:
    """A schema document as printed and written: indented, keys in order, a final newline."""
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def machine_data_schemas(machine: StateMachine) -> dict[str, Any]:
    """The JSON Schemas of what a machine's users write: its context and each declared event
    payload, as ``{"context": {...}, "events": {trigger: {...}}}``.

    Each schema is a complete document (``$schema``, a ``title``, and an ``$id``
    ``urn:pystator:machine:<name>:<major version>:context`` or ``...:event:<trigger>``).
    """
    name = machine.name
    base = f"urn:pystator:machine:{name}:{_major(machine.version)}"

    def document(
        schema: dict[str, Any], id_: str, title: str, description: str | None = None
    ) -> dict[str, Any]:
        head: dict[str, Any] = {"$schema": JSON_SCHEMA_DIALECT, "$id": id_, "title": title}
        if description and "description" not in schema:
            head["description"] = description  # editors show it on hover
        return {**head, **{k: v for k, v in schema.items() if k not in {"$schema", "$id"}}}

    events: dict[str, Any] = {}
    for trigger, schema in machine.event_schemas().items():
        spec = machine.definition.events.get(trigger)
        events[trigger] = document(
            schema,
            f"{base}:event:{trigger}",
            f"{name} event {trigger}",
            spec.description if spec is not None else None,
        )
    return {
        "context": document(machine.context_schema(), f"{base}:context", f"{name} context"),
        "events": events,
    }
