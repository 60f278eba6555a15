"""What the orchestrator checks before it works: its options, an event's arguments, and a
context against the ``context_validator``.

A wrong option or argument is a programming error (``TypeError``, ``ValueError``); a context
the validator refuses is an outcome of the event (a failed result with reason
``context_validation``), and ``create_entity`` raises it as ``ContextValidationError``
(``refuse``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import repeat
from typing import Any, NoReturn

from pystator.engine.outcomes import context_invalid
from pystator.errors import ContextValidationError
from pystator.models.result import TransitionResult
from pystator.runtime.machine import StateMachine

ContextValidatorFn = Callable[[str, str, str, dict[str, Any]], tuple[bool, list[str]]]
"""``(entity_id, state, trigger, context) -> (ok, errors)``; runs before guards."""


def check_options(
    machine: object,
    state_store: object,
    max_retries: int,
    record_cache: object,
    max_context_bytes: object,
) -> None:
    """Raise ``TypeError`` or ``ValueError`` for an ``Orchestrator`` argument that is wrong."""
    if not isinstance(machine, StateMachine):
        raise TypeError(f"machine must be a StateMachine, got {type(machine).__name__}")
    if state_store is None:
        raise TypeError("state_store is required (e.g. InMemoryStateStore())")
    if max_retries < 0:
        raise ValueError("max_retries must be >= 0")
    if not isinstance(record_cache, int) or isinstance(record_cache, bool):
        raise TypeError(f"record_cache must be an int >= 0, got {type(record_cache).__name__}")
    if record_cache < 0:
        raise ValueError("record_cache must be an int >= 0")
    if max_context_bytes is not None and (
        not isinstance(max_context_bytes, int)
        or isinstance(max_context_bytes, bool)
        or max_context_bytes < 1
    ):
        raise ValueError(
            f"max_context_bytes must be None or an int >= 1, got {max_context_bytes!r}"
        )


def check_arguments(entity_id: object, context: object) -> None:
    """Raise ``ValueError`` for an entity id that is not a non-empty string, ``TypeError`` for
    an event's context (``None``: none) that is not a mapping with string keys."""
    if not isinstance(entity_id, str) or not entity_id:
        raise ValueError("entity_id must be a non-empty string")
    if context is not None:
        if type(context) is not dict and not isinstance(context, Mapping):
            raise TypeError("context must be a mapping")
        # Stored records are made without validation (``build_commit``): check here.
        if not all(map(isinstance, context, repeat(str))):
            raise TypeError("context keys must be strings")


def validate_context(
    machine: StateMachine,
    validator: ContextValidatorFn | None,
    entity_id: str,
    state: str,
    trigger: str,
    ctx: dict[str, Any],
) -> TransitionResult | None:
    """The refusal of ``validator``, run after the machine's own contract (so it sees only
    contexts that satisfy it); ``None`` when there is no validator or it accepts."""
    if validator is None:
        return None  # ``process`` checks the machine's own contract (and payload) itself
    invalid = machine.check_context(state, trigger, ctx)
    if invalid is not None:
        return invalid
    ok, errors = validator(entity_id, state, trigger, ctx)
    if ok:
        return None
    return context_invalid(state, trigger, list(errors) or ["rejected by context_validator"])


def refuse(invalid: TransitionResult) -> NoReturn:
    """Raise the ``ContextValidationError`` of a ``context_validation`` result."""
    assert invalid.error is not None
    raise ContextValidationError(
        invalid.error.message, errors=list(invalid.metadata.get("errors", []))
    )


__all__ = [
    "ContextValidatorFn",
    "check_arguments",
    "check_options",
    "refuse",
    "validate_context",
]
