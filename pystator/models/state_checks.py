"""Checks of each state and region against its own fields and its children.

``check_states`` walks the tree once, in document order. A plain leaf (no children, no
region, no field that a check below reads) is skipped first, with no call: most states of a
large machine are plain leaves, and loading one is a benchmark row (row 4). Every other node
goes through one phase per kind of check, named after the SCXML section whose rule it applies
(W3C SCXML Recommendation): regions (3.4, the children of ``<parallel>``), parallel states
(3.4), history states (3.10), a state's initial child (3.3, the ``initial`` attribute), its
timeout (PyStator's own) and its real children.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pystator.models.checker import Checker
from pystator.models.tree import TreeNode

if TYPE_CHECKING:
    from pystator.models.definition import StateDefinition


def check_states(c: Checker) -> None:
    """Report the problems of every state and region, node by node in document order."""
    for node in c.nodes.values():
        below = c.children.get(node.name)
        if below is None and node.region is None:
            state = node.state
            assert state is not None
            if (
                state.type == "stable" or state.type == "terminal" or state.type == "initial"
            ) and not (
                state.regions
                or state.timeout is not None
                or state.initial_child is not None
                or state.history != "shallow"
                or state.default is not None
            ):
                continue  # a plain leaf: none of the checks below can fail for it
                # (keep this condition in step with them when adding a per-state check)
        _check_node(c, node, below)


def _check_node(c: Checker, node: TreeNode, below: list[TreeNode] | None) -> None:
    """Every check of one region or state (not a plain leaf); ``below``: its children."""
    kids = [k for k in below or () if k.kind == "state"]
    typed_initial = _check_typed_initials(c, node, kids)
    if node.kind == "region":
        _check_region(c, node, kids, typed_initial)
        return
    state = node.state
    assert state is not None
    _check_parallel(c, node, state)
    if state.type == "history":
        _check_history(c, node, state)
        return
    _check_history_fields(c, node, state)
    _check_timeout(c, node, state)
    _check_initial_child(c, node, state, kids, typed_initial)
    _check_real_children(c, node, state, kids)


def _check_typed_initials(c: Checker, node: TreeNode, kids: list[TreeNode]) -> list[str]:
    """At most one child of type ``initial`` (SCXML 3.3: one default entry); returns the
    names of those children, in document order."""
    typed_initial = [k.name for k in kids if k.state is not None and k.state.type == "initial"]
    if len(typed_initial) > 1:
        c.add(
            node.path,
            f"more than one child of '{node.name}' has type 'initial': " + ", ".join(typed_initial),
        )
    return typed_initial


def _has_real_child(kids: list[TreeNode]) -> bool:
    """Some child is a state that can be active (not a history pseudo-state)."""
    return any(k.state is not None and k.state.type != "history" for k in kids)


def _check_region(
    c: Checker, node: TreeNode, kids: list[TreeNode], typed_initial: list[str]
) -> None:
    """A region (SCXML 3.4, a child of ``<parallel>``): its ``initial`` names one of its own
    states and agrees with a child of type ``initial``; it holds a real state."""
    region = node.region
    assert region is not None
    if region.initial is not None and not any(k.name == region.initial for k in kids):
        if region.initial in c.nodes:
            c.add(f"{node.path}.initial", f"'{region.initial}' is not in region '{node.name}'")
        elif not c.known(region.initial):
            c.add(f"{node.path}.initial", c.undefined(region.initial))
    elif (
        region.initial is not None
        and typed_initial
        and typed_initial[0] != region.initial
        and c.type_of(region.initial) != "history"
    ):
        c.add(
            f"{node.path}.initial",
            f"conflicts with state '{typed_initial[0]}' of type 'initial'",
        )
    if not _has_real_child(kids):
        c.add(f"{node.path}.states", "a region needs at least one state that is not history")


def _check_parallel(c: Checker, node: TreeNode, state: StateDefinition) -> None:
    """Only a parallel state has regions, it has one at least, and it enters all of them
    (SCXML 3.4), so it has no initial child."""
    path = node.path
    if state.type == "parallel":
        if not state.regions:
            c.add(f"{path}.regions", "a parallel state needs at least one region")
        if state.initial_child is not None:
            c.add(
                f"{path}.initial_child",
                "a parallel state enters all its regions: drop initial_child",
            )
    elif state.regions:
        c.add(f"{path}.regions", "only a state of type 'parallel' has regions")


def _check_history(c: Checker, node: TreeNode, state: StateDefinition) -> None:
    """A history state (SCXML 3.10): a pseudo-state inside the compound state it remembers;
    its ``default`` (the transition taken with no history yet) names a real state inside
    that parent."""
    path = node.path
    parent = node.parent
    if parent is None:
        c.add(f"{path}.parent", "a history state needs the compound state it remembers as parent")
        return
    if state.on_enter or state.on_exit or state.timeout is not None or state.initial_child:
        c.add(path, "a history state is a pseudo-state: no on_enter, on_exit, timeout or children")
    if state.default is not None:
        if not c.known(state.default):
            c.add(f"{path}.default", c.undefined(state.default))
        elif state.default in c.nodes and (
            state.default == parent or not c.is_self_or_descendant(state.default, parent)
        ):
            c.add(f"{path}.default", f"'{state.default}' is not inside '{parent}'")
        elif state.default in c.nodes and c.type_of(state.default) == "history":
            c.add(
                f"{path}.default",
                f"'{state.default}' is a history state: a default names a real state to enter",
            )


def _check_history_fields(c: Checker, node: TreeNode, state: StateDefinition) -> None:
    """``history`` and ``default`` belong to history states only."""
    if state.history != "shallow" or state.default is not None:
        c.add(node.path, "'history' and 'default' apply only to a state of type 'history'")


def _check_timeout(c: Checker, node: TreeNode, state: StateDefinition) -> None:
    """A timeout (PyStator's own) leaves a state that can be left (a terminal state, SCXML
    3.7 ``<final>``, cannot), for a defined state."""
    if state.timeout is None:
        return
    if state.type == "terminal":
        c.add(f"{node.path}.timeout", "a terminal state cannot time out")
    if not c.known(state.timeout.destination):
        c.add(f"{node.path}.timeout.destination", c.undefined(state.timeout.destination))


def _check_initial_child(
    c: Checker,
    node: TreeNode,
    state: StateDefinition,
    kids: list[TreeNode],
    typed_initial: list[str],
) -> None:
    """``initial_child`` (SCXML 3.3, the ``initial`` attribute) names a child of the state and
    agrees with a child of type ``initial``; a parallel state's is reported by
    ``_check_parallel``."""
    child = state.initial_child
    if child is None or state.type == "parallel":
        return
    path = f"{node.path}.initial_child"
    if child in c.partial and child not in c.nodes:
        pass
    elif child not in c.nodes:
        c.add(path, c.undefined(child))
    elif not any(k.name == child for k in kids):
        c.add(path, f"'{child}' is not a child of '{state.name}'")
    elif c.type_of(child) == "history":
        pass  # entered through its history; a child of type 'initial' is its fallback
    elif typed_initial and typed_initial[0] != child:
        c.add(path, f"conflicts with child '{typed_initial[0]}' of type 'initial'")


def _check_real_children(
    c: Checker, node: TreeNode, state: StateDefinition, kids: list[TreeNode]
) -> None:
    """A compound state needs a child it can enter, not only history pseudo-states."""
    if kids and state.type != "parallel" and not _has_real_child(kids):
        c.add(node.path, f"'{state.name}' has only history children: add a real child state")
