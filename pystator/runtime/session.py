"""``EntitySession``: one entity held in memory, driven by ``send``.

A session is small: three slots (machine, state, context). The ``is_<state>`` properties and
``<trigger>()`` methods live on a class made once per machine (``session_class``), not on
each instance.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pystator.errors import ActionExecutionError, FSMError, IncompatibleSnapshotError
from pystator.models.result import ExecutionReport, TransitionResult
from pystator.models.snapshot import SessionSnapshot

if TYPE_CHECKING:
    from pystator.runtime.machine import StateMachine


def _raise_failed_actions(result: TransitionResult, report: ExecutionReport) -> None:
    failed = "; ".join(f"{o.name}: {o.error}" for o in report.failed)
    skipped = f" (skipped: {', '.join(report.skipped)})" if report.skipped else ""
    raise ActionExecutionError(
        f"state changed {result.source_state} -> {result.target_state} on "
        f"'{result.trigger}', but actions failed: {failed}{skipped}",
        report=report,
    )


class EntitySession:
    """The in-memory state and context of one entity of one machine.

    Create one with ``machine.create(context=...)`` or restore one with
    ``EntitySession.from_snapshot(machine, snapshot)``.
    """

    __slots__ = ("_context", "_machine", "_state")

    def __init__(self, machine: StateMachine, state: str, context: dict[str, Any]) -> None:
        self._machine = machine
        self._state = state
        self._context = context

    if TYPE_CHECKING:
        # ``is_<state>`` properties and ``<trigger>()`` methods are made per machine.
        def __getattr__(self, name: str) -> Any: ...

    @property
    def machine(self) -> StateMachine:
        return self._machine

    @property
    def current_state(self) -> str:
        """The active (leaf) state."""
        return self._state

    @property
    def context(self) -> dict[str, Any]:
        """The entity's context (the live dict: changes to it are kept)."""
        return self._context

    @property
    def is_final(self) -> bool:
        """True when the entity is in a top-level terminal state."""
        return self._machine._index.states[self._state].is_final

    @property
    def allowed_triggers(self) -> list[str]:
        """Triggers with a transition from the current state (guards not evaluated)."""
        return list(self._machine._index.allowed.get(self._state, ()))

    def is_in(self, state: str) -> bool:
        """True when ``state`` is active: the current state or one of its ancestors."""
        return state == self._state or state in self._machine._index.states[self._state].ancestors

    def send(
        self, trigger: str, /, *, execute_actions: bool = True, **payload: Any
    ) -> TransitionResult:
        """Process ``trigger``; on success move, merge ``payload`` into the context and run
        the machine's actions.

        Guards see the context merged with ``payload``. A failed result changes nothing. If an
        action fails, the state change stands and ``ActionExecutionError`` is raised with the
        report.
        """
        ctx = {**self._context, **payload} if payload else self._context
        machine = self._machine
        result = (
            machine._observed(self._state, trigger, ctx)
            if machine._observer
            else machine._select(self._state, trigger, ctx)
        )
        if result.success:
            self._state = result.target_state  # type: ignore[assignment]
            self._context = ctx
            if execute_actions and (
                result.on_exit_actions or result.actions_to_execute or result.on_enter_actions
            ):
                report = machine.executor.execute(result, ctx)
                if not report.success:
                    _raise_failed_actions(result, report)
        return result

    async def asend(
        self, trigger: str, /, *, execute_actions: bool = True, **payload: Any
    ) -> TransitionResult:
        """``send`` for async guards and actions."""
        ctx = {**self._context, **payload} if payload else self._context
        machine = self._machine
        result = await machine.aprocess(self._state, trigger, ctx)
        if result.success:
            self._state = result.target_state  # type: ignore[assignment]
            self._context = ctx
            if execute_actions and (
                result.on_exit_actions or result.actions_to_execute or result.on_enter_actions
            ):
                report = await machine.executor.async_execute(result, ctx)
                if not report.success:
                    _raise_failed_actions(result, report)
        return result

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready dict of this entity; ``from_snapshot`` restores it."""
        machine = self._machine
        try:
            snap = SessionSnapshot(
                machine_name=machine.name,
                machine_version=machine.version,
                definition_hash=machine.definition_hash,
                state=self._state,
                context=self._context,
            )
            data = snap.model_dump(mode="json")
            json.dumps(data)
        except (TypeError, ValueError) as exc:
            raise FSMError(f"the context cannot be snapshotted as JSON: {exc}") from None
        return data

    @staticmethod
    def from_snapshot(
        machine: StateMachine, snapshot: Mapping[str, Any] | SessionSnapshot | str
    ) -> EntitySession:
        """Restore a session from ``snapshot()`` output (a dict, a model or its JSON).

        Refuses a snapshot of another machine, of another major version, or whose state this
        definition does not have, with ``IncompatibleSnapshotError``.
        """
        try:
            if isinstance(snapshot, SessionSnapshot):
                snap = snapshot
            elif isinstance(snapshot, str | bytes):
                snap = SessionSnapshot.model_validate_json(snapshot)
            else:
                snap = SessionSnapshot.model_validate(snapshot)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'snapshot'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            raise IncompatibleSnapshotError(f"invalid snapshot: {problems}") from None
        if snap.machine_name != machine.name:
            raise IncompatibleSnapshotError(
                f"snapshot belongs to machine '{snap.machine_name}', not '{machine.name}'"
            )
        if snap.definition_hash != machine.definition_hash:
            major_then = snap.machine_version.split(".")[0]
            major_now = machine.version.split(".")[0]
            if major_then != major_now:
                raise IncompatibleSnapshotError(
                    f"snapshot was taken with version {snap.machine_version} of "
                    f"'{machine.name}', which is incompatible with version {machine.version}"
                )
        if snap.state not in machine._index.states:
            raise IncompatibleSnapshotError(
                f"snapshot state '{snap.state}' is not defined in version {machine.version} "
                f"of '{machine.name}'"
            )
        session = machine.create(snap.context)
        session._state = machine.resolve_state(snap.state)
        return session

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._machine.name} state={self._state}>"


def _state_property(name: str) -> property:
    def getter(self: EntitySession) -> bool:
        return self._state == name or name in self._machine._index.states[self._state].ancestors

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
    for name in machine.states:
        lowered.setdefault(f"is_{name.lower()}", []).append(name)
    for attr, names in lowered.items():
        if len(names) == 1 and attr not in reserved:
            attrs[attr] = _state_property(names[0])
    for trigger in machine.triggers:
        if trigger not in reserved and trigger not in attrs:
            attrs[trigger] = _trigger_method(trigger)
    return type(f"{machine.name}Session", (EntitySession,), attrs)
