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

Given ``state`` (a state name or a configuration string such as ``"P(r1=A, r2=B)"``, read
by the engine's one configuration parser, ``engine.configuration``), the diagram highlights
that configuration: every active leaf of every region and all their ancestors (regions and
parallel states included), as the engine counts them active, in the web UI's colours: the
active leaves filled blue, the states around them light blue. Mermaid gets ``classDef
current`` and ``classDef active`` with their ``class`` lines (as the UI's Export Mermaid
writes them); DOT fills the active nodes and clusters and thickens their borders. A state
that is not a legal configuration is a ``ValueError`` naming the problem. No transition is
highlighted: a definition and a configuration do not say which transition was taken
(several may lead into one configuration), and Mermaid's state diagrams have no edge
styles; the web UI, which knows an entity's last result, marks it. Mermaid's own limits
apply: its renderers do not paint a ``classDef`` on or inside a composite state (Mermaid's
state-diagram documentation says so), so a highlight nested in compound or parallel states
shows only in DOT, and the ``%% active configuration`` comment names it in both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal, NamedTuple

from pystator.engine import ROOT, MachineIndex, StateNode, compile_machine, configuration
from pystator.errors import UndefinedStateError
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


# The web UI's colours (pystator/ui/static/js/mermaid.js, css/diagram.css): the active leaves
# ("current") filled blue, the states and regions around them ("active") a light blue.
CURRENT_FILL = "#2563eb"
CURRENT_TEXT = "#ffffff"
CURRENT_BORDER = "#1e3a8a"
ACTIVE_FILL = "#eff6ff"
ACTIVE_BORDER = "#2563eb"


class Lit(NamedTuple):
    """A configuration to highlight: its canonical text, every active state in document
    order (regions included), the active leaves and the active regions among them."""

    text: str
    active: tuple[str, ...]
    leaves: frozenset[str]
    regions: frozenset[str]


def render(definition: MachineDefinition, fmt: DiagramFormat, *, state: str | None = None) -> str:
    """The diagram of ``definition`` in ``fmt`` (``"mermaid"`` or ``"dot"``), with the
    configuration ``state`` highlighted when given (``ValueError`` when it is not legal)."""
    if fmt == "mermaid":
        return to_mermaid(definition, state=state)
    if fmt == "dot":
        return to_dot(definition, state=state)
    raise ValueError(f"unknown diagram format {fmt!r}: use one of {', '.join(FORMATS)}")


def active_states(index: MachineIndex, state: str) -> Lit:
    """Configuration ``state`` as the engine reads it: its canonical text, every active leaf
    of every region and their ancestors (in document order), and the leaves.

    Raises ``ValueError`` with the parser's message when ``state`` is not a legal
    configuration of the machine (an undefined state, a missing or unknown region, a state
    inside a parallel state given without it, a syntax error).
    """
    try:
        config = configuration(index, state)
    except UndefinedStateError as exc:
        raise ValueError(exc.message) from None
    ordered = sorted(config.active, key=lambda name: index.states[name].order)
    regions = frozenset(name for name in ordered if index.states[name].kind == "region")
    return Lit(config.text, tuple(ordered), frozenset(config.leaves), regions)


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


def to_mermaid(definition: MachineDefinition, *, state: str | None = None) -> str:
    """A Mermaid ``stateDiagram-v2`` of ``definition``; ``state``: a configuration to
    highlight (``classDef current``/``active``; ``ValueError`` when it is not legal)."""
    index = compile_machine(definition)
    lit = active_states(index, state) if state is not None else None
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
    if lit is not None:
        lines.extend(_mermaid_highlight(lit))
    return "\n".join(lines) + "\n"


def _mermaid_highlight(lit: Lit) -> list[str]:
    """``classDef`` and ``class`` lines: ``current`` for the active leaves, ``active`` for the
    states around them (as the web UI's Export Mermaid writes them)."""
    # Regions are left out, as the UI leaves them: they are not states of the machine.
    states = [name for name in lit.active if name not in lit.regions]
    around = [name for name in states if name not in lit.leaves]
    leaves = [name for name in states if name in lit.leaves]
    lines = [
        f"    %% active configuration: {_mermaid_text(lit.text)}",
        f"    classDef active fill:{ACTIVE_FILL},stroke:{ACTIVE_BORDER},stroke-width:2px",
        f"    classDef current fill:{CURRENT_FILL},color:{CURRENT_TEXT},"
        f"stroke:{CURRENT_BORDER},stroke-width:3px",
    ]
    if around:
        lines.append(f"    class {','.join(around)} active")
    lines.append(f"    class {','.join(leaves)} current")
    return lines


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


def to_dot(definition: MachineDefinition, *, state: str | None = None) -> str:
    """A Graphviz ``digraph`` of ``definition`` (render with ``dot -Tsvg``); ``state``: a
    configuration to highlight (filled, thick-bordered nodes and clusters; ``ValueError``
    when it is not legal)."""
    index = compile_machine(definition)
    lit = active_states(index, state) if state is not None else None
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
    if lit is not None:
        lines.insert(1, f"    // active configuration: {' '.join(lit.text.split())}")
    _dot_states(tree, lines, frozenset(lit.active) if lit is not None else frozenset())
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


def _dot_id(text: str) -> str:
    """``text`` as a DOT ID: bare when it is one word, else quoted."""
    return text if text.isidentifier() else _dot_quote(text)


def _dot_head(tree: _Tree, target: str) -> str:
    if tree.children(target):
        return f" [lhead={_dot_quote('cluster_' + target)}]"
    return ""


def _dot_states(tree: _Tree, lines: list[str], active: frozenset[str]) -> None:
    """Every state, compound ones as clusters around their children; those in ``active``
    highlighted."""

    def draw(node: StateNode, depth: int) -> list[_Item]:
        pad = _pad(depth)
        quoted = _dot_quote(node.name)
        if node.kind == "history":
            mark = "H*" if node.deep else "H"
            return [f"{pad}{quoted} [shape=circle, label={_dot_quote(mark)}, width=0.3];"]
        children = tree.children(node.name)
        if not children:
            extra = ", peripheries=2" if node.is_terminal else ""
            if node.name in active:
                extra += (
                    f', style="rounded,filled", fillcolor="{CURRENT_FILL}", '
                    f'fontcolor="{CURRENT_TEXT}", color="{CURRENT_BORDER}", penwidth=3'
                )
            return [f"{pad}{quoted} [label={quoted}{extra}];"]
        lit = node.name in active
        items: list[_Item] = [*_dot_cluster_head(tree, node, pad, lit)]
        if not lit and node.parent in active:
            # A cluster inherits the attributes of the one around it: undo the highlight.
            items[3:3] = [f"{pad}    color=black;", f"{pad}    penwidth=1;"]
        items.extend((child, depth + 1) for child in children)
        items.append(f"{pad}}}")
        return items

    _walk(tree, lines, draw)


def _dot_cluster_head(tree: _Tree, node: StateNode, pad: str, lit: bool) -> list[str]:
    """The opening lines of the cluster drawn for a compound, parallel state or region
    (``lit``: an active one, filled and thick-bordered)."""
    quoted = _dot_quote(node.name)
    if node.kind == "parallel":
        style, label = "rounded,bold", f"{node.name} (parallel)"
    elif node.kind == "region":
        style, label = "dashed", node.name
    else:
        style, label = "rounded", node.name
    lines = [
        f"{pad}subgraph {_dot_quote('cluster_' + node.name)} {{",
        f"{pad}    label={_dot_quote(label)};",
        f"{pad}    style={_dot_quote(style + ',filled') if lit else _dot_id(style)};",
        # An invisible anchor named like the state: edges to and from the box attach to it.
        f'{pad}    {quoted} [shape=point, style=invis, width=0.01, label=""];',
    ]
    if lit:
        lines[3:3] = [
            f'{pad}    fillcolor="{ACTIVE_FILL}";',
            f'{pad}    color="{ACTIVE_BORDER}";',
            f"{pad}    penwidth=2;",
        ]
    if node.kind != "parallel" and node.initial_child is not None:
        start = _dot_quote(f"__start__{node.name}")
        lines.append(f'{pad}    {start} [shape=point, width=0.1, label=""];')
        lines.append(
            f"{pad}    {start} -> {_dot_quote(node.initial_child)}"
            f"{_dot_head(tree, node.initial_child)};"
        )
    return lines
