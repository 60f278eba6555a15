"""Cross-reference checks of a definition: everything a field validator cannot see alone.

All problems are collected and raised together as one ``ConfigurationError``, each with the
path of the offending field and, for a misspelled name, the closest defined name.

This module is the entry point: ``collect_issues`` runs the checks in document order over one
``Checker`` (``checker.py``, the tree and its issue list): the tree's shape
(``tree_checks.py``), each state and region (``state_checks.py``), ``meta.initial``, then each
transition and the events actions raise (``transition_checks.py``). ``check_definition`` adds
the checks of the definition's other sections. ``suggest`` and the depth limits are
re-exported here, where the rest of the package imports them from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from pystator.errors import ConfigIssue, ConfigurationError
from pystator.models.checker import Checker, suggest
from pystator.models.state_checks import check_states
from pystator.models.transition_checks import check_raises, check_transitions
from pystator.models.tree import flatten
from pystator.models.tree_checks import (
    MAX_REGION_NESTING,
    MAX_STATE_DEPTH,
    REGIONS_TOO_DEEP,
    check_tree,
)

if TYPE_CHECKING:
    from pystator.models.definition import (
        MachineDefinition,
        MachineMeta,
        StateDefinition,
        TransitionDefinition,
    )

__all__ = [
    "MAX_REGION_NESTING",
    "MAX_STATE_DEPTH",
    "REGIONS_TOO_DEEP",
    "check_definition",
    "collect_issues",
    "suggest",
]


def collect_issues(
    state_list: Sequence[StateDefinition | None],
    transition_list: Sequence[TransitionDefinition | None],
    *,
    partial_names: Iterable[str] = (),
    meta: MachineMeta | None = None,
) -> list[ConfigIssue]:
    """Every cross-reference problem, in document order.

    ``None`` entries stand for items that failed field validation (their own errors are
    reported elsewhere); ``partial_names`` are the names of such states, so references to them
    are not reported as undefined too.
    """
    c = Checker(flatten(state_list), set(partial_names))
    check_tree(c)
    if not c.too_deep:
        check_states(c)
    if meta is not None and meta.initial is not None:
        if not c.known(meta.initial):
            c.add("meta.initial", c.undefined(meta.initial))
        elif meta.initial in c.nodes and c.nodes[meta.initial].parent is not None:
            c.add("meta.initial", f"'{meta.initial}' is not a top-level state")
    check_transitions(c, transition_list)
    check_raises(c, transition_list)
    return c.issues


def check_definition(definition: MachineDefinition) -> None:
    """Raise ``ConfigurationError`` listing every cross-reference problem, if there is any."""
    issues = collect_issues(definition.states, definition.transitions, meta=definition.meta)
    if definition.context is not None:
        names = {n.name for n in flatten(definition.states)}
        for state in definition.context.required_in_states:
            if state not in names:
                issues.append(
                    ConfigIssue(
                        f"context.required_in_states.{state}",
                        f"state '{state}' is not defined{suggest(state, names)}",
                    )
                )
    if definition.events:
        triggers = {t.trigger for t in definition.transitions if t.trigger is not None}
        for trigger in definition.events:
            if trigger not in triggers:
                issues.append(
                    ConfigIssue(
                        f"events.{trigger}",
                        f"trigger '{trigger}' is not used by any transition"
                        f"{suggest(trigger, sorted(triggers))}",
                    )
                )
    if issues:
        raise ConfigurationError(issues)
