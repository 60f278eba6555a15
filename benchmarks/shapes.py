"""Library-neutral descriptions of the machines every scenario runs on.

A ``Shape`` is a tree of states plus transitions between leaves (or any state). Each adapter
translates it into its own library's dialect once, outside any timed region, so every library
runs the same machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

GUARD_NAME = "has_quantity"
"""The one named guard of the guarded scenario."""

GUARDED_CONTEXT: Mapping[str, Any] = {"q": 2}
"""The context the guarded scenario sends: the guard passes."""

REJECTED_CONTEXT: Mapping[str, Any] = {"q": 0}
"""The context of the unhappy-path scenario's rejections: the guard says no."""

GUARD_EXPRESSION = "q >= 1"
"""``has_quantity`` as an inline expression (PyStator's ``expr`` guard)."""

SMALL_CONTEXT: Mapping[str, Any] = {"order_id": 1_000_001, "qty": 10}
"""The small context each live entity keeps in the memory scenario (copied per entity)."""


def has_quantity(ctx: Mapping[str, Any]) -> bool:
    """The guard of the guarded scenario, shared by every library: ``ctx["q"] >= 1``."""
    return bool(ctx.get("q", 0) >= 1)


ENTER = "enter"
"""The parallel scenarios' trigger from the outside state into the parallel state."""

LEAVE = "leave"
"""The parallel scenarios' trigger from the parallel state (all regions) to the outside state."""


@dataclass(frozen=True, slots=True)
class StateShape:
    """One state; ``parent`` is ``None`` at the top level, ``initial`` marks the first child.

    The children of a ``parallel`` state are its regions (compound states, all active at once).
    """

    name: str
    parent: str | None = None
    initial: bool = False
    parallel: bool = False
    terminal: bool = False
    """No event leaves the state."""


@dataclass(frozen=True, slots=True)
class TransitionShape:
    """An external transition; ``guarded`` attaches the named guard ``GUARD_NAME``."""

    trigger: str
    source: str
    dest: str
    guarded: bool = False


@dataclass(frozen=True)
class Shape:
    """A whole machine: states in document order (parents before children), transitions."""

    name: str
    states: tuple[StateShape, ...]
    transitions: tuple[TransitionShape, ...]

    @property
    def initial(self) -> str:
        """The top-level initial state."""
        return next(s.name for s in self.states if s.parent is None and s.initial)

    @cached_property
    def _children(self) -> dict[str | None, list[StateShape]]:
        kids: dict[str | None, list[StateShape]] = {}
        for state in self.states:
            kids.setdefault(state.parent, []).append(state)
        return kids

    @cached_property
    def outgoing(self) -> dict[str, list[TransitionShape]]:
        """Transitions by source state, in document order."""
        out: dict[str, list[TransitionShape]] = {}
        for t in self.transitions:
            out.setdefault(t.source, []).append(t)
        return out

    def children(self, parent: str | None) -> list[StateShape]:
        """Direct children of ``parent`` (``None``: the top level), in document order."""
        return self._children.get(parent, [])

    def initial_child(self, parent: str) -> str | None:
        """The child entered by default when ``parent`` is entered; ``None`` for a leaf."""
        kids = self.children(parent)
        if not kids:
            return None
        return next((k.name for k in kids if k.initial), kids[0].name)

    @property
    def parallel_state(self) -> str:
        """The (first) parallel state."""
        return next(s.name for s in self.states if s.parallel)

    def is_parallel(self, name: str | None) -> bool:
        return any(s.parallel for s in self.states if s.name == name)

    def default_leaves(self, name: str) -> list[str]:
        """The leaves entered when ``name`` is entered by default, in document order."""
        kids = self.children(name)
        if not kids:
            return [name]
        if self.is_parallel(name):
            return [leaf for region in kids for leaf in self.default_leaves(region.name)]
        child = self.initial_child(name)
        assert child is not None
        return self.default_leaves(child)

    def active(self, leaves: list[str]) -> set[str]:
        """Every state active when ``leaves`` are: the leaves and all their ancestors."""
        return {state for leaf in leaves for state in self.path(leaf)}

    def path(self, name: str) -> list[str]:
        """Ancestors of ``name`` then ``name`` itself, outermost first."""
        by_name = {s.name: s for s in self.states}
        out = [name]
        parent = by_name[name].parent
        while parent is not None:
            out.append(parent)
            parent = by_name[parent].parent
        out.reverse()
        return out


def toggle(*, guarded: bool) -> Shape:
    """``A <-> B`` on ``go``; with ``guarded`` both directions carry the named guard.

    Stateful peers must change state on every event, so the toggle lets each call fire one
    (guarded) transition forever.
    """
    return Shape(
        name="toggle_guarded" if guarded else "toggle",
        states=(StateShape("A", initial=True), StateShape("B")),
        transitions=(
            TransitionShape("go", "A", "B", guarded=guarded),
            TransitionShape("go", "B", "A", guarded=guarded),
        ),
    )


def nested() -> Shape:
    """Two leaves, each two compound levels below a common ancestor ``TOP``.

    ``go`` moves ``L1 -> L2`` and back: each transition exits three states (``L1``, ``P1a``,
    ``P1``) and enters three (``P2``, ``P2a``, ``L2``) through the least common compound
    ancestor ``TOP``.
    """
    return Shape(
        name="nested",
        states=(
            StateShape("TOP", initial=True),
            StateShape("P1", parent="TOP", initial=True),
            StateShape("P1a", parent="P1", initial=True),
            StateShape("L1", parent="P1a", initial=True),
            StateShape("P2", parent="TOP"),
            StateShape("P2a", parent="P2", initial=True),
            StateShape("L2", parent="P2a", initial=True),
        ),
        transitions=(
            TransitionShape("go", "L1", "L2"),
            TransitionShape("go", "L2", "L1"),
        ),
    )


def ring(n_states: int, fanout: int = 5) -> Shape:
    """``n_states`` flat states ``S0..``, each with ``fanout`` transitions ``t0..``.

    ``t<j>`` goes from ``S<i>`` to ``S<(i + j + 1) % n>``, so ``t0`` walks the whole ring and
    the machine has ``n_states * fanout`` transitions.
    """
    names = [f"S{i}" for i in range(n_states)]
    return Shape(
        name=f"ring{n_states}",
        states=tuple(StateShape(n, initial=(i == 0)) for i, n in enumerate(names)),
        transitions=tuple(
            TransitionShape(f"t{j}", names[i], names[(i + j + 1) % n_states])
            for i in range(n_states)
            for j in range(fanout)
        ),
    )


def parallel(regions: int = 3) -> Shape:
    """``OUTSIDE`` and a parallel state ``P`` of ``regions`` regions ``r1``, ``r2``, ...

    Region ``r<i>`` holds two leaves toggled by its own trigger: ``A1 <-> A2`` on ``go`` in
    ``r1``, ``B1 <-> B2`` on ``go2`` in ``r2``, ``C1 <-> C2`` on ``go3`` in ``r3`` (every leaf
    is reachable, which python-statemachine checks). ``go`` moves ``r1`` alone, and every
    ``go`` fires. ``enter`` goes ``OUTSIDE -> P``, entering every region's first leaf;
    ``leave`` goes ``P -> OUTSIDE``, exiting every region (its source is ``P`` itself).
    """
    states: list[StateShape] = [StateShape("OUTSIDE", initial=True), StateShape("P", parallel=True)]
    transitions: list[TransitionShape] = []
    for i in range(1, regions + 1):
        region, letter = f"r{i}", chr(ord("A") + i - 1)
        first, second = f"{letter}1", f"{letter}2"
        trigger = "go" if i == 1 else f"go{i}"
        states += [
            StateShape(region, parent="P"),
            StateShape(first, parent=region, initial=True),
            StateShape(second, parent=region),
        ]
        transitions += [
            TransitionShape(trigger, first, second),
            TransitionShape(trigger, second, first),
        ]
    transitions += [TransitionShape(ENTER, "OUTSIDE", "P"), TransitionShape(LEAVE, "P", "OUTSIDE")]
    return Shape(name="parallel", states=tuple(states), transitions=tuple(transitions))


def order() -> Shape:
    """The unhappy paths' machine: ``PENDING -> OPEN`` on ``ack``, ``OPEN -> FILLED`` on the
    guarded ``fill``, ``FILLED`` terminal.

    From ``OPEN``, ``fill`` passes or is rejected by its guard; ``ack`` is defined but not
    from ``OPEN``; any event in ``FILLED`` meets a terminal state.
    """
    return Shape(
        name="order",
        states=(
            StateShape("PENDING", initial=True),
            StateShape("OPEN"),
            StateShape("FILLED", terminal=True),
        ),
        transitions=(
            TransitionShape("ack", "PENDING", "OPEN"),
            TransitionShape("fill", "OPEN", "FILLED", guarded=True),
        ),
    )
