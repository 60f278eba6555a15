"""Turning request bodies into definitions, with problems reported under the body's paths."""

from __future__ import annotations

from collections.abc import Iterable

from pystator.api.problems import ApiError, issue_items
from pystator.api.schemas import AnyConfigInput, ConfigInput, ErrorItem, YamlInput
from pystator.api.supplied_guards import named_guards
from pystator.errors import ConfigurationError
from pystator.loaders import definition_from_data, load_yaml_string
from pystator.models.definition import MachineDefinition
from pystator.runtime.machine import StateMachine

Body = ConfigInput | AnyConfigInput | YamlInput


def parse_definition(body: Body) -> MachineDefinition:
    """The definition in ``body`` (``config`` or ``yaml``); ``ConfigurationError`` if invalid."""
    if isinstance(body, YamlInput):
        return load_yaml_string(body.yaml)
    return definition_from_data(body.config)


def checked_definition(body: Body) -> MachineDefinition:
    """The definition in ``body``, compiled once to be sure it is usable; a 422 otherwise."""
    where = "body.yaml" if isinstance(body, YamlInput) else "body.config"
    try:
        definition = parse_definition(body)
        StateMachine.from_definition(definition)
    except ConfigurationError as exc:
        items = issue_items(exc.issues, where)
        raise ApiError(422, f"invalid machine definition: {exc.issues[0]}", items) from None
    return definition


def unknown_guards_error(unknown: Iterable[str], definition: MachineDefinition) -> ApiError:
    names = sorted(unknown)
    known = ", ".join(named_guards(definition)) or "none"
    detail = (
        f"'guards' names {len(names)} guard(s) the machine does not have: "
        f"{', '.join(repr(n[:80]) for n in names[:5])} (its named guards: {known})"
    )
    items = [ErrorItem(path=f"body.guards.{n[:80]}", message="no such named guard") for n in names]
    return ApiError(422, detail, items[:20])
