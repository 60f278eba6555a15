"""``OrchestratorParts``: the orchestrator as its procedures and runners see it.

The procedures (``events``, ``creation``, ``outbox``, ...) and the runners take the
``Orchestrator`` itself, typed by this protocol: they read its machine, store, scheduler and
settings at the moment they need them (a test, or an application, may change one after the
orchestrator was made), and nothing else. The record cache's policy is not here: the
orchestrator hands it to the procedures that consult it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pystator.models.result import TransitionResult
from pystator.runtime.clock import Clock
from pystator.runtime.hooks import TransitionObserver
from pystator.runtime.machine import StateMachine
from pystator.runtime.orchestration.checks import ContextValidatorFn
from pystator.runtime.orchestration.retry import RetryPolicy
from pystator.runtime.ports import Scheduler, StateStore


class OrchestratorParts(Protocol):
    """What an orchestrator's procedures read from it (see ``Orchestrator`` for each)."""

    machine: StateMachine
    store: StateStore
    scheduler: Scheduler | None
    observer: TransitionObserver
    clock: Clock
    context_validator: ContextValidatorFn | None
    use_initial_state_when_missing: bool
    max_retries: int
    retry_backoff: float
    action_retry: RetryPolicy
    action_lease: float
    run_actions: bool
    timer_skew: float
    max_context_bytes: int | None

    result_json: Callable[[TransitionResult], dict[str, Any]]

    @property
    def machine_name(self) -> str: ...


__all__ = ["OrchestratorParts"]
