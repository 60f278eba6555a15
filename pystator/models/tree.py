"""The state tree of a definition, with regions and region states flattened into nodes.

States can be nested three ways: ``parent: X`` on a state, a state listed in a region of a
parallel state, or ``parent: <region>`` on a top-level state. ``flatten`` turns all of them into
one list of ``TreeNode`` with the effective parent, in document order (parents before
children, siblings in the order they are written), which the checks and the engine share.
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

    ``None`` entries (states that failed field validation) are skipped. The result is shared:
    callers must not change it.
    """
    global _last
    last = _last
    if last is not None and last[0] is states:
        return last[1]
    from pystator.models.definition import StateDefinition

    nodes: list[TreeNode] = []
    append = nodes.append
    for i, state in enumerate(states):
        if state is None:
            continue
        if state.regions:
            _add_state(nodes, state, state.parent, f"states[{i}]", StateDefinition)
        else:
            append(TreeNode(state.name, "state", state, None, state.parent, f"states[{i}]"))
    if type(states) is tuple:  # a definition's own states: immutable, so the tree can be reused
        _last = (states, nodes)
    return nodes


def _add_state(
    nodes: list[TreeNode],
    state: StateDefinition,
    parent: str | None,
    path: str,
    model: type[StateDefinition],
) -> None:
    """Add ``state``, then each region followed by the states inside it, depth first.

    Iterative (an explicit stack): a definition built in Python can nest parallel states in
    regions to any depth, and no walk over a definition may recurse on its depth.
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
                child = model(name=item) if isinstance(item, str) else item
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
                    )
                )
        below.reverse()
        todo.extend(below)
