"""Lint a machine definition: what is valid but cannot be meant (``docs/lint.md``).

``lint_definition`` runs every rule on a definition that passed validation and returns the
findings (warnings; an empty list means clean), each with a stable code, the path of the part
it is about and a message saying how to fix it:

* ``unreachable-state``, ``dead-end-state`` (``dead_ends``), ``shadowed-transition``,
  ``dead-trigger`` and ``never-done`` (``rules``), from a reachability fixpoint over the
  compiled ``MachineIndex`` (``reach``; ``settle``: the states an unguarded eventless
  transition leaves at once): guards are taken as able to pass, so what it says cannot
  happen cannot happen;
* ``unregistered-guard`` and ``unregistered-action`` (``registrations``), only when the
  registered names are given (``pystator lint --module``).

``with_lines`` (``lines``) adds the line of each finding in the YAML or JSON text the
definition was read from. Pure: no I/O, nothing imported, nothing run.
"""

from __future__ import annotations

from pystator.engine import MachineIndex, compile_machine
from pystator.models.definition import MachineDefinition
from pystator.models.tree import flatten
from pystator.runtime.lint.dead_ends import dead_end_states
from pystator.runtime.lint.findings import CODES, Finding
from pystator.runtime.lint.lines import path_parts, with_lines
from pystator.runtime.lint.reach import Reachability, reachability
from pystator.runtime.lint.registrations import (
    Registrations,
    merge,
    registrations_in,
    registrations_of_module,
    unregistered,
)
from pystator.runtime.lint.rules import (
    dead_triggers,
    never_done,
    shadowed,
    shadowed_transitions,
    unreachable_states,
)

__all__ = [
    "CODES",
    "Finding",
    "Reachability",
    "Registrations",
    "lint_definition",
    "merge",
    "path_parts",
    "reachability",
    "registrations_in",
    "registrations_of_module",
    "with_lines",
]


def lint_definition(
    definition: MachineDefinition,
    *,
    index: MachineIndex | None = None,
    registrations: Registrations | None = None,
) -> list[Finding]:
    """Every finding about ``definition`` (a valid one), rule by rule, each in document order.

    ``index``: its compiled index, when the caller has it (``StateMachine.index``); compiled
    here otherwise (a ``ConfigurationError`` if an expression does not compile).
    ``registrations``: the guard and action names registered; ``None`` skips the
    ``unregistered-*`` rules.
    """
    if index is None:
        index = compile_machine(definition)
    nodes = flatten(definition.states)
    beaten = shadowed(index)
    reach = reachability(index, never=beaten)
    findings = unreachable_states(index, reach, nodes)
    findings.extend(dead_end_states(index, reach, nodes, never=beaten))
    findings.extend(shadowed_transitions(index, beaten))
    findings.extend(dead_triggers(index, reach))
    findings.extend(never_done(index, reach))
    if registrations is not None:
        findings.extend(unregistered(definition, registrations))
    return findings
