"""New entities: ``create_entity`` (stored at once, version 1) and the unsaved record an event
for an unknown entity starts from (version 0).

Both enter the machine's initial configuration (``Start``) with the given context and build
the record with ``commit.new_entity`` (see its module for the two versions). ``create``
checks the context first (into the context model, if any; then the contract of the state it
lands in, and ``max_context_bytes``) and raises ``ContextValidationError`` or
``ContextTooLargeError`` with nothing stored; it stores the entity with a ``"__create__"``
history row, runs no action and hands the initial timers to the scheduler. ``initial_record``
makes the version-0 record for ``use_initial_state_when_missing`` (or raises
``EntityNotFoundError``); the event's own commit is then the entity's first write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from pystator.engine.outcomes import context_invalid
from pystator.errors import ContextValidationError, EntityNotFoundError
from pystator.models.entity import EntityRecord
from pystator.models.result import TransitionResult
from pystator.runtime.context_limit import check_limit, too_large_error
from pystator.runtime.machine import StateMachine
from pystator.runtime.orchestration.checks import check_arguments, refuse
from pystator.runtime.orchestration.commit import (
    CREATE_TRIGGER,
    creation_commit,
    new_entity,
    stored_context,
)
from pystator.runtime.orchestration.effects import Save, Step, start
from pystator.runtime.orchestration.parts import OrchestratorParts
from pystator.runtime.orchestration.record_policy import RecordPolicy
from pystator.runtime.orchestration.result_json import NOT_DUMPED
from pystator.runtime.orchestration.timer_handoff import hand_timers


def create(
    parts: OrchestratorParts,
    records: RecordPolicy,
    entity_id: str,
    context: Mapping[str, Any] | BaseModel | None,
    initial_state: str | None,
) -> Step[EntityRecord]:
    """``create_entity``: store a new entity in the initial configuration (or
    ``initial_state``); returns its record."""
    check_arguments(entity_id, None)  # the context is checked into the model, if any
    machine = parts.machine
    given, value = creation_context(machine, context, initial_state)
    entry = yield from start(value, initial_state)
    ctx = context_after_entry(machine, entry, given, value)
    limit = parts.max_context_bytes
    if limit is not None:
        size = check_limit(limit, ctx, None)
        if size is not None:
            raise too_large_error(entity_id, size, limit)
    now = parts.clock.now()
    entity = new_entity(
        parts.machine_name,
        entity_id,
        entry,
        ctx,
        version=1,
        now=now,
        created_at=records.created_at(parts.machine_name, entity_id, now),
        fallback_state=machine.get_initial_state(),
    )
    entry_json = entry.model_dump(mode="json", exclude=NOT_DUMPED)
    yield Save(creation_commit(entity, entry_json, now))
    records.created(entity)
    if entity.timers:
        yield from hand_timers(parts.machine_name, entity_id, list(entity.timers), [])
    return entity


def creation_context(
    machine: StateMachine, context: Mapping[str, Any] | BaseModel | None, initial_state: str | None
) -> tuple[dict[str, Any] | BaseModel, dict[str, Any] | BaseModel]:
    """The context ``create_entity`` was given (a new dict, or the model instance) and the
    value the entry starts from: validated into the machine's context model (coerced: "5" ->
    5) when it has one; a bad one is refused as a context that breaks the contract is."""
    typed = machine.context_model is not None
    if isinstance(context, BaseModel) and not typed:
        raise TypeError(f"context must be a mapping: machine '{machine.name}' has no context model")
    given: dict[str, Any] | BaseModel = (
        context if isinstance(context, BaseModel) else dict(context or {})
    )
    if not typed:
        return given, given
    try:
        value: dict[str, Any] | BaseModel = machine.coerce_context(given)
    except ContextValidationError as exc:
        where = initial_state or machine.get_initial_state()
        refuse(context_invalid(where, CREATE_TRIGGER, list(exc.errors)))
    return given, value


def context_after_entry(
    machine: StateMachine,
    entry: TransitionResult,
    given: dict[str, Any] | BaseModel,
    value: dict[str, Any] | BaseModel,
) -> dict[str, Any]:
    """The context to store for a new entity after its entry (``entry``): the JSON of what the
    entry's ``assign`` items made of ``value`` (``given`` itself when it is a dict nothing
    changed); raises ``ContextValidationError`` when it breaks the contract."""
    if entry.metadata.get("reason") == "context_validation":
        refuse(entry)  # an ``assign`` of an initial state made an invalid context
    after = value if entry.context is None else entry.context
    ctx: dict[str, Any] = (
        given if after is given and type(given) is dict else machine.context_json(after)
    )
    if entry.target_state:  # ``check_context`` is ``None`` without a contract
        invalid = machine.check_context(entry.target_state, CREATE_TRIGGER, ctx)
        if invalid is not None:
            refuse(invalid)
    return ctx


def initial_record(
    parts: OrchestratorParts, records: RecordPolicy, entity_id: str, ctx: dict[str, Any]
) -> Step[EntityRecord]:
    """The unsaved record (version 0) an event for the unknown entity ``entity_id`` starts
    from, entered with the event's payload ``ctx``; raises ``EntityNotFoundError`` when the
    orchestrator does not create missing entities."""
    if not parts.use_initial_state_when_missing:
        raise EntityNotFoundError(
            f"entity '{entity_id}' of machine '{parts.machine_name}' does not exist"
        )
    entry = yield from start(ctx, None)
    # What the initial states' ``assign`` items made of the payload, for the event to
    # start from (a context model's JSON, even when nothing was assigned). The record is
    # not stored: its version 0 stands for "nothing yet" (see ``build_commit``).
    base = stored_context(parts.machine, entry, ctx) if entry.success else ctx
    now = parts.clock.now()
    return new_entity(
        parts.machine_name,
        entity_id,
        entry,
        {} if base is ctx else base,
        version=0,
        now=now,
        created_at=records.created_at(parts.machine_name, entity_id, now),
        fallback_state=parts.machine.get_initial_state(),
    )


__all__ = ["context_after_entry", "create", "creation_context", "initial_record"]
