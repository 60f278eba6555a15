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

from pystator._version import __version__
from pystator.errors import (
    ActionExecutionError,
    ActionNotFoundError,
    ActionTimeoutError,
    ConfigIssue,
    ConfigurationError,
    ContextValidationError,
    ErrorCode,
    FSMError,
    GuardEvaluationError,
    GuardNotFoundError,
    GuardRejectedError,
    IncompatibleSnapshotError,
    InvalidTransitionError,
    StaleVersionError,
    TerminalStateError,
    UndefinedStateError,
    UndefinedTriggerError,
)
from pystator.models import (
    ActionOutcome,
    ActionSpec,
    ExecutionReport,
    GuardSpec,
    MachineDefinition,
    MachineMeta,
    SessionSnapshot,
    StateDefinition,
    TransitionDefinition,
    TransitionResult,
)
from pystator.runtime import (
    ActionExecutor,
    ActionRegistry,
    EntitySession,
    GuardRegistry,
    LoggingHook,
    MetricsCollector,
    StateMachine,
    TransitionHook,
    TransitionObserver,
)

__all__ = [
    "ActionExecutionError",
    "ActionExecutor",
    "ActionNotFoundError",
    "ActionOutcome",
    "ActionRegistry",
    "ActionSpec",
    "ActionTimeoutError",
    "ConfigIssue",
    "ConfigurationError",
    "ContextValidationError",
    "EntitySession",
    "ErrorCode",
    "ExecutionReport",
    "FSMError",
    "GuardEvaluationError",
    "GuardNotFoundError",
    "GuardRegistry",
    "GuardRejectedError",
    "GuardSpec",
    "IncompatibleSnapshotError",
    "InvalidTransitionError",
    "LoggingHook",
    "MachineDefinition",
    "MachineMeta",
    "MetricsCollector",
    "SessionSnapshot",
    "StaleVersionError",
    "StateDefinition",
    "StateMachine",
    "TerminalStateError",
    "TransitionDefinition",
    "TransitionHook",
    "TransitionObserver",
    "TransitionResult",
    "UndefinedStateError",
    "UndefinedTriggerError",
    "__version__",
]
