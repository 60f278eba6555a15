"""The pure engine: compile a definition, select transitions, build results. No I/O, no clock.

What lives here, in the order a definition goes through it:

* ``build``: ``build_index`` compiles a validated definition into a frozen ``MachineIndex``
  (``index``: the index, its ``StateNode``s and ``Candidate``s, and the lookups), in phases
  named after the SCXML Recommendation's steps; ``guards`` compiles the expressions
  (``expr`` guards and ``assign`` items, in the language of ``engine.expr``);
* ``caches``: ``IndexCaches``, what the engine fills in on use beside the frozen index;
* ``config``: configurations (the set of active states) and their string form;
* ``step``: one event (``macrostep``) or the initial configuration (``start``) as a generator
  that asks for guard outcomes; ``selection`` selects the enabled transitions and removes the
  conflicting ones; ``microstep`` exits, acts and enters; ``datamodel`` applies ``assign``;
* ``outcomes``: every failed result (rejections, unknown triggers, invalid contexts), built
  once and shared.
"""

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
from pystator.engine.selection import GuardOutcome
from pystator.engine.step import (
    MAX_MICROSTEPS,
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
