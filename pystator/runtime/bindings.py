"""Binding guards and actions to a machine: the registries a machine's names resolve in.

A definition names its guards and actions; the functions behind the names live in a
``GuardRegistry`` and an ``ActionRegistry`` (``runtime/registry.py``). Each machine starts
with its own pair: ``guard`` and ``action`` are decorators that register into them, and
``bind_guards`` and ``bind_actions`` swap in a registry shared with others (an
``Orchestrator``'s, a class machine's), keeping what was registered on the machine before.
These are bound as methods of ``StateMachine``. Guards are answered by
``runtime/guard_drivers.py`` and the fast path, actions run by the ``ActionExecutor``
(``StateMachine.executor``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pystator.runtime.registry import ActionRegistry, GuardRegistry

if TYPE_CHECKING:
    from pystator.runtime.machine import StateMachine

F = TypeVar("F", bound=Callable[..., Any])


def guard(machine: StateMachine, name: str | None = None) -> Callable[[F], F]:
    """Decorator registering a guard on this machine: ``@machine.guard("is_full_fill")``."""
    return machine.guard_registry.decorator(name)


def action(machine: StateMachine, name: str | None = None) -> Callable[[F], F]:
    """Decorator registering an action on this machine: ``@machine.action("notify")``."""
    return machine.action_registry.decorator(name)


def bind_guards(machine: StateMachine, registry: GuardRegistry) -> None:
    """Use ``registry`` for guards from now on (later registrations in it are seen).

    Guards registered on the machine before are copied into ``registry`` unless it has its
    own function under the same name.
    """
    if not isinstance(registry, GuardRegistry):
        raise TypeError(f"bind_guards expects a GuardRegistry, got {type(registry).__name__}")
    _carry_over(machine.guard_registry, registry)
    machine.guard_registry = registry
    # The registry's own dict, held directly: guards are looked up in it on every event.
    machine._guards = registry._items


def bind_actions(machine: StateMachine, registry: ActionRegistry) -> None:
    """Use ``registry`` for actions from now on (same rules as ``bind_guards``)."""
    if not isinstance(registry, ActionRegistry):
        raise TypeError(f"bind_actions expects an ActionRegistry, got {type(registry).__name__}")
    _carry_over(machine.action_registry, registry)
    machine.action_registry = registry
    machine._executor = None


def _carry_over(old: GuardRegistry | ActionRegistry, new: GuardRegistry | ActionRegistry) -> None:
    """Register in ``new`` what ``old`` has under a name ``new`` does not have."""
    for name in old:
        if name not in new:
            new.register(name, old._items[name])
