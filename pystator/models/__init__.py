"""Pydantic models: definitions, results, snapshots. Validation only, no behaviour, no I/O.

What lives here, one concept per module:

* ``definition``: ``MachineDefinition``, the one model every loader produces, and its parts
  (states, transitions, actions, guards, timers); ``names``: the naming rules they share;
  ``data``: free-form JSON inside a definition; ``context``: the context contract;
* ``tree``: the state tree with regions flattened into nodes; ``config_text`` reads the
  configuration string's syntax, ``config`` is its model form for parallel states;
* the cross-reference checks a field validator cannot do alone: ``checks`` runs them,
  ``checker`` is what they share, and ``tree_checks``, ``state_checks`` and
  ``transition_checks`` hold them by what they look at;
* ``result``: ``TransitionResult``, what the engine returns; ``snapshot``: an entity held by a
  session; ``entity``: what stores keep (entities, history, outbox, idempotency keys).
"""

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
