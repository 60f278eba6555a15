"""The pure engine: compile a definition, select transitions, build results. No I/O, no clock."""

from pystator.engine.config import Configuration, parse, serialize
from pystator.engine.index import (
    AUTO,
    ROOT,
    Candidate,
    CompiledGuard,
    MachineIndex,
    StateNode,
)
from pystator.engine.step import (
    MAX_MICROSTEPS,
    GuardStep,
    History,
    accept,
    allowed_triggers,
    compile_machine,
    configuration,
    context_invalid,
    entry_configuration,
    macrostep,
    no_transition,
    reject,
    start,
)

__all__ = [
    "AUTO",
    "MAX_MICROSTEPS",
    "ROOT",
    "Candidate",
    "CompiledGuard",
    "Configuration",
    "GuardStep",
    "History",
    "MachineIndex",
    "StateNode",
    "accept",
    "allowed_triggers",
    "compile_machine",
    "configuration",
    "context_invalid",
    "entry_configuration",
    "macrostep",
    "no_transition",
    "parse",
    "reject",
    "serialize",
    "start",
]
