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
    nodes.append(TreeNode(state.name, "state", state, None, parent, path))
    for r, region in enumerate(state.regions):
        rpath = f"{path}.regions[{r}]"
        nodes.append(TreeNode(region.name, "region", None, region, state.name, rpath))
        for k, item in enumerate(region.states):
            child = model(name=item) if isinstance(item, str) else item
            _add_state(nodes, child, region.name, f"{rpath}.states[{k}]", model)
