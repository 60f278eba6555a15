"""The effects of the orchestrator's procedures: what a step needs done, as typed values.

A procedure of the orchestrator (one event, a creation, an outbox run, ``recover``) is a
generator that does no I/O itself. For each thing it needs from the outside (a load, a commit,
the machine's step, an action run, a pause, the scheduler) it yields an effect, a small value
of one of the classes below, and a runner (``runners.run``, ``runners.arun``) performs it and
sends back what it got, or throws in what it raised. The procedure is written once; the sync
runner calls the sync methods, the async runner awaits their twins (the engine's guard
requests work the same way).

An effect whose answer the procedure uses is asked through its helper,
``record = yield from load(machine_name, entity_id)``. A helper's type, ``Ask[Load,
EntityRecord | None]``, pairs the effect with its answer: it yields a ``Load``, is sent what
the store's ``load`` returned and returns that. mypy checks what every step sends (the
effect's fields) and what it receives (the helper's answer type); ``runners`` is the one
place that keeps the pairing (one ``match`` case per effect, calling the method named
below). Nothing is checked at run time: a helper is a one-line generator, and costs what a
generator costs (about 0.1 us). An effect answered with ``None`` (``Save``, ``Sleep``,
``ArmTimers``, ``FinishAction``) has nothing to narrow, so it is yielded as it is:
``yield Save(commit)``; what it raises is thrown in at the ``yield``.

What the runners call for each effect (sync / async), and what the step receives:

* ``Load``: ``store.load`` / ``aload``, ``EntityRecord | None``;
* ``ReadKey``: ``store.get_idempotency`` / ``aget_idempotency``, ``IdempotencyRecord | None``;
* ``Save``: ``store.commit`` / ``acommit``, ``None`` (a refusal throws ``StaleVersionError``
  in);
* ``Process``: ``machine.process`` / ``aprocess``, ``TransitionResult``;
* ``Fire``: ``machine.fire_timer`` / ``afire_timer``, ``TransitionResult``;
* ``Start``: ``machine.start`` / ``astart``, ``TransitionResult``;
* ``RunAction``: ``machine.executor.run_one`` / ``arun_one``, ``ActionOutcome``;
* ``Sleep``: ``time.sleep`` / ``asyncio.sleep``, ``None``;
* ``ArmTimers``: ``scheduler.schedule`` / ``aschedule`` (nothing without a scheduler),
  ``None``;
* ``PendingActions``: ``store.pending_actions`` / ``apending_actions``, ``list[OutboxItem]``;
* ``ClaimAction``: ``store.claim_action`` / ``aclaim_action``, ``bool``;
* ``FinishAction``: ``store.finish_action`` / ``afinish_action``, ``None``.

``Save`` is the store's commit (the name ``Commit`` is the value it writes,
``pystator.models.entity.Commit``).

The classes are slotted dataclasses, not frozen ones: an effect lives for one dispatch and
nobody changes it, and a frozen dataclass's ``__init__`` (``object.__setattr__`` per field)
costs half as much again. Instructions (callgrind) for a procedure of three effects (a load,
a step, a commit) created, dispatched with ``match`` and answered: slotted dataclass 18.0k
(21.0k when each of the three goes through a helper), a plain class with ``__slots__`` 17.9k,
``NamedTuple`` 22.4k, frozen slotted dataclass 26.8k; the string-named tuples and
``attrgetter`` table they replace, 15.6k. On a whole event of the memory store (about 200k
instructions) the effects and helpers cost 1 to 2 %.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

from pydantic import BaseModel

from pystator.engine import History
from pystator.models.definition import ActionSpec
from pystator.models.entity import Commit, EntityRecord, IdempotencyRecord, OutboxItem
from pystator.models.result import ActionOutcome, TransitionResult
from pystator.models.snapshot import TimerSnapshot

T = TypeVar("T")


@dataclass(slots=True)
class Load:
    """Read an entity's record."""

    machine_name: str
    entity_id: str


@dataclass(slots=True)
class ReadKey:
    """Read the record of an applied idempotency key."""

    machine_name: str
    entity_id: str
    key: str


@dataclass(slots=True)
class Save:
    """Write one commit (version-checked: a refused one throws ``StaleVersionError`` in)."""

    commit: Commit


@dataclass(slots=True)
class Process:
    """Compute the machine's step for an event on a state and a context."""

    state: str
    trigger: str
    context: dict[str, Any]
    history: History | None


@dataclass(slots=True)
class Fire:
    """Compute the machine's step for a due timer (by its key) on a state and a context."""

    state: str
    timer_key: str
    context: dict[str, Any]
    history: History | None


@dataclass(slots=True)
class Start:
    """Enter the initial configuration (or ``initial_state``) with a context."""

    context: dict[str, Any] | BaseModel
    initial_state: str | None


@dataclass(slots=True)
class RunAction:
    """Run one action with its own copy of the context; never raises for the action."""

    spec: ActionSpec
    context: dict[str, Any] | BaseModel
    action_id: str


@dataclass(slots=True)
class Sleep:
    """Wait (a retry's backoff)."""

    seconds: float


@dataclass(slots=True)
class ArmTimers:
    """Hand timers to the scheduler: arm ``arm`` and cancel the ids in ``cancel`` (nothing
    happens without a scheduler)."""

    machine_name: str
    entity_id: str
    arm: list[TimerSnapshot]
    cancel: list[str]


@dataclass(slots=True)
class PendingActions:
    """List outbox items whose lease has run out."""

    now: float
    machine_name: str
    limit: int


@dataclass(slots=True)
class ClaimAction:
    """Claim an outbox item until ``until`` (atomic: one caller wins)."""

    item_id: str
    now: float
    until: float


@dataclass(slots=True)
class FinishAction:
    """Record an outbox item's outcome."""

    item_id: str
    success: bool
    attempts: int
    error: str | None


Effect: TypeAlias = (
    Load
    | ReadKey
    | Save
    | Process
    | Fire
    | Start
    | RunAction
    | Sleep
    | ArmTimers
    | PendingActions
    | ClaimAction
    | FinishAction
)
"""Every effect a procedure may yield."""

Step: TypeAlias = Generator[Effect, object, T]
"""A procedure, or one step of one, that returns a ``T``: it yields effects and is sent what
the runner got for each."""

E = TypeVar("E", bound=Effect)
Ask: TypeAlias = Generator[E, T, T]
"""An effect's helper: it yields the effect ``E``, is sent the runner's answer ``T`` and
returns it (``Ask[Load, EntityRecord | None]``)."""


# The helpers of the effects whose answer is used: each yields its effect and says what the
# runner sends back for it.
def load(machine_name: str, entity_id: str) -> Ask[Load, EntityRecord | None]:
    """The entity's stored record, ``None`` when it is not stored."""
    return (yield Load(machine_name, entity_id))


def read_key(machine_name: str, entity_id: str, key: str) -> Ask[ReadKey, IdempotencyRecord | None]:
    """The record of idempotency key ``key`` of the entity, ``None`` when it was not used."""
    return (yield ReadKey(machine_name, entity_id, key))


def process(
    state: str, trigger: str, context: dict[str, Any], history: History | None
) -> Ask[Process, TransitionResult]:
    """The machine's result for ``trigger`` on ``state`` and ``context``."""
    return (yield Process(state, trigger, context, history))


def fire(
    state: str, timer_key: str, context: dict[str, Any], history: History | None
) -> Ask[Fire, TransitionResult]:
    """The machine's result for the timer ``timer_key`` on ``state`` and ``context``."""
    return (yield Fire(state, timer_key, context, history))


def start(
    context: dict[str, Any] | BaseModel, initial_state: str | None
) -> Ask[Start, TransitionResult]:
    """The machine's entry into its initial configuration (or ``initial_state``)."""
    return (yield Start(context, initial_state))


def run_action(
    spec: ActionSpec, context: dict[str, Any] | BaseModel, action_id: str
) -> Ask[RunAction, ActionOutcome]:
    """How one run of the action ``spec`` went."""
    return (yield RunAction(spec, context, action_id))


def pending_actions(
    now: float, machine_name: str, limit: int
) -> Ask[PendingActions, list[OutboxItem]]:
    """Outbox items of ``machine_name`` whose lease ran out by ``now``, at most ``limit``."""
    return (yield PendingActions(now, machine_name, limit))


def claim_action(item_id: str, now: float, until: float) -> Ask[ClaimAction, bool]:
    """Whether this caller claimed the outbox item (until ``until``)."""
    return (yield ClaimAction(item_id, now, until))


__all__ = [
    "ArmTimers",
    "Ask",
    "ClaimAction",
    "Effect",
    "FinishAction",
    "Fire",
    "Load",
    "PendingActions",
    "Process",
    "ReadKey",
    "RunAction",
    "Save",
    "Sleep",
    "Start",
    "Step",
    "claim_action",
    "fire",
    "load",
    "pending_actions",
    "process",
    "read_key",
    "run_action",
    "start",
]
