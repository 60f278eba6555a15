"""Checks of the tree's shape: every parent exists and may hold the state, parent chains end
at the top level within the depth limits, and the top level has one initial state at most.

``check_tree`` runs first: it fills ``Checker.children`` and ``Checker.depth``, which the
state and transition checks read, and sets ``Checker.too_deep`` when the per-state checks
must be skipped. The limits are here because this is where they are enforced; the loaders
use ``REGIONS_TOO_DEEP`` too, to refuse such a document before reading it.
"""

from __future__ import annotations

from pystator.models.checker import LOOP, Checker
from pystator.models.tree import TreeNode

MAX_STATE_DEPTH = 1000
"""Levels a state may be nested: a top-level state is level 1, its child level 2; regions
count as a level. The engine keeps every state's ancestors, so deeper trees cost memory that
grows with the square of the depth (``docs/configuration.md``, "Limits")."""
MAX_REGION_NESTING = 10
"""Regions a state may sit in as written (``regions[].states[].regions[]...``): each level
nests the document four levels deeper, and a definition must stay a document every loader
reads back."""
REGIONS_TOO_DEEP = (
    f"regions nested more than {MAX_REGION_NESTING} deep: put the states of inner parallel "
    "states in the flat 'states' list with 'parent' instead"
)


def check_tree(c: Checker) -> None:
    """Link every node to its parent (``c.children``), then check depths and the top level."""
    for node in c.nodes.values():
        parent = node.parent
        if parent is None:
            c.children.setdefault(None, []).append(node)
            continue
        if parent in c.partial and parent not in c.nodes:
            continue
        if parent not in c.nodes:
            c.add(f"{node.path}.parent", c.undefined(parent))
            continue
        if parent == node.name:
            c.add(f"{node.path}.parent", "a state cannot be its own parent")
            continue
        if node.kind == "state" and node.state is not None and node.state.parent is not None:
            _check_declared_parent(c, node, parent)
        c.children.setdefault(parent, []).append(node)

    _check_depth(c)
    _check_top_level(c)


def _check_declared_parent(c: Checker, node: TreeNode, parent: str) -> None:
    """A state that names its parent (``parent:``): a region or a plain state may take it."""
    assert node.state is not None
    parent_type = c.type_of(parent)
    if parent_type == "terminal":
        c.add(f"{node.path}.parent", f"'{parent}' is terminal and cannot contain states")
    elif parent_type == "parallel" and node.state.type != "history":
        c.add(
            f"{node.path}.parent",
            f"'{parent}' is a parallel state: put '{node.name}' in one of its regions "
            "(regions[].states, or parent: <region name>)",
        )
    elif parent_type == "history":
        c.add(f"{node.path}.parent", f"'{parent}' is a history state and has no children")
    elif node.nesting and node.state.parent != parent:
        c.add(f"{node.path}.parent", "a state listed in a region takes the region as parent")


def _check_top_level(c: Checker) -> None:
    """At most one top-level state of type ``initial``, and at least one top-level state."""
    top = c.children.get(None, [])
    top_initials = [n.name for n in top if n.state is not None and n.state.type == "initial"]
    if len(top_initials) > 1:
        c.add(
            "states",
            "more than one top-level state has type 'initial': " + ", ".join(top_initials),
        )
    # With no valid state at all, the field errors already say what is wrong.
    if not top and c.nodes and not c.partial:
        c.add("states", "no top-level state (every state has a parent)")


def _depths(c: Checker) -> dict[str, int]:
    """The level of every node (a top-level state is 1), or ``LOOP`` when its parent chain
    runs into a cycle. Linear: each chain is walked once, up to the first node already known
    (no recursion: chains can be thousands long)."""
    nodes = c.nodes
    depth: dict[str, int] = {}
    for name, node in nodes.items():
        if name in depth:
            continue
        parent = node.parent
        if parent is None or parent not in nodes:
            depth[name] = 1  # top level, or an undefined parent (reported on its own)
            continue
        known = depth.get(parent)
        if known is not None:
            depth[name] = known + 1 if known != LOOP else LOOP
            continue
        chain = [name]
        on_chain = {name}
        while True:
            if parent is None or parent not in nodes:
                level = 0
                break
            if parent in depth:
                level = depth[parent]
                break
            if parent in on_chain:
                level = LOOP
                break
            chain.append(parent)
            on_chain.add(parent)
            parent = nodes[parent].parent
        for name in reversed(chain):
            if level != LOOP:
                level += 1
            depth[name] = level
    return depth


def _check_depth(c: Checker) -> None:
    """Parent chains must end at the top level (a cycle would make ancestry infinite), and a
    state may not sit deeper than ``MAX_STATE_DEPTH`` levels or inside more than
    ``MAX_REGION_NESTING`` regions as written."""
    depth = c.depth = _depths(c)
    too_deep: TreeNode | None = None
    regions_too_deep: TreeNode | None = None
    for name, node in c.nodes.items():
        level = depth[name]
        if level == LOOP:
            if node.parent != name:  # a state that is its own parent is reported above
                c.add(f"{node.path}.parent", f"parent chain of '{name}' loops")
        elif level == MAX_STATE_DEPTH + 1 and too_deep is None:
            too_deep = node
        if node.nesting > MAX_REGION_NESTING and regions_too_deep is None:
            regions_too_deep = node
    if too_deep is not None:
        c.too_deep = True
        # One problem, where the chain first passes the limit (not one per deeper state).
        where = too_deep.path + (".parent" if too_deep.state and too_deep.state.parent else "")
        c.add(
            where,
            f"'{too_deep.name}' is nested {MAX_STATE_DEPTH + 1} levels deep: a state may be "
            f"nested at most {MAX_STATE_DEPTH} levels (parents and regions count)",
        )
    if regions_too_deep is not None:
        # The first node past the limit is a region (regions come before their states).
        c.too_deep = True
        c.add(regions_too_deep.path, REGIONS_TOO_DEEP)
