"""The JSON Schema documents ``pystator schema`` prints.

* ``machine_schema`` (from ``pystator.models.json_schema``)/``schema_text``: the schema of a
  machine definition file, the one ``schemas/machine.schema.json`` holds and editors use.
* ``machine_data_schemas``: the schemas of what one machine's users write, its context and
  each declared event payload.

Both give complete documents (``$schema``, a URN ``$id`` carrying the major version) so a
file keeps its meaning wherever it is copied.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

# Re-exported: ``pystator.cli`` has always offered them.
from pystator.models.json_schema import JSON_SCHEMA_DIALECT as JSON_SCHEMA_DIALECT
from pystator.models.json_schema import machine_schema as machine_schema
from pystator.models.json_schema import major_of as _major

if TYPE_CHECKING:
    from pystator.runtime.machine import StateMachine


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
