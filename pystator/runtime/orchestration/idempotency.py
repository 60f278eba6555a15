"""Idempotency keys: what a key stands for, and the replay of an event already applied.

An event sent with ``idempotency_key=`` stores the key in its commit, with the fingerprint of
the event (``fingerprint``: its trigger and payload) and its result. The same key again, from
any process, is not applied again: the event procedure reads the key (``replayed``) and
returns the stored result, marked ``metadata["replayed"]``; the key with another trigger or
payload raises ``IdempotencyConflictError``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from pystator.errors import ContextValidationError, IdempotencyConflictError
from pystator.models.entity import IdempotencyRecord
from pystator.models.result import TransitionResult
from pystator.runtime.machine import StateMachine
from pystator.runtime.orchestration.effects import Step, read_key

logger = logging.getLogger("pystator.orchestrator")


def fingerprint(trigger: str, context: Mapping[str, Any] | None) -> str:
    """What an idempotency key stands for: the trigger and the event's context."""
    canonical = json.dumps(
        {"trigger": trigger, "context": context or {}}, sort_keys=True, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def replayed(
    machine: StateMachine, entity_id: str, key: str, fp: str
) -> Step[TransitionResult | None]:
    """The stored result of the event that used ``key`` (``fp`` must be its fingerprint), or
    ``None`` when the key was not used for the entity."""
    done = yield from read_key(machine.name, entity_id, key)
    if done is None:
        return None
    return replay(machine, done, fp, key)


def replay(machine: StateMachine, done: IdempotencyRecord, fp: str, key: str) -> TransitionResult:
    """The result stored with an applied key, marked ``replayed``; raises
    ``IdempotencyConflictError`` when ``fp`` is not the fingerprint it was stored with."""
    if done.fingerprint != fp:
        raise IdempotencyConflictError(
            f"idempotency key '{key}' was already used for a different event "
            "(another trigger or payload)"
        )
    data = dict(done.result)
    data["metadata"] = {**data.get("metadata", {}), "replayed": True}
    context = data.get("context")
    if context is not None and machine.context_model is not None:
        # The context the event committed, as the machine's model (a fresh result has
        # an instance); kept as JSON if the model no longer accepts it.
        try:
            data["context"] = machine.coerce_context(context)
        except ContextValidationError as exc:
            logger.warning(
                "idempotency key %r: the stored context no longer fits %s (%s); "
                "replaying it as JSON",
                key,
                machine.context_model.__name__,
                "; ".join(exc.errors),
            )
    return TransitionResult.model_validate(data)


__all__ = ["fingerprint", "replay", "replayed"]
