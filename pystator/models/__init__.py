"""Pydantic models: definitions, results, snapshots. Validation only, no behaviour, no I/O."""

from pystator.models.definition import (
    ActionSpec,
    GuardSpec,
    MachineDefinition,
    MachineMeta,
    StateDefinition,
    TransitionDefinition,
)
from pystator.models.result import ActionOutcome, ExecutionReport, TransitionResult
from pystator.models.snapshot import SessionSnapshot

__all__ = [
    "ActionOutcome",
    "ActionSpec",
    "ExecutionReport",
    "GuardSpec",
    "MachineDefinition",
    "MachineMeta",
    "SessionSnapshot",
    "StateDefinition",
    "TransitionDefinition",
    "TransitionResult",
]
