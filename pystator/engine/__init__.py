"""The pure engine: compile a definition, select transitions, build results. No I/O, no clock."""

from pystator.engine.caches import IndexCaches
from pystator.engine.config import Configuration, parse, serialize
from pystator.engine.datamodel import AssignFailed, CompiledAssign, DataModel, dict_rebuild
from pystator.engine.guards import CompiledGuard, Rejection
from pystator.engine.index import (
    AUTO,
    ROOT,
    Candidate,
    MachineIndex,
    StateNode,
    allowed_of,
    state_table,
)
from pystator.engine.microstep import History, entry_configuration
from pystator.engine.outcomes import (
    allowed_triggers,
    configuration,
    context_invalid,
    no_transition,
    payload_invalid,
    reject,
)
from pystator.engine.step import (
    MAX_MICROSTEPS,
    GuardOutcome,
    GuardStep,
    accept,
    compile_machine,
    macrostep,
    start,
)

__all__ = [
    "AUTO",
    "MAX_MICROSTEPS",
    "ROOT",
    "AssignFailed",
    "Candidate",
    "CompiledAssign",
    "CompiledGuard",
    "Configuration",
    "DataModel",
    "GuardOutcome",
    "GuardStep",
    "History",
    "IndexCaches",
    "MachineIndex",
    "Rejection",
    "StateNode",
    "accept",
    "allowed_of",
    "allowed_triggers",
    "compile_machine",
    "configuration",
    "context_invalid",
    "dict_rebuild",
    "entry_configuration",
    "macrostep",
    "no_transition",
    "parse",
    "payload_invalid",
    "reject",
    "serialize",
    "start",
    "state_table",
]
