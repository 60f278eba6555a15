"""The parts a ``Machine`` class is written with: ``State``, ``History``, ``Region`` and the
transition groups that ``State.to`` returns.

They are plain declarations: each records what was written and the name of the class attribute
it is assigned to (``__set_name__``); ``pystator.runtime.classes`` turns them into the
``MachineDefinition``. The attribute name is the state's, region's or trigger's name::

    PENDING = State(initial=True)
    OPEN = State()
    exchange_ack = PENDING.to(OPEN)            # trigger 'exchange_ack'
    cancel = PENDING.to(DONE) | OPEN.to(DONE)  # one trigger, two transitions, tried in order

Transition groups come in four kinds, so a type checker (and the mypy plugin) can tell which
attributes are trigger methods of a session: ``Transitions`` (sent by the attribute's name),
``Eventless`` (``auto=True``), ``Delayed`` (``after=...``; the attribute's name labels the timer)
and ``OnDone`` (``P.done.to(...)``: the ``done.state.P`` event).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Self, TypedDict, overload

from pydantic import BaseModel
from typing_extensions import Unpack

from pystator.models.context import EventSpec
from pystator.models.definition import TimeoutSpec

if TYPE_CHECKING:
    from pystator.models.definition import ActionRef, GuardRef

Guards = Sequence["GuardRef | Mapping[str, Any]"]
Actions = Sequence["ActionRef | Mapping[str, Any]"]
EventModel = type[BaseModel] | EventSpec


class _Named:
    """Something that takes the name of the class attribute it is assigned to."""

    kind = "part"

    def __init__(self) -> None:
        self.name: str | None = None
        self.owner: type | None = None
        self.aliases: list[str] = []
        """Other attributes it is assigned to (``A = B = State()``): an error."""

    def __set_name__(self, owner: type, name: str) -> None:
        if self.name is None:
            self.name, self.owner = name, owner
        else:
            self.aliases.append(name)

    def label(self) -> str:
        return self.name if self.name is not None else f"<unnamed {self.kind}>"


class State(_Named):
    """A state of a ``Machine`` class; the attribute's name is the state's name.

    Args:
        initial: where the machine starts (top level), or its parent's initial child.
        terminal: a final state (of the machine, or of its parent: ``done.state.<parent>``).
        parallel: a parallel state; declare its regions with ``Region(this_state)``.
        parent: the enclosing compound state, or a ``Region`` of a parallel state.
        initial_child: the child entered by default, by name (for a history child; otherwise
            mark the child ``initial=True``).
        on_enter, on_exit: actions (method names, ``ActionSpec``, ``AssignSpec``,
            ``RaiseSpec``, or their dicts: ``{"raise": "retry"}`` queues an internal event).
        timeout: ``(seconds, destination)`` or a ``TimeoutSpec``.
        description, metadata: free text and data for tools.
    """

    kind = "state"

    def __init__(
        self,
        *,
        initial: bool = False,
        terminal: bool = False,
        parallel: bool = False,
        parent: State | Region | None = None,
        initial_child: str | None = None,
        on_enter: Actions = (),
        on_exit: Actions = (),
        timeout: tuple[float, State | str] | TimeoutSpec | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.initial = initial
        self.terminal = terminal
        self.parallel = parallel
        self.parent = parent
        self.initial_child = initial_child
        self.on_enter = tuple(on_enter)
        self.on_exit = tuple(on_exit)
        self.timeout = timeout
        self.description = description
        self.metadata = dict(metadata or {})

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label()}>"

    @overload
    def to(self, dest: State | None = None, /, **options: Unpack[SentOptions]) -> Transitions: ...

    @overload
    def to(
        self, dest: State | None = None, /, *, auto: Literal[True], **options: Unpack[RuleOptions]
    ) -> Eventless: ...

    @overload
    def to(
        self, dest: State | None = None, /, *, after: int | str, **options: Unpack[RuleOptions]
    ) -> Delayed: ...

    def to(
        self,
        dest: State | None = None,
        /,
        *,
        auto: bool = False,
        after: int | str | None = None,
        **options: Unpack[SentOptions],
    ) -> Transitions | Eventless | Delayed:
        """A transition from this state to ``dest`` (``None``: targetless, actions only).

        Without ``auto`` or ``after`` it fires on the trigger named by the class attribute;
        ``auto=True`` makes it eventless, ``after="5s"`` delayed. ``event`` is the payload
        model of the trigger (a Pydantic model class, or an ``EventSpec``). ``actions`` run in
        order: method names, ``ActionSpec``, ``AssignSpec`` or ``RaiseSpec`` items, or their
        dicts (``{"raise": "retry"}`` queues the internal event ``retry``).
        """
        rule = Rule(self, dest, **options)
        if auto:
            return Eventless((rule,))
        if after is not None:
            rule.after = after
            return Delayed((rule,))
        return Transitions((rule,))

    def from_(self, *sources: State, **options: Unpack[SentOptions]) -> Transitions:
        """One transition from every state of ``sources`` to this one (``source: [A, B]``)."""
        if not sources:
            raise TypeError(f"{self.label()}.from_() needs at least one source state")
        source: State | tuple[State, ...] = sources[0] if len(sources) == 1 else sources
        return Transitions((Rule(source, self, **options),))

    def from_any(self, **options: Unpack[SentOptions]) -> Transitions:
        """One transition from every non-terminal state to this one (``source: "*"``)."""
        return Transitions((Rule("*", self, **options),))

    @property
    def done(self) -> DoneOf:
        """The ``done.state.<this>`` event: ``finished = WORK.done.to(REVIEW)``."""
        return DoneOf(self)


class History(State):
    """A history pseudo-state of ``parent``: entering it re-enters what was last active there.

    Args:
        parent: the compound (or parallel) state it remembers.
        deep: remember the active leaves, not only the last active child.
        default: the state entered when there is no memory yet (default: the parent's
            initial child).
        initial: the parent's ``initial_child`` is this history state (SCXML allows it).
    """

    kind = "history state"

    def __init__(
        self,
        parent: State,
        *,
        deep: bool = False,
        default: State | None = None,
        initial: bool = False,
        description: str | None = None,
    ) -> None:
        super().__init__(parent=parent, initial=initial, description=description)
        self.deep = deep
        self.default = default


class Region(_Named):
    """An orthogonal region of a parallel state; the attribute's name is the region's name.
    Its states name it as their parent: ``CONNECTING = State(parent=feed, initial=True)``."""

    kind = "region"

    def __init__(self, state: State, *, description: str | None = None) -> None:
        super().__init__()
        if not isinstance(state, State) or isinstance(state, History):
            raise TypeError("Region(state): state must be a State(parallel=True)")
        self.state = state
        self.description = description

    def __repr__(self) -> str:
        return f"<Region {self.label()} of {self.state.label()}>"


class RuleOptions(TypedDict, total=False):
    """The options of a transition, whichever way it is written (``to``, ``from_``,
    ``from_any``, ``done.to``)."""

    guards: Guards
    actions: Actions
    assign: Mapping[str, str] | None
    priority: int
    internal: bool
    description: str | None


class SentOptions(RuleOptions, total=False):
    """The options of a transition fired by a trigger: also its payload model."""

    event: EventModel | None


@dataclass(eq=False)
class Rule:
    """One transition as written: sources, target and the options of ``to``."""

    source: State | tuple[State, ...] | str
    dest: State | None
    guards: Guards = ()
    actions: Actions = ()
    assign: Mapping[str, str] | None = None
    priority: int = 0
    internal: bool = False
    description: str | None = None
    event: EventModel | None = None
    after: int | str | None = None
    done_of: State | None = field(default=None)


class TransitionGroup(_Named):
    """The transitions assigned to one class attribute, in the order they are tried."""

    kind = "transitions"

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        super().__init__()
        self.rules = rules

    def __or__(self, other: Self) -> Self:
        if type(other) is not type(self):
            return NotImplemented
        return type(self)(self.rules + other.rules)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name or '?'}: {len(self.rules)} transition(s)>"


class Transitions(TransitionGroup):
    """Transitions fired by the trigger named by their class attribute (a session method)."""


class Eventless(TransitionGroup):
    """Eventless transitions (``auto: true``): taken as soon as their guards pass."""

    kind = "eventless transitions"


class Delayed(TransitionGroup):
    """Delayed transitions (``after``); the class attribute's name labels their timer."""

    kind = "delayed transitions"


class OnDone(TransitionGroup):
    """Transitions on the ``done.state.<state>`` event of a compound or parallel state."""

    kind = "done transitions"


class DoneOf:
    """``STATE.done``: declare transitions taken when ``STATE`` completes."""

    def __init__(self, state: State) -> None:
        self.state = state

    def to(
        self,
        dest: State | None = None,
        /,
        *,
        source: State | None = None,
        **options: Unpack[RuleOptions],
    ) -> OnDone:
        """A transition on ``done.state.<state>`` from ``source`` (default: the state itself)."""
        return OnDone((Rule(source or self.state, dest, **options, done_of=self.state),))


__all__ = [
    "Delayed",
    "DoneOf",
    "Eventless",
    "History",
    "OnDone",
    "Region",
    "Rule",
    "RuleOptions",
    "SentOptions",
    "State",
    "TransitionGroup",
    "Transitions",
]
