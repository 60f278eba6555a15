"""Guards and actions a definition names that nobody registers.

PyStator registers nothing on import: guards and actions live in registries the user holds
(``GuardRegistry``, ``ActionRegistry``), on a ``StateMachine`` (``machine.guard``,
``machine.action``, ``bind_guards``), behind an ``ActionExecutor`` or an ``Orchestrator``, or
as the methods of a class machine (``pystator.Machine``). ``registrations_in`` collects the
names from such objects (``pystator lint --module`` passes the module-level objects of the
modules it imports, and the values of module-level dicts, lists and tuples); ``unregistered``
reports each guard and action the definition names that is not among them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType

from pystator.models.checks import suggest
from pystator.models.definition import (
    ActionItem,
    AssignSpec,
    MachineDefinition,
    RaiseSpec,
)
from pystator.models.tree import flatten
from pystator.runtime.lint.findings import (
    UNREGISTERED_ACTION,
    UNREGISTERED_GUARD,
    Finding,
    finding,
)


@dataclass(frozen=True, slots=True)
class Registrations:
    """The guard and action names some registry answers to."""

    guards: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not self.guards and not self.actions


def registrations_in(objects: Iterable[object]) -> Registrations:
    """The guard and action names registered in ``objects``: registries, state machines,
    action executors, orchestrators and class machines (their public methods); anything
    else is ignored."""
    from pystator.runtime.classes import Machine
    from pystator.runtime.executor import ActionExecutor
    from pystator.runtime.machine import StateMachine
    from pystator.runtime.orchestrator import Orchestrator
    from pystator.runtime.registry import ActionRegistry, GuardRegistry

    guards: set[str] = set()
    actions: set[str] = set()
    for obj in objects:
        if isinstance(obj, Orchestrator):
            obj = obj.machine
        if isinstance(obj, GuardRegistry):
            guards.update(obj)
        elif isinstance(obj, ActionRegistry):
            actions.update(obj)
        elif isinstance(obj, ActionExecutor):
            actions.update(obj.registry)
        elif isinstance(obj, StateMachine):
            guards.update(obj.guard_registry)
            actions.update(obj.action_registry)
        elif isinstance(obj, type) and issubclass(obj, Machine) and obj is not Machine:
            methods = _public_methods(obj, Machine)
            guards.update(methods)
            actions.update(methods)
    return Registrations(frozenset(guards), frozenset(actions))


def registrations_of_module(module: ModuleType) -> Registrations:
    """``registrations_in`` the module-level objects of ``module``, and the values of its
    module-level dicts, lists and tuples (a table of machines or orchestrators)."""
    objects: list[object] = []
    for value in vars(module).values():
        objects.append(value)
        if isinstance(value, Mapping):
            objects.extend(value.values())
        elif isinstance(value, list | tuple):
            objects.extend(value)
    return registrations_in(objects)


def merge(all_registrations: Iterable[Registrations]) -> Registrations:
    """The names of several modules together."""
    guards: set[str] = set()
    actions: set[str] = set()
    for registrations in all_registrations:
        guards.update(registrations.guards)
        actions.update(registrations.actions)
    return Registrations(frozenset(guards), frozenset(actions))


def _public_methods(cls: type, base: type) -> set[str]:
    """Names of the callables a class machine defines (its own and its machine bases')."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is base or not issubclass(klass, base):
            continue
        for key, value in vars(klass).items():
            method = value.__func__ if isinstance(value, staticmethod | classmethod) else value
            if not key.startswith("_") and callable(method) and not isinstance(method, type):
                names.add(key)
    return names


# ----------------------------------------------------------------------------- the rule
def unregistered(definition: MachineDefinition, registrations: Registrations) -> list[Finding]:
    """Each named guard and action of ``definition`` that ``registrations`` lacks, once per
    name, at its first use (guards first, then actions, in document order)."""
    guards: dict[str, list[str]] = {}
    for i, t in enumerate(definition.transitions):
        for j, guard in enumerate(t.guards):
            name = guard if isinstance(guard, str) else guard.name
            if name is not None:
                guards.setdefault(name, []).append(f"transitions[{i}].guards[{j}]")
    actions: dict[str, list[str]] = {}
    for tree_node in flatten(definition.states):
        state = tree_node.state
        if state is not None:
            _action_uses(actions, f"{tree_node.path}.on_enter", state.on_enter)
            _action_uses(actions, f"{tree_node.path}.on_exit", state.on_exit)
    for i, t in enumerate(definition.transitions):
        _action_uses(actions, f"transitions[{i}].actions", t.actions)
    found = _missing(UNREGISTERED_GUARD, "guard", guards, registrations.guards)
    found.extend(_missing(UNREGISTERED_ACTION, "action", actions, registrations.actions))
    return found


def _action_uses(uses: dict[str, list[str]], path: str, items: tuple[ActionItem, ...]) -> None:
    for k, item in enumerate(items):
        if isinstance(item, AssignSpec | RaiseSpec):
            continue
        name = item if isinstance(item, str) else item.name
        uses.setdefault(name, []).append(f"{path}[{k}]")


def _missing(
    code: str, kind: str, uses: dict[str, list[str]], known: frozenset[str]
) -> list[Finding]:
    found: list[Finding] = []
    for name, paths in uses.items():
        if name in known:
            continue
        more = len(paths) - 1
        elsewhere = f" (used {more} more time{'s' if more > 1 else ''})" if more else ""
        found.append(
            finding(
                code,
                paths[0],
                f"{kind} '{name}' is not registered by the given modules{elsewhere}: "
                f"register it, or fix the name{suggest(name, sorted(known))}",
            )
        )
    return found
