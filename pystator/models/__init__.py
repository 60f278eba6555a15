"""Pydantic models: definitions, results, snapshots. Validation only, no behaviour, no I/O."""

from pystator.models.config import ParallelStateConfig
from pystator.models.context import ContextField, ContextSpec, EventSpec
from pystator.models.definition import (
    ActionSpec,
    AssignSpec,
    GuardSpec,
    MachineDefinition,
    MachineMeta,
    RaiseSpec,
    RegionDefinition,
    StateDefinition,
    TimeoutSpec,
    TransitionDefinition,
)
from pystator.models.result import ActionOutcome, ExecutionReport, TimerSpec, TransitionResult
from pystator.models.snapshot import SessionSnapshot, TimerSnapshot

__all__ = [
    "ActionOutcome",
    "ActionSpec",
    "AssignSpec",
    "ContextField",
    "ContextSpec",
    "EventSpec",
    "ExecutionReport",
    "GuardSpec",
    "MachineDefinition",
    "MachineMeta",
    "ParallelStateConfig",
    "RaiseSpec",
    "RegionDefinition",
    "SessionSnapshot",
    "StateDefinition",
    "TimeoutSpec",
    "TimerSnapshot",
    "TimerSpec",
    "TransitionDefinition",
    "TransitionResult",
]
