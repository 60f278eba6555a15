"""The OpenAPI document: FastAPI's, plus ``MachineDefinition`` and its parts as components.

Definitions travel as plain JSON (``DefinitionData``) so the loader validates them once and
the compiled machine can be cached; their schema is still the canonical model's, added here
under ``#/components/schemas/MachineDefinition``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from pystator.api.schemas import DEFINITION_MARK
from pystator.models.definition import MachineDefinition

REF_TEMPLATE = "#/components/schemas/{model}"


def definition_components() -> dict[str, Any]:
    """``MachineDefinition`` and every model it uses, as OpenAPI components."""
    schema = MachineDefinition.model_json_schema(ref_template=REF_TEMPLATE)
    components: dict[str, Any] = dict(schema.pop("$defs", {}))
    schema.pop("$schema", None)
    components["MachineDefinition"] = schema
    return components


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` include the definition components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in definition_components().items():
            # A part FastAPI already emitted (ActionSpec, from the results) is the same model.
            schemas.setdefault(name, schema)
        _point_to_definition(document)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _point_to_definition(node: Any) -> None:
    """Replace every schema marked ``DEFINITION_MARK`` by a ``$ref`` to MachineDefinition."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(value, dict) and value.get(DEFINITION_MARK):
                    item[key] = {"$ref": REF_TEMPLATE.format(model="MachineDefinition")}
                else:
                    stack.append(value)
        elif isinstance(item, list):
            for position, value in enumerate(item):
                if isinstance(value, dict) and value.get(DEFINITION_MARK):
                    item[position] = {"$ref": REF_TEMPLATE.format(model="MachineDefinition")}
                else:
                    stack.append(value)
