"""Cross-reference checks of a definition: everything a field validator cannot see alone.

All problems are collected and raised together as one ``ConfigurationError``, each with the
path of the offending field and, for a misspelled name, the closest defined name.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from pystator.errors import ConfigIssue, ConfigurationError

if TYPE_CHECKING:
    from pystator.models.definition import (
        MachineDefinition,
        StateDefinition,
        TransitionDefinition,
    )


def suggest(name: str, known: Iterable[str]) -> str:
    """Return ``"; did you mean 'X'?"`` for the closest known name, or ``""``."""
    candidates = list(known)
    match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in candidates}
        if name.lower() in lowered:
            match = [lowered[name.lower()]]
    return f"; did you mean '{match[0]}'?" if match else ""


def _undefined(kind: str, name: str, known: dict[str, StateDefinition]) -> str:
    return f"{kind} '{name}' is not defined{suggest(name, known)}"


def collect_issues(
    state_list: Sequence[StateDefinition | None],
    transition_list: Sequence[TransitionDefinition | None],
    *,
    partial_names: Iterable[str] = (),
) -> list[ConfigIssue]:
    """Every cross-reference problem, in document order.

    ``None`` entries stand for items that failed field validation (their own errors are
    reported elsewhere); ``partial_names`` are the names of such states, so references to them
    are not reported as undefined too.
    """
    issues: list[ConfigIssue] = []
    add = issues.append
    states: dict[str, StateDefinition] = {}
    all_states = [(i, s) for i, s in enumerate(state_list) if s is not None]
    known_partial = set(partial_names)
    for i, state in all_states:
        if state.name in states:
            add(ConfigIssue(f"states[{i}].name", f"state '{state.name}' is defined twice"))
        else:
            states[state.name] = state

    children: dict[str | None, list[str]] = {}
    for i, state in all_states:
        parent = state.parent
        if parent is not None:
            if parent in known_partial:
                continue
            if parent not in states:
                add(ConfigIssue(f"states[{i}].parent", _undefined("state", parent, states)))
                continue
            if parent == state.name:
                add(ConfigIssue(f"states[{i}].parent", "a state cannot be its own parent"))
                continue
            if states[parent].type == "terminal":
                add(
                    ConfigIssue(
                        f"states[{i}].parent",
                        f"'{parent}' is terminal and cannot contain states",
                    )
                )
        children.setdefault(parent, []).append(state.name)

    # Parent chains must end at the top level; a cycle would make ancestry infinite.
    for i, state in all_states:
        seen = {state.name}
        current = state.parent
        while current is not None and current in states:
            if current in seen:
                add(ConfigIssue(f"states[{i}].parent", f"parent chain of '{state.name}' loops"))
                break
            seen.add(current)
            current = states[current].parent

    top_initials = [s.name for _, s in all_states if s.parent is None and s.type == "initial"]
    if len(top_initials) > 1:
        add(
            ConfigIssue(
                "states",
                "more than one top-level state has type 'initial': " + ", ".join(top_initials),
            )
        )
    if not children.get(None) and not known_partial:
        add(ConfigIssue("states", "no top-level state (every state has a parent)"))

    for i, state in all_states:
        kids = children.get(state.name, [])
        typed_initial = [k for k in kids if states[k].type == "initial"]
        if len(typed_initial) > 1:
            add(
                ConfigIssue(
                    f"states[{i}]",
                    f"more than one child of '{state.name}' has type 'initial': "
                    + ", ".join(typed_initial),
                )
            )
        if state.initial_child is not None:
            path = f"states[{i}].initial_child"
            if state.initial_child in known_partial:
                pass
            elif state.initial_child not in states:
                add(ConfigIssue(path, _undefined("state", state.initial_child, states)))
            elif state.initial_child not in kids:
                add(ConfigIssue(path, f"'{state.initial_child}' is not a child of '{state.name}'"))
            elif typed_initial and typed_initial[0] != state.initial_child:
                add(
                    ConfigIssue(
                        path,
                        f"conflicts with child '{typed_initial[0]}' of type 'initial'",
                    )
                )

    for t_index, transition in enumerate(transition_list):
        if transition is None:
            continue
        base = f"transitions[{t_index}]"
        if transition.source != "*":
            sources = transition.sources
            for s_index, source in enumerate(sources):
                path = (
                    f"{base}.source"
                    if isinstance(transition.source, str)
                    else (f"{base}.source[{s_index}]")
                )
                if source in known_partial:
                    continue
                if source not in states:
                    add(ConfigIssue(path, _undefined("state", source, states)))
                elif states[source].type == "terminal":
                    add(ConfigIssue(path, f"'{source}' is terminal: no transition can leave it"))
            if len(set(sources)) != len(sources):
                add(ConfigIssue(f"{base}.source", "lists the same state twice"))
        dest = transition.dest
        if dest is not None and dest in known_partial:
            continue
        if dest is not None and dest not in states:
            add(ConfigIssue(f"{base}.dest", _undefined("state", dest, states)))
        elif transition.internal and dest is not None and transition.source != "*":
            for source in transition.sources:
                if source in states and not _is_self_or_descendant(dest, source, states):
                    add(
                        ConfigIssue(
                            f"{base}.internal",
                            f"an internal transition must stay inside its source: "
                            f"'{dest}' is not '{source}' or one of its descendants",
                        )
                    )
                    break
        elif transition.internal and dest is not None and transition.source == "*":
            add(
                ConfigIssue(
                    f"{base}.internal",
                    "an internal transition from '*' cannot have a dest (it would leave "
                    "most of its sources); drop dest to run only the actions",
                )
            )
    return issues


def _is_self_or_descendant(name: str, ancestor: str, states: dict[str, StateDefinition]) -> bool:
    current: str | None = name
    hops = 0
    while current is not None and hops <= len(states):
        if current == ancestor:
            return True
        state = states.get(current)
        current = state.parent if state is not None else None
        hops += 1
    return False


def check_definition(definition: MachineDefinition) -> None:
    """Raise ``ConfigurationError`` listing every cross-reference problem, if there is any."""
    issues = collect_issues(definition.states, definition.transitions)
    if issues:
        raise ConfigurationError(issues)
