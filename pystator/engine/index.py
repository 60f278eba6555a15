"""The compiled form of a machine: ``MachineIndex``, its ``StateNode``s, and the lookups.

``engine.build.build_index`` compiles a ``MachineDefinition`` into a ``MachineIndex``, which is
frozen: its fields never change once built. What the engine fills in on use (a state's
candidate table, results built once) lives in its ``IndexCaches`` (``engine.caches``), reached
as ``index.caches``. Guards are compiled by ``engine.guards`` (``CompiledGuard`` and
``Rejection`` are re-exported here, where the engine has always imported them).

The index answers "which transitions may fire for this trigger in this state, in which order"
with one dictionary lookup per level (``state_table``). Selection order follows SCXML: the
active state first, then its ancestors; within one state, higher ``priority`` first, then
document order. A wildcard source (``"*"``) belongs to every non-terminal state.

Regions of parallel states become compound nodes of the tree (SCXML's children of
``<parallel>``), so every algorithm sees one uniform tree rooted at ``ROOT``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pystator.engine.caches import IndexCaches
from pystator.engine.datamodel import CompiledAssign
from pystator.engine.guards import CompiledGuard, ExprFn, Rejection
from pystator.models.definition import (
    ActionSpec,
    MachineDefinition,
    StateDefinition,
    TransitionDefinition,
)
from pystator.models.result import TimerSpec, TransitionResult

__all__ = [
    "AUTO",
    "ROOT",
    "Candidate",
    "CompiledGuard",
    "ExprFn",
    "MachineIndex",
    "Rejection",
    "StateNode",
    "allowed_of",
    "state_table",
]

ROOT = ""
"""The implicit top-level compound state that contains every top-level state."""

AUTO = ""
"""Table key of eventless (``auto``) transitions; no trigger can be empty."""


class Candidate:
    """One transition that may fire from one active state; its result is built once.

    The candidates of a state are made on its first event and kept in ``IndexCaches.table``,
    so the memos below (``result``, ``assigns``, ``carried``) are part of that cache. They
    stay slots of the candidate: a dictionary keyed by candidate would add a lookup to the
    fast path (rows 1 to 3).
    """

    __slots__ = (
        "assigns",
        "carried",
        "guards",
        "index",
        "result",
        "source",
        "state",
        "transition",
    )

    def __init__(
        self,
        state: str,
        source: str,
        transition: TransitionDefinition,
        index: int,
        guards: tuple[CompiledGuard, ...],
    ) -> None:
        self.state = state
        self.source = source
        self.transition = transition
        self.index = index
        self.guards = guards
        # Built on first use by ``engine.step.accept``: in a machine without eventless,
        # done or history transitions a successful result depends only on the active state
        # and the transition, so one immutable object serves every call.
        self.result: TransitionResult | None = None
        # Set with ``result``: the assign items of that one microstep, in SCXML order.
        self.assigns: tuple[CompiledAssign, ...] = ()
        # The last copy of ``result`` that carried a call's context (the driver's, see
        # ``runtime.fast_select``): a session sends with one context object until an event
        # changes it, so that copy serves its next calls.
        self.carried: TransitionResult | None = None


@dataclass(slots=True)
class StateNode:
    """A state (or region) with everything the engine needs precomputed (read-only by
    convention: not frozen, because a frozen dataclass is several times slower to build and a
    large machine builds thousands)."""

    name: str
    kind: str
    """``atomic``, ``compound``, ``parallel``, ``region`` or ``history``."""
    type: str
    """The definition's type (``initial``, ``stable``, ``terminal``, ...); ``region``."""
    parent: str
    """Name of the parent, ``ROOT`` for a top-level state."""
    children: tuple[str, ...]
    """Real children (history pseudo-states excluded), in document order."""
    history_children: tuple[str, ...]
    ancestors: tuple[str, ...]
    """Proper ancestors, innermost first, ``ROOT`` excluded."""
    order: int
    """Position in document order (parents before children)."""
    on_enter: tuple[ActionSpec, ...]
    on_exit: tuple[ActionSpec, ...]
    initial_child: str | None
    in_parallel: bool
    """Some ancestor is a parallel state: the state is never a configuration on its own."""
    timers: tuple[TimerSpec, ...]
    """Timers armed when the state is entered."""
    deep: bool = False
    """History pseudo-states: deep (leaves) rather than shallow (children)."""
    default: str | None = None
    """History pseudo-states: where to go without memory."""
    definition: StateDefinition | None = None
    enter_assigns: tuple[CompiledAssign, ...] = ()
    """``{assign: ...}`` items of ``on_enter``, in order."""
    exit_assigns: tuple[CompiledAssign, ...] = ()
    """``{assign: ...}`` items of ``on_exit``, in order."""
    enter_raises: tuple[str, ...] = ()
    """Internal events raised by ``on_enter`` (``{raise: EVENT}`` items), in order."""
    exit_raises: tuple[str, ...] = ()
    """Internal events raised by ``on_exit``, in order."""
    fallback: tuple[str, ...] = ()
    """History pseudo-states: what is entered while there is no memory (SCXML's default
    history transition): ``default``, else the parent's initial child (through it when it is
    another history), else (the history is that initial child) the child of type ``initial``
    or the first real child; in a parallel state, every region. Never a history state."""

    @property
    def is_compound(self) -> bool:
        return bool(self.children)

    @property
    def is_terminal(self) -> bool:
        return self.type == "terminal"

    @property
    def is_final(self) -> bool:
        """A top-level terminal state: the entity is done, no event applies."""
        return self.type == "terminal" and self.parent == ROOT


@dataclass(frozen=True, slots=True)
class MachineIndex:
    """The compiled form of a definition; never changes once built.

    Its dictionaries are read-only by convention (a ``MappingProxyType`` lookup is slower,
    and ``states.get`` is on the hot paths). What the engine fills in on use is in
    ``caches``: ``dataclasses.replace`` makes an index that shares them.
    """

    definition: MachineDefinition
    states: dict[str, StateNode]
    initial_top: str
    """The top-level state the machine starts in."""
    initial_state: str
    """The configuration a new entity starts in (before eventless steps); resolved from
    ``initial_top`` by ``engine.step.compile_machine``."""
    triggers: frozenset[str]
    timer_triggers: frozenset[str]
    timer_table: dict[str, Candidate]
    """timer key -> the delayed transition it fires."""
    strict: bool
    simple: bool
    """No eventless, done or history transitions: a step is one microstep, results cacheable."""
    has_history: bool
    has_auto: bool
    own: dict[str, list[int]] = field(default_factory=dict)
    """state -> indexes of its own transitions (not delayed ones), in document order; grouped
    by trigger and sorted by priority in ``state_table``, on the state's first event."""
    guards: dict[int, tuple[CompiledGuard, ...]] = field(default_factory=dict)
    """transition index -> its compiled guards (absent: the transition has none)."""
    assigns: dict[int, tuple[CompiledAssign, ...]] = field(default_factory=dict)
    """transition index -> its compiled assign items (``assign:`` first, then the
    ``{assign: ...}`` items of its actions); absent: the transition assigns nothing."""
    has_assign: bool = False
    """Some transition or state assigns: results carry a context computed per call."""
    raises: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """transition index -> the internal events its actions raise, in order."""
    has_raise: bool = False
    """Some transition or state raises internal events (SCXML's ``<raise>``)."""
    caches: IndexCaches = field(default_factory=IndexCaches)
    """What the engine fills in on use (``engine.caches``)."""


def state_table(index: MachineIndex, name: str) -> dict[str, tuple[Candidate, ...]] | None:
    """trigger -> candidates of state ``name``, built on first use (``None``: no such state).

    Built lazily so that loading a machine of thousands of states costs only what it uses:
    the state's own transitions, then its ancestors', each level sorted by priority. Kept in
    ``index.caches`` (``table``, ``allowed`` and, for a plain state, ``fast_table``).
    """
    caches = index.caches
    table = caches.table.get(name)
    if table is not None:
        return table
    state_node = index.states.get(name)
    if state_node is None:
        return None
    return _build_state_table(index, name, state_node)


def _build_state_table(
    index: MachineIndex, name: str, state_node: StateNode
) -> dict[str, tuple[Candidate, ...]]:
    """Build the table of state ``name`` and keep it, with its allowed triggers, in
    ``index.caches``."""
    table = _candidates_in_selection_order(index, name, state_node)
    caches = index.caches
    caches.allowed[name] = tuple(
        sorted(
            (k for k in table if k != AUTO and not k.startswith("done.state.")),
            key=lambda trig: min(c.index for c in table[trig]),
        )
    )
    caches.table[name] = table
    if index.simple and not state_node.in_parallel and state_node.kind != "parallel":
        # A plain state of a machine whose results can be built once: the fast path.
        caches.fast_table[name] = table
    return table


def _candidates_in_selection_order(
    index: MachineIndex, name: str, state_node: StateNode
) -> dict[str, tuple[Candidate, ...]]:
    """trigger -> candidates of state ``name``: its own transitions, then each proper
    ancestor's, innermost first (the order SCXML's ``selectTransitions`` visits them); none
    for a final state or a history pseudo-state."""
    if state_node.is_final or state_node.kind == "history":
        return {}
    transitions = index.definition.transitions
    merged: dict[str, list[Candidate]] = {}
    seen: set[int] = set()
    for level in (name, *state_node.ancestors):
        listed = index.own.get(level)
        if not listed:
            continue
        for trigger, indexes in _by_trigger_and_priority(transitions, listed).items():
            bucket = merged.setdefault(trigger, [])
            for i in indexes:
                # A transition listed at several levels ("*", or a source list naming a
                # state and its ancestor) is selected once, at the innermost level.
                if i in seen:
                    continue
                seen.add(i)
                bucket.append(Candidate(name, level, transitions[i], i, index.guards.get(i, ())))
    return {k: tuple(v) for k, v in merged.items() if v}


def _by_trigger_and_priority(
    transitions: tuple[TransitionDefinition, ...], listed: list[int]
) -> dict[str, list[int]]:
    """One level's transitions by trigger (``AUTO`` for eventless), each group by priority:
    a stable sort, so document order among equals."""
    by_trigger: dict[str, list[int]] = {}
    for i in listed:
        t = transitions[i]
        by_trigger.setdefault(AUTO if t.auto else t.trigger, []).append(i)  # type: ignore[arg-type]
    for indexes in by_trigger.values():
        if len(indexes) > 1:
            indexes.sort(key=lambda i: -transitions[i].priority)
    return by_trigger


def allowed_of(index: MachineIndex, name: str) -> tuple[str, ...]:
    """Triggers with at least one candidate from state ``name``, in document order."""
    allowed = index.caches.allowed.get(name)
    if allowed is None:
        state_table(index, name)
        allowed = index.caches.allowed.get(name, ())
    return allowed
