"""Configurations: the set of active states, and its string form.

Without parallel states a configuration is one active leaf and its string is the leaf's name
(``"PARTIAL"``). With a parallel state active, the string names the parallel state and the
configuration of each of its regions, in document order, recursively::

    MONITORING(feed=STREAMING, risk=CALM)
    SESSION(orders=WORKING, market=FEED(prices=LIVE, news=IDLE))

A region's configuration is the name of its active leaf (its ancestors inside the region are
implied, state names being unique) or a nested parallel state. ``ParallelStateConfig`` is the
model form of the same thing.

The tokens come from ``pystator.models.config_text.scan``, the one reader of the string's
syntax (the model's ``from_string`` uses it too); here they are walked against a machine.
"""

from __future__ import annotations

from collections.abc import Iterable

from pystator.engine.caches import MAX_CONFIGS
from pystator.engine.index import ROOT, MachineIndex, StateNode
from pystator.errors import UndefinedStateError
from pystator.models.checks import suggest
from pystator.models.config_text import scan, unexpected_text

_MAX_CONFIG_LENGTH = 20_000


class Configuration:
    """A parsed, legal configuration: its leaves (document order) and every active state."""

    __slots__ = ("active", "leaves", "text")

    def __init__(self, text: str, leaves: tuple[str, ...], active: frozenset[str]) -> None:
        self.text = text
        self.leaves = leaves
        self.active = active


def active_of(states: dict[str, StateNode], leaves: Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    for leaf in leaves:
        out.add(leaf)
        out.update(states[leaf].ancestors)
    return frozenset(out)


def serialize(index: MachineIndex, leaves: Iterable[str]) -> str:
    """The string form of the configuration whose active leaves are ``leaves``."""
    states = index.states
    leaves = tuple(leaves)
    if len(leaves) == 1 and not states[leaves[0]].in_parallel:
        return leaves[0]
    active = active_of(states, leaves)

    def below(node: StateNode) -> StateNode:
        # Descend through the active child of each compound state (or region) until a leaf
        # or a parallel state is reached.
        while node.kind == "compound" or node.kind == "region":
            child = next((c for c in node.children if c in active), None)
            if child is None:
                return node
            node = states[child]
        return node

    top = below(states[next(n for n in active if states[n].parent == ROOT)])
    if top.kind != "parallel":
        return top.name
    # Text and parallel states still to write, on a stack (parallel states can nest deeper
    # than Python would recurse); a region whose active state is not parallel is written at
    # once.
    out: list[str] = []
    todo: list[StateNode | str] = [top]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        parts: list[StateNode | str] = [f"{item.name}("]
        for i, region in enumerate(item.children):
            inner = below(states[region])
            if inner.kind == "parallel":
                parts += (f", {region}=" if i else f"{region}=", inner)
            else:
                parts.append(f", {region}={inner.name}" if i else f"{region}={inner.name}")
        parts.append(")")
        todo.extend(reversed(parts))
    return "".join(out)


def parse(index: MachineIndex, text: str) -> Configuration:
    """Parse and check a configuration string; raise ``UndefinedStateError`` when illegal.

    Kept in ``index.caches.configs`` under ``text`` as given."""
    configs = index.caches.configs
    cached = configs.get(text)
    if cached is not None:
        return cached
    states = index.states
    machine = index.definition.meta.machine_name
    if len(text) > _MAX_CONFIG_LENGTH:
        raise UndefinedStateError(f"configuration of machine '{machine}' is too long")
    tokens, _, unexpected = scan(text)
    if unexpected >= 0:
        raise UndefinedStateError(
            f"'{text}' is not a state or configuration of machine '{machine}': "
            + unexpected_text(text, unexpected)
        )
    leaves = _ConfigParser(index, text, tokens).leaves()
    ordered = tuple(sorted(leaves, key=lambda n: states[n].order))
    config = Configuration(serialize(index, ordered), ordered, active_of(states, ordered))
    if len(configs) >= MAX_CONFIGS:
        configs.clear()
    configs[text] = config
    return config


class _ConfigParser:
    """Reads ``NAME`` or ``NAME(region=CONFIG, ...)`` with an explicit stack of the parallel
    states still open (they can nest deeper than Python would recurse)."""

    def __init__(self, index: MachineIndex, text: str, tokens: list[str]) -> None:
        self.states = index.states
        self.machine = index.definition.meta.machine_name
        self.text = text
        self.tokens = tokens
        self.pos = 0

    def fail(self, message: str) -> UndefinedStateError:
        return UndefinedStateError(
            f"'{self.text}' is not a valid configuration of '{self.machine}': {message}"
        )

    def take(self, token: str | None = None) -> str:
        """The next token: a state name, or exactly ``token``."""
        tokens, pos = self.tokens, self.pos
        if token is None and (pos >= len(tokens) or not tokens[pos][0].isalpha()):
            raise self.fail("expected a state name")
        if token is not None and (pos >= len(tokens) or tokens[pos] != token):
            raise self.fail(f"expected '{token}'")
        self.pos += 1
        return tokens[pos]

    def leaves(self) -> list[str]:
        """The leaves named by the whole text."""
        leaves: list[str] = []
        # Open parallel states, each with the regions given so far.
        open_: list[tuple[StateNode, list[str]]] = []
        container = ROOT
        while True:
            node = self.state_within(container)
            if node.kind == "parallel":
                self.take("(")
                open_.append((node, []))
                container = self.region(open_[-1])
                continue
            leaves.append(node.name)
            # Close every parallel state whose last region this was; go on with the next
            # region of the innermost one still open.
            while open_:
                if self.pos < len(self.tokens) and self.tokens[self.pos] == ",":
                    self.pos += 1
                    container = self.region(open_[-1])
                    break
                self.take(")")
                parallel, seen = open_.pop()
                missing = [r for r in parallel.children if r not in seen]
                if missing:
                    raise self.fail(f"region(s) {', '.join(missing)} of '{parallel.name}' missing")
            if not open_:
                break
        if self.pos != len(self.tokens):
            raise self.fail("unexpected text after the configuration")
        return leaves

    def region(self, frame: tuple[StateNode, list[str]]) -> str:
        """``region=``: the next region of the open parallel state ``frame``."""
        parallel, seen = frame
        region = self.take()
        if region not in parallel.children:
            raise self.fail(f"'{region}' is not a region of '{parallel.name}'")
        if region in seen:
            raise self.fail(f"region '{region}' is given twice")
        seen.append(region)
        self.take("=")
        return region

    def state_within(self, container: str) -> StateNode:
        """The next state name, checked to sit in ``container`` without crossing a parallel
        state."""
        name = self.take()
        states = self.states
        node = states.get(name)
        if node is None:
            raise UndefinedStateError(
                f"state '{name}' is not defined in machine '{self.machine}'{suggest(name, states)}"
            )
        # The path from the container down to the named state may not cross a parallel
        # state: that one must be written with its regions.
        ancestors = node.ancestors
        if container and container not in ancestors:
            raise self.fail(f"'{name}' is not inside '{container}'")
        path = ancestors[: ancestors.index(container)] if container else ancestors
        crossing = next((a for a in path if states[a].kind == "parallel"), None)
        if crossing is not None:
            raise self.fail(
                f"'{name}' is inside parallel state '{crossing}': write {crossing}(...)"
            )
        if node.kind == "history":
            raise self.fail(f"'{name}' is a history pseudo-state, never active")
        return node
