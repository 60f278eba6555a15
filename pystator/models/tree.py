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
    path: str


def flatten(states: Sequence[StateDefinition | None]) -> list[TreeNode]:
    """Every state and region as a node, in the order written (regions after their state).

    ``None`` entries (states that failed field validation) are skipped.
    """
    nodes: list[TreeNode] = []
    for i, state in enumerate(states):
        if state is not None:
            _add_state(nodes, state, state.parent, f"states[{i}]")
    return nodes


def _add_state(
    nodes: list[TreeNode], state: StateDefinition, parent: str | None, path: str
) -> None:
    from pystator.models.definition import StateDefinition

    nodes.append(TreeNode(state.name, "state", state, None, parent, path))
    for r, region in enumerate(state.regions):
        rpath = f"{path}.regions[{r}]"
        nodes.append(TreeNode(region.name, "region", None, region, state.name, rpath))
        for k, item in enumerate(region.states):
            child = StateDefinition(name=item) if isinstance(item, str) else item
            _add_state(nodes, child, region.name, f"{rpath}.states[{k}]")
