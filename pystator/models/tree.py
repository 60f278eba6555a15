"""The state tree of a definition, with regions and region states flattened into nodes.

States can be nested three ways: ``parent: X`` on a state, a state listed in a region of a
parallel state, or ``parent: <region>`` on a top-level state. ``flatten`` turns all of them into
one list of ``TreeNode`` with the effective parent, in document order (parents before
children, siblings in the order they are written), which the checks and the engine share.

Definitions written for pystator 0.0.x list a region's states by name in ``regions[].states``
and declare each of them again in the flat ``states`` list. ``flatten`` merges the two into ONE
node in the region when they agree: a name listed as a plain string in exactly one region, plus
exactly one entry of the top-level list with that name whose ``parent`` is absent, the parallel
state or the region. The node sits where the name is listed (so the region's order is the
listing's) and takes every field from the flat entry; its ``path`` is the flat entry's (where its
fields are written) and ``listed_at`` where the name is listed. Anything else with the same name
(a flat entry whose parent names another state, a name listed in two regions, two full
definitions) is left as two nodes, which the checks report naming both places.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pystator.models.definition import RegionDefinition, StateDefinition


@dataclass(slots=True)
class TreeNode:
    """A state or a region, with where it was written (``path``) and its effective parent."""

    name: str
    kind: str
    """``"state"`` or ``"region"``."""
    state: StateDefinition | None
    region: RegionDefinition | None
    parent: str | None
    step: str
    """Where it is written inside ``inside`` (``.regions[0]``, ``.states[2]``); the whole
    path (``states[3]``) for an entry of the top-level list."""
    inside: TreeNode | None = None
    """The node it is written in; ``None`` for an entry of the top-level list."""
    nesting: int = 0
    """How many regions it is written in."""
    by_name: bool = False
    """Listed in a region by its name alone (a plain string in ``regions[].states``)."""
    listed_at: str | None = None
    """For a region member merged with its flat entry (0.0.x form): where the name is listed
    (``states[0].regions[1].states[2]``); ``path`` is then the flat entry's."""

    @property
    def path(self) -> str:
        """Where it is written: ``states[3].regions[0].states[1]``.

        Built on demand (for messages): stored paths would cost memory that grows with the
        square of the nesting depth.
        """
        steps = [self.step]
        node = self.inside
        while node is not None:
            steps.append(node.step)
            node = node.inside
        steps.reverse()
        return "".join(steps)


_last: tuple[Sequence[StateDefinition | None], list[TreeNode]] | None = None
"""The last tree built from a definition's own states tuple: the checks (run while the
definition is validated) and the engine's index (built right after) share it."""


def flatten(states: Sequence[StateDefinition | None]) -> list[TreeNode]:
    """Every state and region as a node, in the order written (regions after their state).

    ``None`` entries (states that failed field validation) are skipped. A region member listed
    by name and declared again in the flat list (the 0.0.x form) is one node, in the region
    (see the module docstring). The result is shared: callers must not change it.
    """
    global _last
    last = _last
    if last is not None and last[0] is states:
        return last[1]
    from pystator.models.definition import StateDefinition

    members = _flat_members(states)
    merged = {i for i, _ in members.values()}
    nodes: list[TreeNode] = []
    append = nodes.append
    for i, state in enumerate(states):
        if state is None or i in merged:
            continue
        if state.regions:
            _add_state(nodes, state, state.parent, f"states[{i}]", StateDefinition, members)
        else:
            append(TreeNode(state.name, "state", state, None, state.parent, f"states[{i}]"))
    # Members whose listing was never reached (a parallel state listed in its own region, or
    # in a region of a state listed in its own...): kept at the top level, where the checks
    # report the duplicate name.
    for name, (i, state) in list(members.items()):
        if members.pop(name, None) is not None:
            _add_state(nodes, state, state.parent, f"states[{i}]", StateDefinition, members)
    if type(states) is tuple:  # a definition's own states: immutable, so the tree can be reused
        _last = (states, nodes)
    return nodes


def _flat_members(
    states: Sequence[StateDefinition | None],
) -> dict[str, tuple[int, StateDefinition]]:
    """Name -> (index in ``states``, entry) of each flat entry that merges with a region
    listing.

    The merge rule (0.0.x form): the name is a plain string in exactly one region, the flat
    list declares it exactly once, and that declaration's parent is absent, the parallel state
    or the region.
    """
    parallel = [state for state in states if state is not None and state.regions]
    if not parallel:
        return {}  # no regions: nothing to merge (the common case, kept to one pass)
    flat, repeated = _flat_declarations(states)
    members: dict[str, tuple[int, StateDefinition]] = {}
    for name, where in _listings_by_name(parallel).items():
        index = flat.get(name)
        if index is None or where is None or name in repeated:
            continue
        entry = states[index]
        assert entry is not None
        if entry.parent is None or entry.parent in where:
            members[name] = (index, entry)
    return members


def _flat_declarations(
    states: Sequence[StateDefinition | None],
) -> tuple[dict[str, int], set[str]]:
    """Name -> index of its first entry in the flat list, and the names declared more than
    once there."""
    flat: dict[str, int] = {}
    repeated: set[str] = set()
    for i, state in enumerate(states):
        if state is not None:
            if state.name in flat:
                repeated.add(state.name)
            else:
                flat[state.name] = i
    return flat, repeated


def _listings_by_name(parallel: list[StateDefinition]) -> dict[str, tuple[str, str] | None]:
    """Name -> (parallel state, region) where it is listed as a plain string, ``None`` when
    listed more than once; ``parallel`` and the parallel states nested in their regions are
    searched (with a stack, which this empties)."""
    listed: dict[str, tuple[str, str] | None] = {}
    while parallel:
        state = parallel.pop()
        for region in state.regions:
            for item in region.states:
                if isinstance(item, str):
                    listed[item] = None if item in listed else (state.name, region.name)
                elif item.regions:
                    parallel.append(item)
    return listed


def _add_state(
    nodes: list[TreeNode],
    state: StateDefinition,
    parent: str | None,
    path: str,
    model: type[StateDefinition],
    members: dict[str, tuple[int, StateDefinition]],
) -> None:
    """Add ``state``, then each region followed by the states inside it, depth first.

    A name listed in a region that is one of ``members`` becomes its flat entry's node (and
    leaves ``members``: a state is merged once). Iterative (an explicit stack): a definition
    built in Python can nest parallel states in regions to any depth, and no walk over a
    definition may recurse on its depth.
    """
    # Nodes not added yet; each node's children are pushed in reverse, so they pop in order.
    todo = [TreeNode(state.name, "state", state, None, parent, path)]
    while todo:
        node = todo.pop()
        nodes.append(node)
        below: list[TreeNode] = []
        if node.state is not None:
            nesting = node.nesting + 1
            for r, region in enumerate(node.state.regions):
                below.append(
                    TreeNode(
                        region.name,
                        "region",
                        None,
                        region,
                        node.name,
                        f".regions[{r}]",
                        node,
                        nesting,
                    )
                )
        elif node.region is not None:
            for k, item in enumerate(node.region.states):
                if isinstance(item, str):
                    member = members.pop(item, None) if members else None
                    if member is not None:
                        # The flat entry's node, in this region; written at the top level.
                        i, entry = member
                        merged = TreeNode(item, "state", entry, None, node.name, f"states[{i}]")
                        merged.listed_at = f"{node.path}.states[{k}]"
                        below.append(merged)
                        continue
                    child = model(name=item)
                else:
                    child = item
                below.append(
                    TreeNode(
                        child.name,
                        "state",
                        child,
                        None,
                        node.name,
                        f".states[{k}]",
                        node,
                        node.nesting,
                        by_name=isinstance(item, str),
                    )
                )
        below.reverse()
        todo.extend(below)
