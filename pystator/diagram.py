"""Diagrams of a definition as Mermaid (``stateDiagram-v2``) or Graphviz DOT text.

Pure functions from a ``MachineDefinition`` to text: no I/O, reused by the command line
(``pystator diagram``) and the web UI. Compound states are drawn as boxes around their
children (Mermaid composite states, DOT clusters); a parallel state's regions are boxes side
by side (Mermaid's ``--`` separator, dashed DOT clusters). Each box has its own start marker
on its initial child; top-level terminal states lead to the end marker.

Edge labels read ``trigger [guard, ...] / action, ...``, where an ``assign`` item reads
``field := expression`` and a ``raise`` item ``raise EVENT``; a delayed transition's label is
``after 5s``, an eventless one's ``auto``, a state timeout's ``timeout 30s``. A history
pseudo-state is drawn inside the state it remembers (``H``, or ``H*`` when deep), also
directly in a parallel state, beside its regions. A wildcard
source (``"*"``) is drawn from every top-level non-terminal state (a transition of a parent
applies to everything inside it). A targetless transition is a loop on its source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

from pystator.engine import ROOT, MachineIndex, StateNode, compile_machine
from pystator.models.definition import (
    ActionItem,
    AssignSpec,
    GuardSpec,
    MachineDefinition,
    RaiseSpec,
    TransitionDefinition,
)

DiagramFormat = Literal["mermaid", "dot"]
_MAX_INDENT = 16
FORMATS: tuple[DiagramFormat, ...] = ("mermaid", "dot")


def render(definition: MachineDefinition, fmt: DiagramFormat) -> str:
    """The diagram of ``definition`` in ``fmt`` (``"mermaid"`` or ``"dot"``)."""
    if fmt == "mermaid":
        return to_mermaid(definition)
    if fmt == "dot":
        return to_dot(definition)
    raise ValueError(f"unknown diagram format {fmt!r}: use one of {', '.join(FORMATS)}")


# ----------------------------------------------------------------------------- shared
class _Tree:
    """Children of every state, in document order (computed once per diagram)."""

    def __init__(self, index: MachineIndex) -> None:
        self.index = index
        self._kids: dict[str, list[StateNode]] = {}
        for node in sorted(index.states.values(), key=lambda n: n.order):
            self._kids.setdefault(node.parent, []).append(node)

    def children(self, parent: str) -> list[StateNode]:
        return self._kids.get(parent, [])


def _seconds(ms: int) -> str:
    if ms % 3_600_000 == 0 and ms:
        return f"{ms // 3_600_000}h"
    if ms % 60_000 == 0 and ms:
        return f"{ms // 60_000}m"
    if ms % 1000 == 0:
        return f"{ms // 1000}s"
    return f"{ms}ms"


def _delay_label(after: int | str) -> str:
    from pystator.models.definition import duration_ms

    return _seconds(duration_ms(after))


def _guard_text(guard: str | GuardSpec) -> str:
    if isinstance(guard, str):
        return guard
    if guard.expr is not None:
        return " ".join(guard.expr.split())
    return guard.name or ""


def _action_text(action: ActionItem) -> str:
    if isinstance(action, AssignSpec):
        return ", ".join(f"{field} := {expr}" for field, expr in action.assign.items())
    if isinstance(action, RaiseSpec):
        return f"raise {action.event}"
    return action if isinstance(action, str) else action.name


def _edges(tree: _Tree) -> Iterator[tuple[str, str, str]]:
    """(source, target, label) for every transition and state timeout, in document order."""
    yield from _transition_edges(tree)
    yield from _timeout_edges(tree.index)


def _transition_edges(tree: _Tree) -> Iterator[tuple[str, str, str]]:
    """(source, target, label) for every transition; a wildcard source is drawn from every
    top-level non-terminal state, a targetless transition as a loop on its source."""
    top_open = [n.name for n in tree.children(ROOT) if not n.is_terminal and n.kind != "history"]
    for t in tree.index.definition.transitions:
        label = _transition_label(t)
        sources = top_open if t.source == "*" else list(t.sources)
        for source in sources:
            target = t.dest if t.dest is not None else source
            yield source, target, label + (" (internal)" if t.dest is None else "")


def _transition_label(t: TransitionDefinition) -> str:
    """``trigger [guard, ...] / action, ...``, the ``assign`` mapping first among the actions."""
    label = _event_text(t)
    if t.guards:
        label += " [" + ", ".join(_guard_text(g) for g in t.guards) + "]"
    items: tuple[ActionItem, ...] = t.actions
    if t.assign:
        items = (AssignSpec(assign=t.assign), *items)
    if items:
        label += " / " + ", ".join(_action_text(a) for a in items)
    return label


def _event_text(t: TransitionDefinition) -> str:
    """What fires ``t``: ``auto`` (eventless), its trigger, or ``after <delay>``."""
    if t.auto:
        return "auto"
    if t.trigger is not None and t.after is None:
        return t.trigger
    return f"after {_delay_label(t.after)}" if t.after is not None else str(t.trigger)


def _timeout_edges(index: MachineIndex) -> Iterator[tuple[str, str, str]]:
    """(state, destination, ``timeout <seconds>s``) for every state with a timeout."""
    for node in index.states.values():
        state = node.definition
        if state is not None and state.timeout is not None:
            seconds = state.timeout.seconds
            text = f"{seconds:g}s"
            yield node.name, state.timeout.destination, f"timeout {text}"


# ----------------------------------------------------------------------------- Mermaid
_MERMAID_ESCAPES = {c: f"#{ord(c)};" for c in '#;{}<>"\\|`'}


def _mermaid_text(text: str) -> str:
    return "".join(_MERMAID_ESCAPES.get(c, c) for c in " ".join(text.split()))


def to_mermaid(definition: MachineDefinition) -> str:
    """A Mermaid ``stateDiagram-v2`` of ``definition``."""
    index = compile_machine(definition)
    tree = _Tree(index)
    version = _mermaid_text(definition.meta.version)
    lines = ["stateDiagram-v2", f"    %% {definition.meta.machine_name} v{version}"]
    lines.append(f"    [*] --> {index.initial_top}")
    _mermaid_states(tree, lines)
    for node in tree.children(ROOT):
        if node.is_terminal:
            lines.append(f"    {node.name} --> [*]")
    for source, target, label in _edges(tree):
        lines.append(f"    {source} --> {target} : {_mermaid_text(label)}")
    return "\n".join(lines) + "\n"


_Item = tuple[StateNode, int] | str
"""A state to draw at a depth, or a line of text to copy."""


def _walk(tree: _Tree, lines: list[str], draw: Callable[[StateNode, int], list[_Item]]) -> None:
    """Every state depth first in document order, with an explicit stack (trees can be
    thousands deep): ``draw(node, depth)`` gives the node's own lines with its children, as
    ``(child, depth + 1)``, where they go among them."""
    todo: list[_Item] = [(n, 1) for n in reversed(tree.children(ROOT))]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            lines.append(item)
        else:
            todo.extend(reversed(draw(*item)))


def _mermaid_states(tree: _Tree, lines: list[str]) -> None:
    """Every state, composite states around their children."""

    def draw(node: StateNode, depth: int) -> list[_Item]:
        pad = _pad(depth)
        if node.kind == "history":
            mark = "H*" if node.deep else "H"
            return [f'{pad}state "{mark}" as {node.name}']
        children = tree.children(node.name)
        if not children:
            return [f"{pad}{node.name}"]
        if node.kind == "parallel":
            body = _mermaid_parallel_body(children, depth)
        else:
            body = _mermaid_compound_body(tree, node, children, depth)
        return [f"{pad}state {node.name} {{", *body, f"{pad}}}"]

    _walk(tree, lines, draw)


def _mermaid_parallel_body(children: list[StateNode], depth: int) -> list[_Item]:
    """Inside a parallel state: each region a section between ``--`` separators.

    A history pseudo-state placed directly in the parallel state belongs to no region: it
    gets a section of its own after them (left out, Mermaid would draw it at the top level,
    outside the state it remembers).
    """
    separator = f"{_pad(depth)}    --"
    regions = [c for c in children if c.kind == "region"]
    loose = [c for c in children if c.kind != "region"]
    items: list[_Item] = []
    for i, region in enumerate(regions):
        if i:
            items.append(separator)
        items.append((region, depth + 1))
    if loose:
        if regions:
            items.append(separator)
        items.extend((child, depth + 1) for child in loose)
    return items


def _mermaid_compound_body(
    tree: _Tree, node: StateNode, children: list[StateNode], depth: int
) -> list[_Item]:
    """Inside a compound state or region: its start marker, its children, and an end
    marker after each terminal leaf child."""
    pad = _pad(depth)
    items: list[_Item] = []
    if node.initial_child is not None:
        items.append(f"{pad}    [*] --> {node.initial_child}")
    items.extend((child, depth + 1) for child in children)
    items.extend(
        f"{pad}    {child.name} --> [*]"
        for child in children
        if child.is_terminal and not tree.children(child.name)
    )
    return items


def _pad(depth: int) -> str:
    # Indentation stops growing at _MAX_INDENT levels: a deep chain would otherwise make
    # the text grow with the square of its depth (both formats ignore indentation).
    return "    " * min(depth, _MAX_INDENT)


# ----------------------------------------------------------------------------- DOT
def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + " ".join(escaped.split()) + '"'


def to_dot(definition: MachineDefinition) -> str:
    """A Graphviz ``digraph`` of ``definition`` (render with ``dot -Tsvg``)."""
    index = compile_machine(definition)
    tree = _Tree(index)
    name = definition.meta.machine_name
    lines = [
        f"digraph {_dot_quote(name)} {{",
        "    compound=true;",
        "    rankdir=LR;",
        f"    label={_dot_quote(f'{name} v{definition.meta.version}')};",
        "    labelloc=t;",
        '    node [shape=box, style=rounded, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
        '    "__start__" [shape=point, width=0.15, label=""];',
    ]
    _dot_states(tree, lines)
    lines.append(
        f'    "__start__" -> {_dot_quote(index.initial_top)}{_dot_head(tree, index.initial_top)};'
    )
    for source, target, label in _edges(tree):
        attrs = [f"label={_dot_quote(label)}"]
        if tree.children(source):
            attrs.append(f"ltail={_dot_quote('cluster_' + source)}")
        if tree.children(target):
            attrs.append(f"lhead={_dot_quote('cluster_' + target)}")
        lines.append(f"    {_dot_quote(source)} -> {_dot_quote(target)} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_head(tree: _Tree, target: str) -> str:
    if tree.children(target):
        return f" [lhead={_dot_quote('cluster_' + target)}]"
    return ""


def _dot_states(tree: _Tree, lines: list[str]) -> None:
    """Every state, compound ones as clusters around their children."""

    def draw(node: StateNode, depth: int) -> list[_Item]:
        pad = _pad(depth)
        quoted = _dot_quote(node.name)
        if node.kind == "history":
            mark = "H*" if node.deep else "H"
            return [f"{pad}{quoted} [shape=circle, label={_dot_quote(mark)}, width=0.3];"]
        children = tree.children(node.name)
        if not children:
            extra = ", peripheries=2" if node.is_terminal else ""
            return [f"{pad}{quoted} [label={quoted}{extra}];"]
        items: list[_Item] = [*_dot_cluster_head(tree, node, pad)]
        items.extend((child, depth + 1) for child in children)
        items.append(f"{pad}}}")
        return items

    _walk(tree, lines, draw)


def _dot_cluster_head(tree: _Tree, node: StateNode, pad: str) -> list[str]:
    """The opening lines of the cluster drawn for a compound, parallel state or region."""
    quoted = _dot_quote(node.name)
    if node.kind == "parallel":
        style, label = '"rounded,bold"', f"{node.name} (parallel)"
    elif node.kind == "region":
        style, label = "dashed", node.name
    else:
        style, label = "rounded", node.name
    lines = [
        f"{pad}subgraph {_dot_quote('cluster_' + node.name)} {{",
        f"{pad}    label={_dot_quote(label)};",
        f"{pad}    style={style};",
        # An invisible anchor named like the state: edges to and from the box attach to it.
        f'{pad}    {quoted} [shape=point, style=invis, width=0.01, label=""];',
    ]
    if node.kind != "parallel" and node.initial_child is not None:
        start = _dot_quote(f"__start__{node.name}")
        lines.append(f'{pad}    {start} [shape=point, width=0.1, label=""];')
        lines.append(
            f"{pad}    {start} -> {_dot_quote(node.initial_child)}"
            f"{_dot_head(tree, node.initial_child)};"
        )
    return lines
