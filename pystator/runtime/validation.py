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

from dataclasses import dataclass

from pydantic import BaseModel

from pystator.engine import MachineIndex, compile_machine
from pystator.errors import ConfigIssue, ConfigurationError
from pystator.models.definition import MachineDefinition
from pystator.runtime.contract import ContextContract


@dataclass(frozen=True, slots=True)
class CheckedMachine:
    """A definition that passed every check: its compiled index and its context contract."""

    index: MachineIndex
    contract: ContextContract | None
    """``None`` unless the context is checked (``meta.validate_context`` or a model)."""


def check_machine(
    definition: MachineDefinition, *, context_model: type[BaseModel] | None = None
) -> CheckedMachine:
    """Compile ``definition`` and check what only a compiled machine can tell.

    Raises ``ConfigurationError`` (every problem with its path) for a definition that could
    not serve, and ``TypeError`` when ``context_model`` is not a Pydantic model class.
    """
    if context_model is not None and not (
        isinstance(context_model, type) and issubclass(context_model, BaseModel)
    ):
        raise TypeError("context_model must be a Pydantic model class")
    index = compile_machine(definition)
    contract: ContextContract | None = None
    if definition.meta.validate_context or context_model is not None:
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
        contract = ContextContract(definition.context, context_model)
    return CheckedMachine(index, contract)
