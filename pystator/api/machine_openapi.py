"""The OpenAPI document of one stored machine: its entity operations, typed.

``/openapi.json`` describes every machine at once, so an entity's context and an event's
payload are "any object" there. ``GET /api/v1/machines/{machine_id}/openapi.json`` is the
same operations for one machine, taken from the app's own document (FastAPI's, unchanged)
with the machine's id in the paths and its schemas in the bodies:

* ``POST .../entities``: ``context`` is the machine's context schema;
* ``POST .../entities/{entity_id}/events/<trigger>``: one operation per trigger a client
  can send (not ``done.state.*``, not a trigger that only labels delayed transitions), its
  ``context`` the trigger's payload schema (``events:`` or an event model), its description
  the event's;
* reading, listing and deleting entities and their history, as they are.

The app's components keep their names; a user model nested in the context or a payload whose
name is taken (``TimerSpec``, ``Context``, ...) is placed as ``<owner>_<name>``, its
references rewritten.

``/docs?machine=<id>`` renders it with Swagger UI, so a person sees each trigger's fields.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from pystator.runtime.machine import StateMachine

ENTITIES = "/api/v1/machines/{machine_id}/entities"
BY_TRIGGER = ENTITIES + "/{entity_id}/events/{trigger}"
GENERIC_EVENTS = ENTITIES + "/{entity_id}/events"
COMPONENTS = "#/components/schemas/"
_REF = re.compile(r"^#/\$defs/")
_METHODS = ("get", "put", "post", "delete", "patch")
DONE_PREFIX = "done.state."
_REPLACED = frozenset({"EntityCreate"})
"""App components the document replaces by a typed copy of its own (same name)."""


def sendable_triggers(machine: StateMachine) -> tuple[str, ...]:
    """The triggers a client can send, in document order: not ``done.state.*`` (the engine
    raises those), not one that only labels delayed transitions (only its timer fires it)."""
    sendable = {
        t.trigger
        for t in machine.definition.transitions
        if t.trigger is not None and t.after is None and not t.trigger.startswith(DONE_PREFIX)
    }
    return tuple(t for t in machine.triggers if t in sendable)


def machine_openapi(
    app_document: dict[str, Any], machine_id: str, machine: StateMachine
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``machine``'s entity operations (see the module doc).

    ``app_document`` is the app's ``/openapi.json`` (not changed).
    """
    triggers = sendable_triggers(machine)
    app_schemas: dict[str, Any] = app_document.get("components", {}).get("schemas", {})
    # The app's components keep their names (those the document refers to are copied in
    # last), and the document's own names are given next: a user model nested in the
    # context or a payload that has one of them is placed under another name.
    components = _Components(set(app_schemas) - _REPLACED)
    create_name = components.claim("EntityCreate", "Machine")
    context_name = components.claim("Context", "Machine")
    event_names = {t: components.claim(f"{t}_event", "Machine") for t in triggers}
    payload_names = {t: components.claim(f"{t}_payload", "Machine") for t in triggers}
    context = components.add(context_name, machine.context_schema())
    declared = machine.event_schemas()
    payloads = {t: components.add(payload_names[t], declared[t]) for t in triggers if t in declared}
    schemas = components.schemas
    source_paths: dict[str, Any] = app_document["paths"]
    paths: dict[str, Any] = {}
    for path, item in source_paths.items():
        if not path.startswith(ENTITIES) or path in (BY_TRIGGER, GENERIC_EVENTS):
            continue
        paths[_for_machine(path, machine_id)] = _without_machine_id(item)
    create = paths[_for_machine(ENTITIES, machine_id)]["post"]
    create["requestBody"] = _body_with_context(
        app_document,
        create["requestBody"],
        schemas,
        create_name,
        context,
        f"A new entity of machine '{machine_id}', its context checked by the context schema.",
    )
    send = source_paths[BY_TRIGGER]["post"]
    for trigger in triggers:
        operation = _without_machine_id({"post": send})["post"]
        operation["parameters"] = [
            p for p in operation.get("parameters", []) if p.get("name") != "trigger"
        ]
        operation["operationId"] = f"{send['operationId']}_{trigger}"
        operation["summary"] = f"Send {trigger}"
        operation["tags"] = ["events"]
        spec = machine.definition.events.get(trigger)
        if spec is not None and spec.description:
            operation["description"] = f"{spec.description}\n\n{operation.get('description', '')}"
        payload = payloads.get(trigger, {"type": "object", "title": f"{trigger} payload"})
        operation["requestBody"] = _body_with_context(
            app_document,
            operation["requestBody"],
            schemas,
            event_names[trigger],
            payload,
            f"The body of 'Send {trigger}': the payload in 'context'.",
        )
        path = _for_machine(BY_TRIGGER, machine_id).replace("{trigger}", trigger)
        paths[path] = {"post": operation}
    definition = machine.definition
    document: dict[str, Any] = {
        "openapi": app_document["openapi"],
        "info": {
            "title": f"{definition.meta.machine_name} {definition.meta.version}",
            "version": definition.meta.version,
            "description": (definition.meta.description or "")
            + f"\n\nThe entity operations of machine '{machine_id}', with its context and "
            "each trigger's payload. The whole API: /openapi.json.",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }
    security = app_document.get("components", {}).get("securitySchemes")
    if security:
        document["components"]["securitySchemes"] = copy.deepcopy(security)
    _copy_referenced(app_document, document)
    return document


def _for_machine(path: str, machine_id: str) -> str:
    return path.replace("{machine_id}", machine_id)


def _without_machine_id(item: dict[str, Any]) -> dict[str, Any]:
    """A path item's operations, copied, without the (now fixed) machine_id parameter."""
    out: dict[str, Any] = {}
    for method, operation in item.items():
        if method not in _METHODS:
            continue
        operation = copy.deepcopy(operation)
        parameters = [p for p in operation.get("parameters", []) if p.get("name") != "machine_id"]
        operation["parameters"] = parameters
        out[method] = operation
    return out


class _Components:
    """The document's ``components.schemas``, and the names taken in it.

    ``taken`` starts with the names kept for others (the app's components); the document's
    own names are ``claim``-ed next, then each ``$defs`` entry of a user schema gets its own
    name or, when that is taken, ``<owner>_<name>`` (``_2``, ``_3``, ... if needed).
    """

    def __init__(self, taken: set[str]) -> None:
        self.schemas: dict[str, Any] = {}
        self._taken = taken

    def claim(self, name: str, owner: str) -> str:
        """``name``, or the first free ``<owner>_<name>[_<n>]``; taken from now on."""
        candidate = name if name not in self._taken else f"{owner}_{name}"
        n = 2
        while candidate in self._taken:
            candidate = f"{owner}_{name}_{n}"
            n += 1
        self._taken.add(candidate)
        return candidate

    def add(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        """Put a standalone JSON Schema under ``name`` (claimed already), its ``$defs``
        beside it under names of their own (its ``$ref``s rewritten); return a ``$ref`` to
        it."""
        schema = copy.deepcopy(schema)
        schema.pop("$schema", None)
        defs: dict[str, Any] = schema.pop("$defs", {})
        renamed = {key: self.claim(key, name) for key in defs}
        _point_refs(schema, renamed)
        for key, sub in defs.items():
            _point_refs(sub, renamed)
            self.schemas[renamed[key]] = sub
        self.schemas[name] = schema
        return {"$ref": COMPONENTS + name}


def _point_refs(node: Any, renamed: dict[str, str]) -> None:
    """``#/$defs/X`` -> ``#/components/schemas/<renamed X>``, in place (iteratively)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and _REF.match(ref):
                key = ref.removeprefix("#/$defs/")
                item["$ref"] = COMPONENTS + renamed.get(key, key)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _body_with_context(
    app_document: dict[str, Any],
    request_body: dict[str, Any],
    schemas: dict[str, Any],
    name: str,
    context: dict[str, Any],
    description: str,
) -> dict[str, Any]:
    """``request_body`` with its model copied as ``name`` (``description``), its ``context``
    property typed."""
    body = copy.deepcopy(request_body)
    media = body["content"]["application/json"]
    model = _resolve(app_document, media["schema"])
    typed = copy.deepcopy(model)
    described = typed["properties"]["context"].get("description")
    typed["properties"]["context"] = (
        {**context, "description": described} if described else dict(context)
    )
    typed["title"] = name
    typed["description"] = description
    schemas[name] = typed
    media["schema"] = {"$ref": COMPONENTS + name}
    return body


def _resolve(app_document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The object schema behind ``schema``: a ``$ref``, or a ``T | None`` of one."""
    for option in schema.get("anyOf", [schema]):
        ref = option.get("$ref")
        if isinstance(ref, str):
            found: dict[str, Any] = app_document["components"]["schemas"][
                ref.removeprefix(COMPONENTS)
            ]
            return found
    raise ValueError(f"not a reference to a model: {schema}")


def _copy_referenced(app_document: dict[str, Any], document: dict[str, Any]) -> None:
    """Copy every component of ``app_document`` that ``document`` refers to, transitively
    (a name the document has already is its own typed copy: see ``_REPLACED``)."""
    source = app_document.get("components", {}).get("schemas", {})
    target = document["components"]["schemas"]
    stack: list[Any] = [document["paths"], dict(target)]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith(COMPONENTS):
                name = ref.removeprefix(COMPONENTS)
                if name not in target and name in source:
                    target[name] = copy.deepcopy(source[name])
                    stack.append(target[name])
            stack.extend(v for k, v in item.items() if k != "$ref")
        elif isinstance(item, list):
            stack.extend(item)
