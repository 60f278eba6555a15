"""Configurations: the set of active states, and its string form.

Without parallel states a configuration is one active leaf and its string is the leaf's name
(``"PARTIAL"``). With a parallel state active, the string names the parallel state and the
configuration of each of its regions, in document order, recursively::

    MONITORING(feed=STREAMING, risk=CALM)
    SESSION(orders=WORKING, market=FEED(prices=LIVE, news=IDLE))

A region's configuration is the name of its active leaf (its ancestors inside the region are
implied, state names being unique) or a nested parallel state. ``ParallelStateConfig`` is the
model form of the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pystator.engine.index import ROOT, MachineIndex, StateNode
from pystator.errors import UndefinedStateError
from pystator.models.checks import suggest

_TOKEN = re.compile(r"\s*(?:([A-Za-z][A-Za-z0-9_]*)|(\()|(\))|(=)|(,))")
_MAX_CONFIG_CACHE = 4096
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

    def below(node: StateNode) -> str:
        # Descend through the active child of each compound state (or region) until a leaf
        # or a parallel state is reached.
        while node.kind in {"compound", "region"}:
            child = next((c for c in node.children if c in active), None)
            if child is None:
                return node.name
            node = states[child]
        if node.kind == "parallel":
            inner = ", ".join(f"{r}={below(states[r])}" for r in node.children)
            return f"{node.name}({inner})"
        return node.name

    top = next(n for n in active if states[n].parent == ROOT)
    return below(states[top])


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            if text[pos:].strip() == "":
                break
            raise ValueError(f"unexpected {text[pos : pos + 10]!r} at position {pos}")
        out.append(next(g for g in match.groups() if g is not None))
        pos = match.end()
    return out


def parse(index: MachineIndex, text: str) -> Configuration:
    """Parse and check a configuration string; raise ``UndefinedStateError`` when illegal."""
    cached: Configuration | None = index.configs.get(text)
    if cached is not None:
        return cached
    states = index.states
    machine = index.definition.meta.machine_name
    if len(text) > _MAX_CONFIG_LENGTH:
        raise UndefinedStateError(f"configuration of machine '{machine}' is too long")
    try:
        tokens = _tokens(text)
    except ValueError as exc:
        raise UndefinedStateError(
            f"'{text}' is not a state or configuration of machine '{machine}': {exc}"
        ) from None
    pos = 0
    leaves: list[str] = []

    def fail(message: str) -> UndefinedStateError:
        return UndefinedStateError(
            f"'{text}' is not a valid configuration of '{machine}': {message}"
        )

    def name_at() -> str:
        nonlocal pos
        if pos >= len(tokens) or not tokens[pos][0].isalpha():
            raise fail("expected a state name")
        pos += 1
        return tokens[pos - 1]

    def expect(token: str) -> None:
        nonlocal pos
        if pos >= len(tokens) or tokens[pos] != token:
            raise fail(f"expected '{token}'")
        pos += 1

    def config_within(container: str) -> None:
        name = name_at()
        node = states.get(name)
        if node is None:
            raise UndefinedStateError(
                f"state '{name}' is not defined in machine '{machine}'{suggest(name, states)}"
            )
        # The path from the container down to the named state may not cross a parallel
        # state: that one must be written with its regions.
        if container and container not in node.ancestors:
            raise fail(f"'{name}' is not inside '{container}'")
        path = node.ancestors[: node.ancestors.index(container)] if container else node.ancestors
        if any(states[a].kind == "parallel" for a in path):
            crossing = next(a for a in path if states[a].kind == "parallel")
            raise fail(f"'{name}' is inside parallel state '{crossing}': write {crossing}(...)")
        if node.kind == "history":
            raise fail(f"'{name}' is a history pseudo-state, never active")
        if node.kind == "parallel":
            expect("(")
            seen: list[str] = []
            while True:
                region = name_at()
                if region not in node.children:
                    raise fail(f"'{region}' is not a region of '{name}'")
                if region in seen:
                    raise fail(f"region '{region}' is given twice")
                seen.append(region)
                expect("=")
                config_within(region)
                if pos < len(tokens) and tokens[pos] == ",":
                    pos_advance()
                    continue
                break
            expect(")")
            missing = [r for r in node.children if r not in seen]
            if missing:
                raise fail(f"region(s) {', '.join(missing)} of '{name}' missing")
            return
        leaves.append(name)

    def pos_advance() -> None:
        nonlocal pos
        pos += 1

    config_within(ROOT)
    if pos != len(tokens):
        raise fail("unexpected text after the configuration")
    ordered = tuple(sorted(leaves, key=lambda n: states[n].order))
    config = Configuration(serialize(index, ordered), ordered, active_of(states, ordered))
    if len(index.configs) >= _MAX_CONFIG_CACHE:
        index.configs.clear()
    index.configs[text] = config
    return config
