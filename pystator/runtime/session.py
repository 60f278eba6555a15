"""``EntitySession``: one entity held in memory, driven by ``send``.

A session is small: four slots (machine, state, context, and the runtime extras that only
machines with timers or history need). The ``is_<state>`` properties and ``<trigger>()``
methods live on a class made once per machine (``session_class``), not on each instance.

Timers: when a state with ``after`` transitions or a ``timeout`` is entered, the session arms
its timers with due times from its clock; ``fire_due_timers()`` fires the ones that are due.
A timer's id is ``<key>@<step>``, where ``step`` counts the transitions the entity took, so a
timer armed on an earlier visit of a state never fires for a later visit. That is the one
timer rule of the runtime (``runtime/timers.py``), which the orchestrator follows too, and an
armed timer is the same record there and here: a ``TimerSnapshot`` (``PendingTimer`` is its
name in the session's API).

The session drives its machine through the machine's public API only: the session's entry
points of ``StateMachine`` (``select``, ``select_observed``, ``send_step``, ``asend_step``,
``session_class()``, and the plain attributes ``plain``, ``hooks``, ``index``,
``has_context_model`` and ``keeps_runtime``).
It imports ``runtime/machine.py`` for the type checker only, so there is no import cycle at
run time (``tests/unit/test_session_public_api.py`` checks both).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pystator.engine.outcomes import timer_refused
from pystator.errors import (
    ActionExecutionError,
    ContextValidationError,
    FSMError,
    IncompatibleSnapshotError,
    LoopLimitError,
    UndefinedStateError,
)
from pystator.models.result import ExecutionReport, TimerSpec, TransitionResult
from pystator.models.snapshot import SessionSnapshot, TimerSnapshot
from pystator.runtime.clock import SYSTEM_CLOCK, Clock
from pystator.runtime.timers import armed, still_armed

if TYPE_CHECKING:  # machine.py imports this module: a run-time import would be a cycle
    from pystator.runtime.machine import StateMachine

MAX_TIMER_FIRES = 10_000
"""Timers fired by one ``fire_due_timers`` call, at most (a zero-delay ping-pong stops)."""


PendingTimer = TimerSnapshot
"""An armed timer of a session (``id``, ``key``, ``trigger``, ``due``): the runtime's one
timer record, ``TimerSnapshot``, under the name the session's API has always used."""


class _Runtime:
    """Per-entity data only machines with timers or history need."""

    __slots__ = ("clock", "history", "step", "timers")

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.history: dict[str, tuple[str, ...]] = {}
        self.timers: dict[str, TimerSnapshot] = {}
        self.step = 0

    def apply(self, result: TransitionResult) -> None:
        self.step += 1
        if result.history is not None:
            self.history = dict(result.history)
        if result.timers_to_cancel:
            kept = still_armed(self.timers.values(), result.timers_to_cancel)
            self.timers = {t.id: t for t in kept}
        if result.timers_to_arm:
            self.arm(result.timers_to_arm)

    def arm(self, specs: tuple[TimerSpec, ...]) -> None:
        """Arm ``specs`` now, with this entity's step as the token of their ids."""
        for timer in armed(specs, now=self.clock.now(), token=self.step):
            self.timers[timer.id] = timer


def _raise_failed_actions(result: TransitionResult, report: ExecutionReport) -> None:
    failed = "; ".join(f"{o.name}: {o.error}" for o in report.failed)
    skipped = f" (skipped: {', '.join(report.skipped)})" if report.skipped else ""
    raise ActionExecutionError(
        f"state changed {result.source_state} -> {result.target_state} on "
        f"'{result.trigger}', but actions failed: {failed}{skipped}",
        report=report,
    )


def _read_snapshot(snapshot: Mapping[str, Any] | SessionSnapshot | str) -> SessionSnapshot:
    """A snapshot given as a model, its JSON or a dict, validated (``IncompatibleSnapshotError``
    listing the problems)."""
    try:
        if isinstance(snapshot, SessionSnapshot):
            return snapshot
        if isinstance(snapshot, str | bytes):
            return SessionSnapshot.model_validate_json(snapshot)
        return SessionSnapshot.model_validate(snapshot)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'snapshot'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise IncompatibleSnapshotError(f"invalid snapshot: {problems}") from None


def _check_machine(machine: StateMachine, snap: SessionSnapshot) -> None:
    """Refuse a snapshot of another machine, or of another major version of this one (an
    equal definition hash accepts any version)."""
    if snap.machine_name != machine.name:
        raise IncompatibleSnapshotError(
            f"snapshot belongs to machine '{snap.machine_name}', not '{machine.name}'"
        )
    if snap.definition_hash == machine.definition_hash:
        return
    if snap.machine_version.split(".")[0] != machine.version.split(".")[0]:
        raise IncompatibleSnapshotError(
            f"snapshot was taken with version {snap.machine_version} of "
            f"'{machine.name}', which is incompatible with version {machine.version}"
        )


def _check_contents(machine: StateMachine, snap: SessionSnapshot) -> None:
    """Refuse a snapshot whose state, history entries or timers the machine does not have."""
    index = machine.index
    try:
        machine.configuration_leaves(snap.state)
    except UndefinedStateError as exc:
        raise IncompatibleSnapshotError(
            f"snapshot state '{snap.state}' does not fit version {machine.version} of "
            f"'{machine.name}': {exc.message}"
        ) from None
    for name, targets in snap.history.items():
        node = index.states.get(name)
        if node is None or node.kind != "history" or any(t not in index.states for t in targets):
            raise IncompatibleSnapshotError(
                f"snapshot history entry '{name}' does not fit machine '{machine.name}'"
            )
    for timer in snap.timers:
        if timer.key not in index.timer_table:
            raise IncompatibleSnapshotError(
                f"snapshot timer '{timer.key}' does not fit machine '{machine.name}'"
            )


def _restored_context(machine: StateMachine, snap: SessionSnapshot) -> Any:
    """The snapshot's context as the machine keeps it: an instance of its context model, or
    a deep copy (the restored entity must not write into the caller's snapshot)."""
    if not machine.has_context_model:
        return copy.deepcopy(snap.context)
    try:
        return machine.coerce_context(snap.context)
    except ContextValidationError as exc:
        raise IncompatibleSnapshotError(
            f"snapshot context does not fit machine '{machine.name}': {exc.message}"
        ) from None


class EntitySession:
    """The in-memory state and context of one entity of one machine.

    Create one with ``machine.create(context=...)`` or restore one with
    ``EntitySession.from_snapshot(machine, snapshot)``.
    """

    __slots__ = ("_context", "_machine", "_rt", "_state")

    def __init__(
        self,
        machine: StateMachine,
        state: str,
        context: Any,
        runtime: _Runtime | None = None,
    ) -> None:
        self._machine = machine
        self._state = state
        self._context = context
        self._rt = runtime

    if TYPE_CHECKING:
        # ``is_<state>`` properties and ``<trigger>()`` methods are made per machine.
        def __getattr__(self, name: str) -> Any: ...

    @property
    def machine(self) -> StateMachine:
        return self._machine

    @property
    def current_state(self) -> str:
        """The active configuration: a state name, or ``"P(r1=A, r2=B)"`` in a parallel
        state."""
        return self._state

    @property
    def context(self) -> Any:
        """The entity's context: the live dict (changes to it are kept), or the instance of
        the machine's context model."""
        return self._context

    @property
    def history(self) -> Mapping[str, tuple[str, ...]]:
        """This entity's history memory (never shared with other entities)."""
        return MappingProxyType(self._rt.history if self._rt is not None else {})

    @property
    def is_final(self) -> bool:
        """True when the entity is in a top-level terminal state."""
        node = self._machine.index.states.get(self._state)
        return node is not None and node.is_final

    @property
    def allowed_triggers(self) -> list[str]:
        """The triggers that would fire now, guards evaluated on the context (no payload):
        ``machine.allowed_triggers(current_state, context, history=history)``. Changes
        nothing, runs no action, tells no hook; async guards: ``aallowed_triggers()``."""
        return self._machine.allowed_triggers(self._state, self._context, history=self._memory)

    async def aallowed_triggers(self) -> list[str]:
        """``allowed_triggers``, awaiting guards that are async."""
        machine = self._machine
        return await machine.aallowed_triggers(self._state, self._context, history=self._memory)

    def can(self, trigger: str, /, **payload: Any) -> bool:
        """True exactly when ``send(trigger, **payload)`` would take a transition now.

        False when it would fail (a guard says no or raises, no transition from here, an
        undefined trigger, a terminal state, a payload or context that does not validate)
        or be a lenient no-op. Changes nothing, runs no action, tells no hook. Raises
        ``GuardNotFoundError`` (strict mode) as ``send`` does, and ``GuardEvaluationError``
        for an async guard (use ``acan``).
        """
        machine = self._machine
        return machine.can(
            self._state, trigger, self._context, payload=payload, history=self._memory
        )

    async def acan(self, trigger: str, /, **payload: Any) -> bool:
        """``can``, awaiting guards that are async (what ``asend`` would do)."""
        machine = self._machine
        return await machine.acan(
            self._state, trigger, self._context, payload=payload, history=self._memory
        )

    @property
    def _memory(self) -> dict[str, tuple[str, ...]] | None:
        """The history memory a step of this session reads (``None``: the machine keeps none)."""
        return self._rt.history if self._rt is not None else None

    def is_in(self, state: str) -> bool:
        """True when ``state`` is active: the current state or one of its ancestors."""
        return self._machine.is_active(self._state, state)

    # ------------------------------------------------------------------ events
    def send(
        self, trigger: str, /, *, execute_actions: bool = True, **payload: Any
    ) -> TransitionResult:
        """Process ``trigger``; on success move, merge ``payload`` into the context and run
        the machine's actions.

        Guards see the context merged with ``payload`` (validated first when the trigger
        declares its payload; with a context model, payload keys that are not fields of it
        are visible during the step only). The session's context becomes ``result.context``
        (the assigns applied). A failed result changes nothing. If an action fails, the state
        change stands and ``ActionExecutionError`` is raised with the report.
        """
        machine = self._machine
        rt = self._rt
        if machine.plain:
            ctx = {**self._context, **payload} if payload else self._context
            if rt is None:
                result = (
                    machine.select_observed(self._state, trigger, ctx, ctx, ctx)
                    if machine.hooks
                    else machine.select(self._state, trigger, ctx, ctx, ctx)
                )
            else:
                result = machine.process(self._state, trigger, ctx, history=rt.history)
        else:
            history = rt.history if rt is not None else None
            result = machine.send_step(self._state, trigger, self._context, payload, history)
        if result.success:
            self._commit(result)
            if execute_actions and (
                result.on_exit_actions or result.actions_to_execute or result.on_enter_actions
            ):
                report = machine.executor.execute(result, result.context)
                if not report.success:
                    _raise_failed_actions(result, report)
        return result

    async def asend(
        self, trigger: str, /, *, execute_actions: bool = True, **payload: Any
    ) -> TransitionResult:
        """``send`` for async guards and actions."""
        machine = self._machine
        history = self._rt.history if self._rt is not None else None
        result = await machine.asend_step(self._state, trigger, self._context, payload, history)
        if result.success:
            self._commit(result)
            if execute_actions and (
                result.on_exit_actions or result.actions_to_execute or result.on_enter_actions
            ):
                report = await machine.executor.aexecute(result, result.context)
                if not report.success:
                    _raise_failed_actions(result, report)
        return result

    def _commit(self, result: TransitionResult) -> None:
        if "reason" in result.metadata:
            return  # a lenient no-op: nothing fired, so the payload is not merged either
        self._state = result.target_state  # type: ignore[assignment]
        self._context = result.context
        if self._rt is not None:
            self._rt.apply(result)

    # ------------------------------------------------------------------ timers
    @property
    def pending_timers(self) -> list[TimerSnapshot]:
        """Armed timers, soonest first."""
        if self._rt is None:
            return []
        return sorted(self._rt.timers.values(), key=lambda t: (t.due, t.id))

    def fire_timer(self, timer_id: str, *, execute_actions: bool = True) -> TransitionResult:
        """Fire one armed timer if it is due; a failed result says why not otherwise
        (``stale_timer``: not armed for this visit; ``timer_not_due``: too early)."""
        rt = self._rt
        timer = rt.timers.get(timer_id) if rt is not None else None
        if rt is None or timer is None:
            return timer_refused(
                self._state, timer_id, "it is not armed (its state was left, or it already fired)"
            )
        if rt.clock.now() < timer.due:
            return timer_refused(
                self._state, timer_id, f"it is due at {timer.due}, not yet", "timer_not_due"
            )
        del rt.timers[timer_id]
        result = self._machine.fire_timer(self._state, timer.key, self._context, history=rt.history)
        if result.success:
            self._commit(result)
            if execute_actions and result.action_specs():
                report = self._machine.executor.execute(result, result.context)
                if not report.success:
                    _raise_failed_actions(result, report)
        return result

    def fire_due_timers(self, *, execute_actions: bool = True) -> list[TransitionResult]:
        """Fire every timer that is due by the session's clock, soonest first."""
        results: list[TransitionResult] = []
        rt = self._rt
        if rt is None:
            return results
        for _ in range(MAX_TIMER_FIRES):
            now = rt.clock.now()
            due = [t for t in rt.timers.values() if t.due <= now]
            if not due:
                return results
            first = min(due, key=lambda t: (t.due, t.id))
            results.append(self.fire_timer(first.id, execute_actions=execute_actions))
        raise LoopLimitError(
            f"more than {MAX_TIMER_FIRES} timers fired at once: zero-delay timers loop"
        )

    # ------------------------------------------------------------------ snapshots
    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready dict of this entity; ``from_snapshot`` restores it."""
        machine = self._machine
        rt = self._rt
        try:
            snap = SessionSnapshot(
                machine_name=machine.name,
                machine_version=machine.version,
                definition_hash=machine.definition_hash,
                state=self._state,
                context=machine.context_json(self._context),
                history={k: list(v) for k, v in rt.history.items()} if rt is not None else {},
                timers=self.pending_timers,
                step=rt.step if rt is not None else 0,
            )
            data = snap.model_dump(mode="json")
            import json  # not imported with pystator: only snapshots need it

            json.dumps(data)
        except (TypeError, ValueError) as exc:
            raise FSMError(f"the context cannot be snapshotted as JSON: {exc}") from None
        return data

    @staticmethod
    def from_snapshot(
        machine: StateMachine,
        snapshot: Mapping[str, Any] | SessionSnapshot | str,
        *,
        clock: Clock | None = None,
    ) -> EntitySession:
        """Restore a session from ``snapshot()`` output (a dict, a model or its JSON).

        Refuses a snapshot of another machine, of another major version, or whose state,
        history or timers this definition does not have, with ``IncompatibleSnapshotError``.
        """
        snap = _read_snapshot(snapshot)
        _check_machine(machine, snap)
        _check_contents(machine, snap)
        runtime: _Runtime | None = None
        if machine.keeps_runtime or snap.history or snap.timers:
            runtime = _Runtime(clock or SYSTEM_CLOCK)
            runtime.history = {k: tuple(v) for k, v in snap.history.items()}
            runtime.timers = {t.id: t for t in snap.timers}
            runtime.step = snap.step
        state = snap.state
        node = machine.index.states.get(state)
        if node is not None and node.kind != "atomic" and not node.in_parallel:
            state = machine.resolve_state(state)
        context = _restored_context(machine, snap)
        return machine.session_class()(machine, state, context, runtime)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._machine.name} state={self._state}>"


def _state_property(name: str) -> property:
    def getter(self: EntitySession) -> bool:
        return self._machine.is_active(self._state, name)

    getter.__name__ = f"is_{name.lower()}"
    getter.__doc__ = f"True when state '{name}' is active."
    return property(getter)


def _trigger_method(trigger: str) -> Callable[..., TransitionResult]:
    def method(self: EntitySession, /, **payload: Any) -> TransitionResult:
        return self.send(trigger, **payload)

    method.__name__ = trigger
    method.__doc__ = f"Send '{trigger}' (same as send('{trigger}', **payload))."
    return method


def session_class(machine: StateMachine) -> type[EntitySession]:
    """The ``EntitySession`` subclass of ``machine``, with its ``is_<state>`` properties and
    trigger methods. Names that would shadow a session attribute, or that two states share
    once lowercased, are left out (``is_in(state)`` and ``send(trigger)`` always work)."""
    reserved = set(dir(EntitySession))
    attrs: dict[str, Any] = {"__slots__": ()}
    lowered: dict[str, list[str]] = {}
    for name, node in machine.index.states.items():
        if node.kind not in {"region", "history"}:
            lowered.setdefault(f"is_{name.lower()}", []).append(name)
    for attr, names in lowered.items():
        if len(names) == 1 and attr not in reserved:
            attrs[attr] = _state_property(names[0])
    # A trigger that only labels delayed transitions gets no method: sending it fires
    # nothing (only a due timer does).
    sendable = dict.fromkeys(
        t.trigger for t in machine.definition.transitions if t.trigger and t.after is None
    )
    for trigger in sendable:
        if trigger.isidentifier() and trigger not in reserved and trigger not in attrs:
            attrs[trigger] = _trigger_method(trigger)
    return type(f"{machine.name}Session", (EntitySession,), attrs)


def new_session(
    machine: StateMachine,
    context: Any,
    initial_state: str | None,
    clock: Clock | None,
) -> EntitySession:
    """Create a session: enter the initial configuration and arm its timers.

    With a context model the context is validated into an instance of it (raises
    ``ContextValidationError``); entry ``assign`` items apply to it.
    """
    cls = machine.session_class()
    if machine.has_context_model:
        ctx: Any = machine.coerce_context(context)
    else:
        ctx = dict(context) if context else {}
    index = machine.index
    if not machine.keeps_runtime and index.simple and not index.has_assign:
        if initial_state is None:
            return cls(machine, index.initial_state, ctx)
        return cls(machine, machine.resolve_state(initial_state), ctx)
    entry = machine.start(ctx, initial_state=initial_state)
    entry.raise_for_error()  # an entry assign that failed: ContextValidationError
    ctx = entry.context
    runtime = _Runtime(clock or SYSTEM_CLOCK) if machine.keeps_runtime else None
    if runtime is not None:
        runtime.history = dict(entry.history or {})
        runtime.arm(entry.timers_to_arm)
    return cls(machine, entry.target_state or index.initial_state, ctx, runtime)
