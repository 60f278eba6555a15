"""What one event (or a creation) writes, built as values: no clock, no store, no I/O.

``Orchestrator`` processes an event on an entity's record and gets the engine's result; what
it then writes is a ``Commit`` (the new record, the history row, the outbox items and the
idempotency record), made here by pure functions, with the context it stores
(``stored_context``). The time ("now"), the stored JSON of the result and the lease of the
outbox items are arguments, so a unit test builds a commit with plain values
(``tests/unit/test_commit_builder.py``).

A new entity is built by one function, ``new_entity``, with two versions:

* version 0: the record an event for an unknown entity starts from (the orchestrator's
  ``use_initial_state_when_missing``). It is not stored: the event's own commit (version 1)
  is the first write, and its history row is the event's;
* version 1: ``create_entity``'s record, stored at once with a ``"__create__"`` history row
  (``creation_commit``).

Timers get their ids from the one timer rule (``pystator.runtime.timers``), with the version
as the token: ``key@0`` for the first, ``key@1`` for the second, ``key@<version>`` after
each event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pystator.models.entity import (
    Commit,
    EntityRecord,
    IdempotencyRecord,
    OutboxItem,
    TransitionRecord,
    build_record,
)
from pystator.models.result import TransitionResult
from pystator.models.snapshot import TimerSnapshot
from pystator.runtime.machine import StateMachine
from pystator.runtime.timers import armed, timers_after

CREATE_TRIGGER = "__create__"
"""The trigger of the history row ``create_entity`` writes."""


def context_changes(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """What a step did to a context: the keys it set or changed (with their new values) and
    the keys it removed."""
    changed = {k: v for k, v in after.items() if k not in before or before[k] != v}
    removed = [k for k in before if k not in after]
    return changed, removed


def stored_context(
    machine: StateMachine, result: TransitionResult, ctx: dict[str, Any]
) -> dict[str, Any]:
    """The context to commit after ``result``: ``machine.context_json(result.context)``.

    ``ctx`` (the stored context with the payload merged in) is the event's own dict: when the
    step assigned nothing and the machine has no context model, the result carries ``ctx``
    itself and it is committed as it is (no copy).
    """
    after = result.context
    if after is None or after is ctx:
        return ctx
    return machine.context_json(after)


def build_commit(
    record: EntityRecord,
    result: TransitionResult,
    context: dict[str, Any],
    *,
    now: float,
    result_json: dict[str, Any],
    idempotency_key: str | None,
    fingerprint: str,
    timer_id: str | None,
    incarnation: float | None,
    claimed_until: float,
) -> tuple[Commit, list[OutboxItem]]:
    """The commit of an event whose ``result`` fired on ``record``, and its outbox items.

    Args:
        record: the entity the event was processed on (version 0: a new, unsaved entity).
        result: the engine's result (it fired: nothing is built for a rejection).
        context: the context to store after the step (kept as it is, not copied).
        now: the time of the commit, in the clock's seconds.
        result_json: ``result`` as stored (``ResultJson``), for the history row and the
            idempotency record.
        idempotency_key: the event's key, or ``None``.
        fingerprint: what the key stands for (``fingerprint``); ``""`` without a key.
        timer_id: the id of the timer that sent the event, or ``None``: it is no longer armed.
        incarnation: the ``created_at`` the entity must still have (a cached record), or
            ``None``.
        claimed_until: the lease of the outbox items (``0.0``: nobody runs them now).

    The records are built without validation: every value comes from validated parts (the
    loaded record, the engine's result, the context the orchestrator checked), and validating
    them again was a third of the cost of an event.
    """
    version = record.version + 1
    target = result.target_state or record.state
    timers: list[TimerSnapshot] = []
    if record.timers or result.timers_to_arm:  # most events have no timers at all
        timers = timers_after(record.timers, result, now=now, token=version, fired=timer_id)
    history = (
        {k: list(v) for k, v in result.history.items()}
        if result.history is not None
        else record.history
    )
    machine_name, entity_id = record.machine_name, record.entity_id
    entity = build_record(
        EntityRecord,
        {
            "machine_name": machine_name,
            "entity_id": entity_id,
            "state": target,
            "context": context,
            "version": version,
            "history": history,
            "timers": timers,
            "created_at": record.created_at or now,
            "updated_at": now,
        },
    )
    # A new entity's changes are its whole context (version 0: nothing was stored).
    changed, removed = context_changes(record.context if record.version else {}, context)
    transition = build_record(
        TransitionRecord,
        {
            "machine_name": machine_name,
            "entity_id": entity_id,
            "version": version,
            "source_state": record.state,
            "target_state": target,
            "trigger": result.trigger,
            "context_changes": changed,
            "context_removed": removed,
            "at": now,
            "idempotency_key": idempotency_key,
            "result": result_json,
        },
    )
    outbox = [
        build_record(
            OutboxItem,
            {
                "id": f"{machine_name}/{entity_id}/{version}/{i}",
                "machine_name": machine_name,
                "entity_id": entity_id,
                "version": version,
                "position": i,
                "name": spec.name,
                "params": dict(spec.params),
                "context": dict(context),
                "status": "pending",
                "attempts": 0,
                "last_error": None,
                "claimed_until": claimed_until,
                "created_at": now,
            },
        )
        for i, spec in enumerate(result.action_specs())
    ]
    idem = (
        build_record(
            IdempotencyRecord,
            {
                "machine_name": machine_name,
                "entity_id": entity_id,
                "key": idempotency_key,
                "fingerprint": fingerprint,
                "version": version,
                # A replay returns the context this event committed.
                "result": {**result_json, "context": dict(context)},
            },
        )
        if idempotency_key is not None
        else None
    )
    commit = build_record(
        Commit,
        {
            "entity": entity,
            "expected_version": record.version,
            "transition": transition,
            "outbox": outbox,
            "idempotency": idem,
            "incarnation": incarnation,
        },
    )
    return commit, outbox


def new_entity(
    machine_name: str,
    entity_id: str,
    entry: TransitionResult,
    context: dict[str, Any],
    *,
    version: Literal[0, 1],
    now: float,
    created_at: float,
    fallback_state: str,
) -> EntityRecord:
    """The record of a new entity after the entry into its initial states (``entry``).

    Args:
        machine_name: the machine's name.
        entity_id: the entity's id.
        entry: the result of ``machine.start``.
        context: the context to store (validated into the record: a copy is kept).
        version: ``0`` for the unsaved record an event for an unknown entity starts from,
            ``1`` for ``create_entity``'s (see the module docstring). It is also the token of
            the initial timers' ids.
        now: the time the initial timers are armed at.
        created_at: the entity's ``created_at`` and ``updated_at``.
        fallback_state: the state when ``entry`` has no target (the initial state).
    """
    return EntityRecord(
        machine_name=machine_name,
        entity_id=entity_id,
        state=entry.target_state or fallback_state,
        context=context,
        version=version,
        history={k: list(v) for k, v in (entry.history or {}).items()},
        timers=armed(entry.timers_to_arm, now=now, token=version),
        created_at=created_at,
        updated_at=created_at,
    )


def creation_commit(entity: EntityRecord, entry_json: dict[str, Any], now: float) -> Commit:
    """The commit of ``create_entity``: the new entity (version 1), expected not to exist,
    with a ``"__create__"`` history row whose changes are the whole context.

    ``entry_json`` is the entry's result as stored (without its context).
    """
    transition = TransitionRecord(
        machine_name=entity.machine_name,
        entity_id=entity.entity_id,
        version=entity.version,
        source_state="",
        target_state=entity.state,
        trigger=CREATE_TRIGGER,
        context_changes=entity.context,
        at=now,
        result=entry_json,
    )
    return Commit(entity=entity, expected_version=0, transition=transition)


__all__ = [
    "CREATE_TRIGGER",
    "build_commit",
    "context_changes",
    "creation_commit",
    "new_entity",
    "stored_context",
]
