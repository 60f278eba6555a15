"""The pure engine: compile a definition, select transitions, build results. No I/O, no clock."""

from pystator.engine.index import (
    ROOT,
    Candidate,
    CompiledGuard,
    MachineIndex,
    StateNode,
    compile_machine,
)
from pystator.engine.step import accept, candidates, context_invalid, no_transition, reject

__all__ = [
    "ROOT",
    "Candidate",
    "CompiledGuard",
    "MachineIndex",
    "StateNode",
    "accept",
    "candidates",
    "compile_machine",
    "context_invalid",
    "no_transition",
    "reject",
]
