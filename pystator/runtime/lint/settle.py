"""``unsettled``: the states the machine never waits in, left by an eventless transition.

After every microstep the engine takes the eventless transitions that are enabled before it
handles anything else (``engine.step._settle``): an event, an internal event, a timer. A leaf
whose eventless candidates (``engine.index.state_table``: its own, then its ancestors',
innermost first, each level by priority) include one with no guards always has one enabled,
so a configuration holding it never settles: no event, internal event or timer is ever
handled while it is active. Only a first unguarded candidate with a target counts (one
without a target would loop until the loop limit: left to the engine's ``LoopLimitError``).

A compound state (or region) is unsettled when each of its children is, a parallel state when
one of its regions is: every configuration below it then holds an unsettled leaf. So is every
state inside an unsettled one (``taken_away``): a configuration holding it holds one below the
unsettled state.
"""

from __future__ import annotations

from pystator.engine import AUTO, MachineIndex, StateNode, state_table


def unsettled(index: MachineIndex) -> dict[str, list[int]]:
    """state -> the eventless transitions (indexes, sorted) that are taken as soon as it is
    entered, for every state the machine can never wait in (see the module docstring)."""
    found: dict[str, list[int]] = {}
    # Children come after their parent in document order: the reverse sees them first.
    for node in sorted(index.states.values(), key=lambda n: n.order, reverse=True):
        if node.kind == "atomic":
            taken = _leaf_taken_by(index, node.name)
        elif node.kind in ("compound", "region", "parallel") and node.children:
            taken = _taken_below(node, found)
        else:
            taken = None
        if taken is not None:
            found[node.name] = taken
    return found


def _leaf_taken_by(index: MachineIndex, name: str) -> list[int] | None:
    """The leaf's first unguarded eventless candidate, when it has a target."""
    transitions = index.definition.transitions
    table = state_table(index, name) or {}
    first = next((c for c in table.get(AUTO, ()) if not transitions[c.index].guards), None)
    if first is None or first.transition.dest is None:
        return None
    return [first.index]


def _taken_below(node: StateNode, found: dict[str, list[int]]) -> list[int] | None:
    """A compound state or region: when every child is unsettled; a parallel state: when a
    region is."""
    below = [found.get(child) for child in node.children]
    taken = [by for by in below if by is not None]
    if not taken or (node.kind != "parallel" and len(taken) < len(below)):
        return None
    return sorted({i for by in taken for i in by})


def taken_away(away: dict[str, list[int]], node: StateNode) -> list[int] | None:
    """The eventless transitions that take ``node`` away (it, or a state around it, is in
    ``away``: ``unsettled``), or ``None`` when the machine can wait in it."""
    for name in (node.name, *node.ancestors):
        taken = away.get(name)
        if taken is not None:
            return taken
    return None
