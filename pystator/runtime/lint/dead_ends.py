"""``dead_end_states``: reachable leaves that are not terminal and that nothing can ever exit.

While a leaf S is active, the transitions that can fire are those of S and of its ancestors
(selection goes from the active leaves up), and, for every parallel state P around S, those
of the states active in P's other regions. So S has a way out when one of them moves the
entity somewhere else:

* a transition (or a timer: ``after``, ``timeout``) of S or of an ancestor with a target
  (a targetless one keeps S);
* a transition (or timer) of a state in another region R of a parallel ancestor P whose
  target lies outside R: its domain is then above P, so P is exited with every region, S
  included (SCXML's exit set: every active state below the domain);

unless it enters S again: S is among the leaves the target's default entry reaches, with the
other regions of the parallel states entered on the way (``reach.entered_leaves``), as for a
self-transition, or ``P -> P`` when S is P's initial child. A target entered through a history
state counts as a way out (what it restores depends on its memory).

Shadowed transitions (never selected) are not ways out; a ``done.state`` transition counts
even when its event is never raised (the ``never-done`` finding reports that one).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence

from pystator.engine import MachineIndex, StateNode
from pystator.models.tree import TreeNode
from pystator.runtime.lint.findings import DEAD_END_STATE, Finding, finding
from pystator.runtime.lint.reach import Reachability, entered_leaves, transition_domain


def dead_end_states(
    index: MachineIndex,
    reach: Reachability,
    nodes: Sequence[TreeNode],
    never: Collection[int] = (),
) -> list[Finding]:
    """Reachable, non-terminal leaves with no way out (see the module docstring; ``never``:
    the transitions that are never selected)."""
    ways = _WaysOut(index, never)
    found: list[Finding] = []
    for tree_node in nodes:
        node = index.states[tree_node.name]
        if node.kind != "atomic" or node.is_terminal or node.name not in reach.active:
            continue
        if not ways.leave(node):
            found.append(
                finding(
                    DEAD_END_STATE,
                    tree_node.path,
                    f"state '{node.name}' is not terminal, but no transition leaves it or a "
                    "state around it, and it has no timer: an entity that enters it stays "
                    "there for good. Add a transition out of it, or make it type: terminal "
                    "if it is meant to end the machine (or its parent)",
                )
            )
    return found


class _WaysOut:
    def __init__(self, index: MachineIndex, never: Collection[int]) -> None:
        self.index = index
        self.never = never
        self.region_moves: dict[str, list[tuple[str, str, bool]]] = {}
        """region -> the moves of the states inside it that target a state outside it."""
        self.entered: dict[tuple[str, str], set[str] | None] = {}
        """(target, domain) -> the leaves entered (``reach.entered_leaves``)."""

    def moves(self, name: str) -> Iterator[tuple[str, str, bool]]:
        """(source, target, internal) of the transitions and timers of state ``name`` (not its
        ancestors') that have a target."""
        index = self.index
        transitions = index.definition.transitions
        for i in index.own.get(name, ()):
            t = transitions[i]
            if t.dest is not None and i not in self.never:
                yield name, t.dest, t.internal
        for spec in index.states[name].timers:
            candidate = index.timer_table[spec.key]
            dest = candidate.transition.dest
            if dest is not None and candidate.index not in self.never:
                yield name, dest, candidate.transition.internal

    def leave(self, node: StateNode) -> bool:
        """Whether something can exit the active leaf ``node`` without entering it again."""
        states = self.index.states
        if any(
            self.away_from(node.name, move)
            for level in (node.name, *node.ancestors)
            for move in self.moves(level)
        ):
            return True
        on_path = node.name
        for above in node.ancestors:
            if states[above].kind == "parallel":
                others = (r for r in states[above].children if r != on_path)
                if any(self.away_from(node.name, m) for r in others for m in self.leaving(r)):
                    return True
            on_path = above
        return False

    def away_from(self, leaf: str, move: tuple[str, str, bool]) -> bool:
        """Whether ``move``, which exits ``leaf``, leaves it: its target's default entry (and
        that of the regions entered beside it) does not enter ``leaf`` again. One through a
        history state counts: what the history restores depends on its memory."""
        source, target, internal = move
        states = self.index.states
        key = (target, transition_domain(states, source, target, internal))
        if key not in self.entered:
            self.entered[key] = entered_leaves(states, *key)
        entered = self.entered[key]
        return entered is None or leaf not in entered

    def leaving(self, region: str) -> list[tuple[str, str, bool]]:
        """The moves of the states inside ``region`` that target a state outside it (their
        domain is above the parallel state: it is exited with every region)."""
        known = self.region_moves.get(region)
        if known is not None:
            return known
        states = self.index.states
        todo = [region]
        found: list[tuple[str, str, bool]] = []
        while todo:
            name = todo.pop()
            found.extend(
                move
                for move in self.moves(name)
                if move[1] != region and region not in states[move[1]].ancestors
            )
            todo.extend(states[name].children)
        self.region_moves[region] = found
        return found
