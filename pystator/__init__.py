"""PyStator: Pydantic-first, configuration-driven, stateless statecharts.

>>> from pystator import StateMachine
>>> machine = StateMachine.from_dict({
...     "meta": {"machine_name": "door"},
...     "states": [{"name": "CLOSED", "type": "initial"}, {"name": "OPEN"}],
...     "transitions": [{"trigger": "open", "source": "CLOSED", "dest": "OPEN"}],
... })
>>> machine.process("CLOSED", "open").target_state
'OPEN'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pystator._version import __version__
from pystator.errors import (
    ActionExecutionError,
    ActionNotFoundError,
    ActionTimeoutError,
    ConfigIssue,
    ConfigurationError,
    ContextTooLargeError,
    ContextValidationError,
    EntityNotFoundError,
    ErrorCode,
    FSMError,
    GuardEvaluationError,
    GuardNotFoundError,
    GuardRejectedError,
    IdempotencyConflictError,
    IncompatibleSnapshotError,
    InvalidTransitionError,
    LoopLimitError,
    PayloadValidationError,
    StaleVersionError,
    StoreTimeoutError,
    StoreUnavailableError,
    TerminalStateError,
    UndefinedStateError,
    UndefinedTriggerError,
)
from pystator.models import (
    ActionOutcome,
    ActionSpec,
    AssignSpec,
    ContextField,
    ContextSpec,
    EventSpec,
    ExecutionReport,
    GuardSpec,
    MachineDefinition,
    MachineMeta,
    ParallelStateConfig,
    RaiseSpec,
    RegionDefinition,
    SessionSnapshot,
    StateDefinition,
    TimeoutSpec,
    TimerSpec,
    TransitionDefinition,
    TransitionResult,
)
from pystator.runtime import (
    ActionExecutor,
    ActionRegistry,
    Clock,
    EntitySession,
    GuardRegistry,
    LoggingHook,
    ManualClock,
    MetricsCollector,
    PendingTimer,
    StateMachine,
    TransitionHook,
    TransitionObserver,
)

if TYPE_CHECKING:
    from pystator.runtime.class_parts import State
    from pystator.runtime.classes import Machine
    from pystator.runtime.orchestrator import ContextValidatorFn, Orchestrator, RetryPolicy
    from pystator.runtime.ports import StateStore
    from pystator.stores.memory import InMemoryStateStore

# Persistence loads on first use: ``import pystator`` stays light for pure computation.
_LAZY: dict[str, str] = {
    "Machine": "pystator.runtime.classes",
    "State": "pystator.runtime.class_parts",
    "ContextValidatorFn": "pystator.runtime.orchestrator",
    "Orchestrator": "pystator.runtime.orchestrator",
    "RetryPolicy": "pystator.runtime.orchestrator",
    "StateStore": "pystator.runtime.ports",
    "InMemoryStateStore": "pystator.stores.memory",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pystator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ActionExecutionError",
    "ActionExecutor",
    "ActionNotFoundError",
    "ActionOutcome",
    "ActionRegistry",
    "ActionSpec",
    "ActionTimeoutError",
    "AssignSpec",
    "Clock",
    "ConfigIssue",
    "ConfigurationError",
    "ContextField",
    "ContextSpec",
    "ContextTooLargeError",
    "ContextValidationError",
    "ContextValidatorFn",
    "EntityNotFoundError",
    "EntitySession",
    "ErrorCode",
    "EventSpec",
    "ExecutionReport",
    "FSMError",
    "GuardEvaluationError",
    "GuardNotFoundError",
    "GuardRegistry",
    "GuardRejectedError",
    "GuardSpec",
    "IdempotencyConflictError",
    "InMemoryStateStore",
    "IncompatibleSnapshotError",
    "InvalidTransitionError",
    "LoggingHook",
    "LoopLimitError",
    "Machine",
    "MachineDefinition",
    "MachineMeta",
    "ManualClock",
    "MetricsCollector",
    "Orchestrator",
    "ParallelStateConfig",
    "PayloadValidationError",
    "PendingTimer",
    "RaiseSpec",
    "RegionDefinition",
    "RetryPolicy",
    "SessionSnapshot",
    "StaleVersionError",
    "State",
    "StateDefinition",
    "StateMachine",
    "StateStore",
    "StoreTimeoutError",
    "StoreUnavailableError",
    "TerminalStateError",
    "TimeoutSpec",
    "TimerSpec",
    "TransitionDefinition",
    "TransitionHook",
    "TransitionObserver",
    "TransitionResult",
    "UndefinedStateError",
    "UndefinedTriggerError",
    "__version__",
]
