"""What every cross-reference check shares: the tree being checked, its issue list, and the
wording of "did you mean".

``Checker`` holds the flattened state tree (``flatten``) by name, with the lookups the checks
of ``tree_checks``, ``state_checks`` and ``transition_checks`` ask of it (is this name defined,
what type is it, is it inside that state), and collects their issues in document order.
``checks.collect_issues`` builds one and runs the checks over it. A name written twice is
reported here, while the tree is built, since only the first definition keeps the name.
"""

from __future__ import annotations

from collections.abc import Iterable

from pystator.errors import ConfigIssue
from pystator.models.tree import TreeNode

LOOP = -1
"""The depth of a node in or below a parent cycle (``Checker.depth``)."""


def suggest(name: str, known: Iterable[str]) -> str:
    """Return ``"; did you mean 'X'?"`` for the closest known name, or ``""``."""
    candidates = list(known)
    import difflib  # only error messages need it

    match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in candidates}
        if name.lower() in lowered:
            match = [lowered[name.lower()]]
    return f"; did you mean '{match[0]}'?" if match else ""


class Checker:
    """The state tree of one definition as the checks see it, and the issues they found."""

    def __init__(self, nodes: list[TreeNode], partial: set[str]) -> None:
        self.issues: list[ConfigIssue] = []
        self.partial = partial
        """Names of states whose own definition failed validation (reported elsewhere)."""
        self.nodes: dict[str, TreeNode] = {}
        for node in nodes:
            first = self.nodes.get(node.name)
            if first is not None:
                self.issues.append(_duplicate(self, first, node))
            else:
                self.nodes[node.name] = node
        self.children: dict[str | None, list[TreeNode]] = {}
        """Filled by ``tree_checks.check_tree``: the nodes under each parent (``None``: the
        top level), in document order."""
        self.depth: dict[str, int] = {}
        """Level of each node (top level: 1), ``LOOP`` in or below a parent cycle."""
        self.spans: dict[str, tuple[int, int]] | None = None
        self.too_deep = False
        """The tree passes a depth limit: the per-state checks are skipped (their cost
        would grow with the depth)."""

    def add(self, path: str, message: str) -> None:
        self.issues.append(ConfigIssue(path, message))

    def undefined(self, name: str) -> str:
        return f"state '{name}' is not defined{suggest(name, self.nodes)}"

    def known(self, name: str) -> bool:
        """Defined, or a state whose own definition failed validation (reported elsewhere)."""
        return name in self.nodes or name in self.partial

    def type_of(self, name: str) -> str:
        node = self.nodes[name]
        if node.kind == "region":
            return "region"
        assert node.state is not None
        return node.state.type

    def is_self_or_descendant(self, name: str, ancestor: str) -> bool:
        """``name`` is ``ancestor`` or inside it; O(1) with the numbering of the tree."""
        if name == ancestor:
            return True
        if self.spans is None:
            self.spans = _spans(self)
        inner = self.spans.get(name)
        outer = self.spans.get(ancestor)
        if inner is not None and outer is not None:
            return outer[0] < inner[0] < outer[1]
        # A node in or below a parent cycle (reported on its own): walk, once round at most.
        seen: set[str] = set()
        current = self.nodes[name].parent if name in self.nodes else None
        while current is not None and current in self.nodes and current not in seen:
            if current == ancestor:
                return True
            seen.add(current)
            current = self.nodes[current].parent
        return False


def _duplicate(c: Checker, first: TreeNode, second: TreeNode) -> ConfigIssue:
    """The problem of a name written twice, naming both places when a region is involved.

    A region member listed by name and declared once in the flat list is merged by
    ``flatten`` when the declaration's parent fits (the 0.0.x form); what reaches here is
    everything else.
    """
    name = second.name
    if first.kind == "region" or second.kind == "region":
        what = "region" if second.kind == "region" else "state"
        return ConfigIssue(f"{second.path}.name", f"{what} '{name}' is defined twice")
    if first.by_name and second.by_name:
        return ConfigIssue(
            second.path, f"state '{name}' is listed in two regions (also at {first.path})"
        )
    listing, other = (first, second) if first.by_name else (second, first)
    misplaced = _misplaced_declaration(c, listing, other)
    if misplaced is not None:
        return misplaced
    in_region = first.nesting or second.nesting or first.by_name or second.by_name
    if not in_region and first.listed_at is None and second.listed_at is None:
        return ConfigIssue(f"{second.path}.name", f"state '{name}' is defined twice")
    return ConfigIssue(
        f"{second.path}.name", f"state '{name}' is defined twice (also at {first.path})"
    )


def _misplaced_declaration(c: Checker, listing: TreeNode, other: TreeNode) -> ConfigIssue | None:
    """A region member listed by name (0.0.x form) and declared in the flat list with a
    parent that is neither its region nor its parallel state: the one place to fix is that
    parent."""
    declared = other.state.parent if other.state is not None else None
    region = listing.parent
    parallel = c.nodes[region].parent if region in c.nodes else None
    if (
        listing.by_name
        and other.inside is None
        and other.listed_at is None
        and declared is not None
        and declared not in (region, parallel)
    ):
        return ConfigIssue(
            f"{other.path}.parent",
            f"'{other.name}' is listed by name in region '{region}' (at {listing.path}): "
            f"declared here too, it takes no parent, '{parallel}' or '{region}' as parent, not "
            f"'{declared}'",
        )
    return None


def _spans(c: Checker) -> dict[str, tuple[int, int]]:
    """Each node (outside parent cycles) -> (its number, the number after its subtree) in a
    depth-first numbering of the tree: X is inside Y when Y's span holds X's number."""
    below: dict[str | None, list[str]] = {}
    for node in c.nodes.values():
        if c.depth.get(node.name, LOOP) != LOOP:
            parent = node.parent if node.parent in c.nodes else None
            below.setdefault(parent, []).append(node.name)
    spans: dict[str, tuple[int, int]] = {}
    first: dict[str, int] = {}
    count = 0
    todo: list[tuple[str, bool]] = [(name, False) for name in reversed(below.get(None, []))]
    while todo:
        name, finished = todo.pop()
        if finished:
            spans[name] = (first[name], count)
            continue
        first[name] = count
        count += 1
        todo.append((name, True))
        todo.extend((child, False) for child in reversed(below.get(name, [])))
    return spans
