"""The outbox: running the actions an event committed, and ``recover``.

An event's actions are written to the outbox in its commit (``commit.build_commit``), leased
to the committing orchestrator for ``action_lease`` seconds. ``run_items`` runs them in order
right after the commit (unless ``run_actions=False``), each with the ``RetryPolicy`` of
``action_retry``, and records each outcome (``done``, or ``failed`` with the last error): a
failing action never rolls the committed state back. ``recover`` runs the items whose runner
died: it lists the pending items whose lease ran out, claims each one (one caller wins) and
runs it the same way. Actions are at least once; each call gets the item's id as its stable
``action_id``.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel

from pystator.errors import ContextValidationError
from pystator.models.definition import ActionSpec
from pystator.models.entity import OutboxItem
from pystator.runtime.orchestration.effects import (
    FinishAction,
    Sleep,
    Step,
    claim_action,
    pending_actions,
    run_action,
)
from pystator.runtime.orchestration.parts import OrchestratorParts

logger = logging.getLogger("pystator.orchestrator")


def run_items(parts: OrchestratorParts, items: list[OutboxItem]) -> Step[int]:
    """Run outbox items in order with the retry policy; record each outcome. Returns how many
    items ran."""
    ran = 0
    policy = parts.action_retry
    machine = parts.machine
    typed = machine.context_model is not None
    for item in items:
        spec = ActionSpec(name=item.name, params=item.params)
        error: str | None = None
        attempt = 0
        for attempt in range(1, policy.max_attempts + 1):
            # Each attempt gets its own copy of the context the event committed (the
            # model's instance for a typed machine): an action that changes it changes
            # nothing for the next one.
            ctx: dict[str, Any] | BaseModel
            try:
                ctx = machine.coerce_context(item.context) if typed else dict(item.context)
            except ContextValidationError as exc:
                # Only if the model changed since the commit: no attempt can pass.
                error = f"{type(exc).__name__}: {exc}"
                logger.error("action %s (%s) not run: %s", item.name, item.id, error)
                break
            outcome = yield from run_action(spec, ctx, item.id)
            if outcome.success:
                error = None
                break
            error = outcome.error
            logger.warning(
                "action %s (%s) failed on attempt %d: %s", item.name, item.id, attempt, error
            )
            if attempt < policy.max_attempts:
                yield Sleep(policy.delay(attempt))
        yield FinishAction(item.id, error is None, item.attempts + attempt, error)
        ran += 1
    return ran


def recover(parts: OrchestratorParts, limit: int) -> Step[int]:
    """Run the outbox items of the orchestrator's machine whose lease ran out (at most
    ``limit``), each claimed first; returns how many ran."""
    now = parts.clock.now()
    items = yield from pending_actions(now, parts.machine_name, limit)
    ran = 0
    for item in items:
        claimed = yield from claim_action(item.id, now, now + parts.action_lease)
        if not claimed:
            continue
        ran += yield from run_items(parts, [item])
    return ran


__all__ = ["recover", "run_items"]
