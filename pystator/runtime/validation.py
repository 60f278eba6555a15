"""The checks a machine must pass before it serves, in one place for every way in.

A definition reaches the engine by many roads: ``StateMachine`` (``from_yaml``, ``from_json``,
``from_dict``, ``from_definition`` and the rest), ``pystator validate``, ``POST
/api/v1/validate``, ``/api/v1/machines`` and the machines directory the API stores at start-up.
Each parses its own format into a ``MachineDefinition`` (the loaders: field checks and
cross-reference checks, every problem with its path), then calls ``check_machine``, which does
what only a compiled machine can tell (inline ``expr`` guards parse and use only what the
expression language allows, ``meta.validate_context`` has a contract to check). So a
definition one of them accepts, all of them accept, and what they refuse, they refuse with the
same messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel

from pystator.engine import MachineIndex, compile_machine
from pystator.errors import ConfigIssue, ConfigurationError
from pystator.models.checks import suggest
from pystator.models.definition import MachineDefinition
from pystator.runtime.contract import ContextContract, EventContract, TypedContext


@dataclass(frozen=True, slots=True)
class CheckedMachine:
    """A definition that passed every check: its compiled index, its context contract, its
    context model and its declared event payloads."""

    index: MachineIndex
    contract: ContextContract | None
    """``None`` unless the context is checked (``meta.validate_context`` or a model)."""
    typed: TypedContext | None = None
    """The context model given as ``context_model=`` (contexts become its instances)."""
    events: Mapping[str, EventContract] = field(default_factory=dict)
    """trigger -> its declared payload (``events:`` or ``event_models=``; a model wins)."""


def _is_model(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def check_machine(
    definition: MachineDefinition,
    *,
    context_model: type[BaseModel] | None = None,
    event_models: Mapping[str, type[BaseModel]] | None = None,
) -> CheckedMachine:
    """Compile ``definition`` and check what only a compiled machine can tell.

    Raises ``ConfigurationError`` (every problem with its path) for a definition that could
    not serve (or an ``event_models`` key that is not a trigger, an ``assign`` of a field the
    context model does not have), and ``TypeError`` when ``context_model`` is not a Pydantic
    model class.
    """
    if context_model is not None and not _is_model(context_model):
        raise TypeError("context_model must be a Pydantic model class")
    index = compile_machine(definition)
    contract = _context_contract(definition, context_model)
    issues: list[ConfigIssue] = []
    typed = TypedContext(context_model) if context_model is not None else None
    if typed is not None and not typed.open:
        issues.extend(_unknown_assign_fields(index, typed))
    events: dict[str, EventContract] = {
        trigger: EventContract.from_spec(trigger, spec)
        for trigger, spec in definition.events.items()
    }
    if event_models is not None:
        issues.extend(_add_event_models(events, event_models, index, definition))
    if issues:
        raise ConfigurationError(issues)
    return CheckedMachine(index, contract, typed, events)


def _context_contract(
    definition: MachineDefinition, context_model: type[BaseModel] | None
) -> ContextContract | None:
    """The contract contexts are checked against; ``None`` when they are not checked."""
    if not definition.meta.validate_context and context_model is None:
        return None
    if definition.context is None and context_model is None:
        raise ConfigurationError(
            [
                ConfigIssue(
                    "meta.validate_context",
                    "is true but there is no contract to check: add a 'context' "
                    "section or pass context_model=YourModel",
                )
            ]
        )
    return ContextContract(definition.context, context_model)


def _add_event_models(
    events: dict[str, EventContract],
    event_models: Mapping[str, type[BaseModel]],
    index: MachineIndex,
    definition: MachineDefinition,
) -> list[ConfigIssue]:
    """Put each of ``event_models`` in ``events`` (a model wins over a declared spec); the
    problems of those that are not a trigger's or not a model class."""
    if not isinstance(event_models, Mapping):
        raise TypeError("event_models must be a mapping of trigger -> Pydantic model class")
    issues: list[ConfigIssue] = []
    for trigger, model in event_models.items():
        where = f"event_models.{trigger}"
        if trigger not in index.triggers:
            issues.append(
                ConfigIssue(
                    where,
                    f"'{trigger}' is not a trigger of machine "
                    f"'{definition.meta.machine_name}'"
                    f"{suggest(str(trigger), sorted(index.triggers))}",
                )
            )
        elif not _is_model(model):
            issues.append(ConfigIssue(where, "must be a Pydantic model class"))
        else:
            events[trigger] = EventContract(trigger, model)
    return issues


def _unknown_assign_fields(index: MachineIndex, typed: TypedContext) -> list[ConfigIssue]:
    """``assign`` items writing a key the context model does not have (it would be lost)."""
    items = [a for assigns in index.assigns.values() for a in assigns]
    for node in index.states.values():
        items.extend(node.enter_assigns)
        items.extend(node.exit_assigns)
    return [
        ConfigIssue(
            f"{assign.path}.{name}",
            f"'{name}' is not a field of context model {typed.model.__name__}"
            f"{suggest(name, sorted(typed.fields))}",
        )
        for assign in items
        for name, _, _ in assign.items
        if name not in typed.fields
    ]
