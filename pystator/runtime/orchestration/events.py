"""The event procedure: one event for one entity, from the load to the actions, written once.

``event_procedure`` is what ``process_event``, ``fire_timer`` and their async twins run (with
the hooks around it when there are any, ``observed``). One attempt:

1. **the record**: the one the record policy offers (a cached record), or a load;
2. **begin**: an idempotency key already applied is replayed (the key is read *after* the
   entity: a key committed at or before the version read is then always seen); a timer of an
   entity that does not exist is refused; an unknown entity starts from its initial record
   (``creation.initial_record``);
3. **decide**: the ``context_validator``, then the machine's step (``Process``, or ``Fire`` for
   a due timer), then ``max_context_bytes``; a rejection or a lenient no-op writes nothing;
4. **commit**: the hooks' ``on_transition_start``, then one version-checked ``Save`` of the
   commit built by ``commit.build_commit``;
5. **after the commit**: the policy keeps what it keeps, the timers go to the scheduler
   (``timer_handoff``) and the actions run (``outbox``).

A refused commit is a version conflict: the event runs again on a fresh read after a random
backoff, up to ``max_retries`` times, then ``StaleVersionError``. The record policy
(``record_policy``) is consulted where the record cache changes the story: a cached record is
the first attempt's, its refused commit means the cache was behind (run again at once, not a
conflict), and its rejection (or exception) stands only if a load finds the entity unchanged.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import Any

from pystator.engine.outcomes import timer_refused
from pystator.errors import StaleVersionError
from pystator.models.entity import Commit, EntityRecord, OutboxItem
from pystator.models.result import TransitionResult
from pystator.models.snapshot import TimerSnapshot
from pystator.runtime.context_limit import check_limit, too_large
from pystator.runtime.orchestration.checks import check_arguments, validate_context
from pystator.runtime.orchestration.commit import build_commit, stored_context
from pystator.runtime.orchestration.creation import initial_record
from pystator.runtime.orchestration.effects import Save, Sleep, Step, fire, load, process
from pystator.runtime.orchestration.idempotency import fingerprint, replayed
from pystator.runtime.orchestration.outbox import run_items
from pystator.runtime.orchestration.parts import OrchestratorParts
from pystator.runtime.orchestration.record_policy import EventRecords, RecordPolicy
from pystator.runtime.orchestration.timer_handoff import hand_timers, timer_changes

Outcome = tuple[TransitionResult, EntityRecord | None]
"""What an event returns: its result and the entity as it left it (see ``EventOutcome``)."""


def event_procedure(
    parts: OrchestratorParts,
    records: RecordPolicy,
    entity_id: str,
    trigger: str,
    context: Mapping[str, Any] | None,
    idempotency_key: str | None,
    timer_id: str | None,
) -> Step[Outcome]:
    """The procedure of one event (of the timer ``timer_id``, when it is not ``None``), with
    the hooks around it if there are any."""
    if parts.observer:
        return observed(parts, records, entity_id, trigger, context, idempotency_key, timer_id)
    return event(parts, records, entity_id, trigger, context, idempotency_key, timer_id)


def observed(
    parts: OrchestratorParts,
    records: RecordPolicy,
    entity_id: str,
    trigger: str,
    context: Mapping[str, Any] | None,
    idempotency_key: str | None,
    timer_id: str | None,
) -> Step[Outcome]:
    """``event`` with the hooks' ``on_before_process``, ``on_transition_complete`` and
    ``on_transition_error`` around it."""
    observer = parts.observer
    observer.before_process(entity_id, trigger, context or {})
    started = time.perf_counter()
    try:
        done = yield from event(
            parts, records, entity_id, trigger, context, idempotency_key, timer_id
        )
    except Exception as exc:
        observer.transition_error(entity_id, trigger, exc, (time.perf_counter() - started) * 1e3)
        raise
    observer.transition_complete(done[0], (time.perf_counter() - started) * 1e3)
    return done


def event(
    parts: OrchestratorParts,
    records: RecordPolicy,
    entity_id: str,
    trigger: str,
    context: Mapping[str, Any] | None,
    idempotency_key: str | None,
    timer_id: str | None,
) -> Step[Outcome]:
    """One event, retried on version conflicts (see the module docstring)."""
    check_arguments(entity_id, context)
    machine_name = parts.machine.name
    fp = fingerprint(trigger, context) if idempotency_key is not None else ""
    turn = records.for_event(entity_id)
    conflicts = 0
    last_error: StaleVersionError | None = None
    try:
        record = turn.record
        reload = record is None
        while True:
            if reload:
                record = yield from load(machine_name, entity_id)
            reload = True
            if idempotency_key is not None or record is None:
                begun = yield from begin(
                    parts, records, record, entity_id, context, idempotency_key, fp, timer_id
                )
                if isinstance(begun, TransitionResult):
                    return begun, record  # replayed, or a timer of an entity that does not exist
                record = begun
            result, after = yield from decide(
                parts, turn, record, entity_id, trigger, context, timer_id
            )
            if after is None:
                # Rejected, a lenient no-op, or raised on a cached record: nothing to write.
                if not turn.cached:
                    return unwritten(result, record)
                fresh = yield from load(machine_name, entity_id)
                if turn.confirmed(record, fresh):
                    return confirmed(turn, result, record, fresh)
                record, reload = fresh, False
                continue
            assert isinstance(result, TransitionResult)  # an exception never comes with a context
            commit, outbox = prepare_commit(
                parts, turn, record, result, after, idempotency_key, fp, timer_id
            )
            try:
                yield Save(commit)
            except StaleVersionError as exc:
                if not turn.refused():  # a version conflict, not a cache behind
                    last_error = exc
                    conflicts += 1
                    if conflicts > parts.max_retries:
                        break
                    yield Sleep(random.uniform(0, parts.retry_backoff * min(8, conflicts)))
                continue
            turn.committed(record, commit.entity, conflicts)
            yield from after_commit(parts, entity_id, record, commit, outbox)
            return result, commit.entity
        raise gave_up(entity_id, parts.max_retries, last_error)
    except Exception:
        turn.failed()
        raise


def begin(
    parts: OrchestratorParts,
    records: RecordPolicy,
    record: EntityRecord | None,
    entity_id: str,
    context: Mapping[str, Any] | None,
    idempotency_key: str | None,
    fp: str,
    timer_id: str | None,
) -> Step[TransitionResult | EntityRecord]:
    """What an attempt does before the step when it has an idempotency key or no stored
    entity: the stored result of an applied key, a refusal for a timer of an entity that does
    not exist, or the record to process the event on (a new entity's, for ``None``)."""
    if idempotency_key is not None:
        done = yield from replayed(parts.machine, entity_id, idempotency_key, fp)
        if done is not None:
            return done
    if record is not None:
        return record
    if timer_id is not None:
        return timer_refused(entity_id, timer_id, "the entity does not exist")
    return (yield from initial_record(parts, records, entity_id, dict(context or {})))


def decide(
    parts: OrchestratorParts,
    turn: EventRecords,
    record: EntityRecord,
    entity_id: str,
    trigger: str,
    context: Mapping[str, Any] | None,
    timer_id: str | None,
) -> Step[tuple[TransitionResult | Exception, dict[str, Any] | None]]:
    """The machine's result for the event (or the timer ``timer_id``) on ``record``, nothing
    written yet, and the context to commit with it: ``None`` when there is nothing to write
    (a rejection, a lenient no-op, a refusal of the ``context_validator``, of the timer or of
    ``max_context_bytes``). On a cached record (``turn.cached``) an exception is returned in
    place of the result, to be confirmed like a rejection."""
    ctx = {**record.context, **context} if context else dict(record.context)
    try:
        history = {k: tuple(v) for k, v in record.history.items()} if record.history else None
        result: TransitionResult | None
        if timer_id is None:
            result = validate_context(  # the refusal of the context_validator, or None
                parts.machine, parts.context_validator, entity_id, record.state, trigger, ctx
            )
            if result is None:
                result = yield from process(record.state, trigger, ctx, history)
        else:
            timer = due_timer(parts, record, timer_id)
            if isinstance(timer, TransitionResult):
                result = timer  # stale, or not due yet
            else:
                result = yield from fire(record.state, timer.key, ctx, history)
        if not result.success or "reason" in result.metadata:
            return result, None
        after = stored_context(parts.machine, result, ctx)
        limit = parts.max_context_bytes
        # A context equal to the stored one cannot grow (a timer, an event without a
        # payload): comparing is far cheaper than encoding it again.
        if limit is not None and after != record.context:
            size = check_limit(limit, after, record.context if record.version else None)
            if size is not None:
                return too_large(record.state, result.trigger, entity_id, size, limit), None
    except Exception as exc:
        if not turn.cached:
            raise
        return exc, None
    return result, after


def due_timer(
    parts: OrchestratorParts, record: EntityRecord, timer_id: str
) -> TimerSnapshot | TransitionResult:
    """The armed timer ``timer_id`` of ``record`` if it is due, else its refusal."""
    timer = next((t for t in record.timers if t.id == timer_id), None)
    if timer is None:
        return timer_refused(record.state, timer_id, "it is not armed (stale)")
    if timer.due > parts.clock.now() + parts.timer_skew:
        return timer_refused(record.state, timer_id, "it is not due yet", "timer_not_due")
    return timer


def prepare_commit(
    parts: OrchestratorParts,
    turn: EventRecords,
    record: EntityRecord,
    result: TransitionResult,
    after: dict[str, Any],
    idempotency_key: str | None,
    fp: str,
    timer_id: str | None,
) -> tuple[Commit, list[OutboxItem]]:
    """Tell the hooks a transition starts (before anything is persisted: a commit may still
    be refused and the event run again), and build its commit."""
    if parts.observer:
        parts.observer.transition_start(result)
    now = parts.clock.now()
    return build_commit(
        record,
        result,
        after,
        now=now,
        result_json=parts.result_json(result),
        idempotency_key=idempotency_key,
        fingerprint=fp,
        timer_id=timer_id,
        # An attempt on a cached record commits only if the entity is still that incarnation.
        incarnation=record.created_at if turn.cached else None,
        claimed_until=now + parts.action_lease if parts.run_actions else 0.0,
    )


def unwritten(result: TransitionResult | Exception, record: EntityRecord) -> Outcome:
    """The outcome of a rejection or a lenient no-op on a loaded ``record`` (the entity, or
    ``None`` for a new one that was not stored)."""
    assert isinstance(result, TransitionResult)  # only a cached attempt returns an exception
    return result, record if record.version else None


def confirmed(
    turn: EventRecords,
    result: TransitionResult | Exception,
    record: EntityRecord,
    fresh: EntityRecord | None,
) -> Outcome:
    """The outcome of a rejection (or an exception) on a cached ``record`` that a load
    confirmed: the exception is raised; else ``fresh`` is cached and ``record`` (equal to it,
    but taken from the cache) returned, so the caller gets the one nobody else holds."""
    if isinstance(result, Exception):
        raise result
    assert fresh is not None
    turn.keep(fresh)
    return result, record


def after_commit(
    parts: OrchestratorParts,
    entity_id: str,
    record: EntityRecord,
    commit: Commit,
    outbox: list[OutboxItem],
) -> Step[None]:
    """Timers to the scheduler, then the actions (if this orchestrator runs them)."""
    entity = commit.entity
    if record.timers or entity.timers:  # most entities have none
        arm, cancel = timer_changes(record, entity)
        if arm or cancel:
            yield from hand_timers(parts.machine_name, entity_id, arm, cancel)
    if parts.run_actions and outbox:
        yield from run_items(parts, outbox)


def gave_up(
    entity_id: str, max_retries: int, last_error: StaleVersionError | None
) -> StaleVersionError:
    """The error of an event that met a version conflict on every attempt."""
    return StaleVersionError(
        f"entity '{entity_id}' kept changing: gave up after {max_retries + 1} attempts",
        entity_id=entity_id,
        expected_version=last_error.expected_version if last_error else None,
        actual_version=last_error.actual_version if last_error else None,
    )


__all__ = ["Outcome", "event", "event_procedure", "observed"]
