"""Named guards whose outcomes come with the request: the API never assumes one passed.

The service has no Python guard functions. Each named guard of a machine is bound to a
stand-in that answers with the outcome the current request supplied (a context variable,
so one compiled machine serves concurrent requests), and raises ``MissingGuardOutcome`` when
the engine asks for a guard the request did not supply: the API answers 422 naming it.
Inline ``expr`` guards are evaluated by the engine as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel

from pystator.models.definition import GuardSpec, MachineDefinition
from pystator.runtime.machine import StateMachine

_OUTCOMES: ContextVar[Mapping[str, bool] | None] = ContextVar(
    "pystator_api_guard_outcomes", default=None
)


class MissingGuardOutcome(Exception):
    """The transition needs the named guard ``name`` and the request did not give it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def named_guards(definition: MachineDefinition) -> list[str]:
    """Names of the named guards of ``definition``, in document order, each once."""
    names: dict[str, None] = {}
    for transition in definition.transitions:
        for guard in transition.guards:
            if isinstance(guard, str):
                names[guard] = None
            elif isinstance(guard, GuardSpec) and guard.name is not None:
                names[guard.name] = None
    return list(names)


def _stand_in(name: str) -> Callable[..., bool]:
    def guard(ctx: Any, **_params: Any) -> bool:
        outcomes = _OUTCOMES.get()
        if outcomes is None or name not in outcomes:
            raise MissingGuardOutcome(name)
        return outcomes[name]

    guard.__name__ = f"supplied_{name}"
    return guard


def machine_with_supplied_guards(
    definition: MachineDefinition,
    *,
    context_model: type[BaseModel] | None = None,
    event_models: Mapping[str, type[BaseModel]] | None = None,
) -> StateMachine:
    """A compiled machine whose named guards answer from ``supplying(...)`` (with the
    context and payload models of a machine registered in Python, if given)."""
    machine = StateMachine.from_definition(
        definition, context_model=context_model, event_models=event_models
    )
    for name in named_guards(definition):
        machine.guard_registry.register(name, _stand_in(name))
    return machine


@contextmanager
def supplying(outcomes: Mapping[str, bool]) -> Iterator[None]:
    """Within the block, named guards answer with ``outcomes``."""
    token = _OUTCOMES.set(outcomes)
    try:
        yield
    finally:
        _OUTCOMES.reset(token)
