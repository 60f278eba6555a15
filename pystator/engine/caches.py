"""``IndexCaches``: what the engine fills in on use, beside the frozen ``MachineIndex``.

``engine.build.build_index`` compiles a definition into a ``MachineIndex`` that never changes
after it is built. Everything the engine learns while it runs (a state's candidate table, a
parsed configuration, a result built once) is kept here instead, in one object per index that
says it is a cache: each dictionary is bounded, and clearing any of them changes no outcome,
only the time the next call takes.

The dictionaries are never rebound, only cleared (the dataclass is frozen so that nobody can
rebind them): ``StateMachine`` keeps direct references to ``fast_table``, ``settled`` and
``failures``, taken once at construction, so its sync fast path reads them with one attribute
lookup, as it did when they were fields of the index.

Benchmark rows are those of ``python -m benchmarks`` (``benchmarks/scenarios.py`` and
``benchmarks/unhappy.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pystator.engine.config import Configuration
    from pystator.engine.index import Candidate
    from pystator.models.result import TransitionResult

MAX_CONFIGS = 4_096
"""Entries kept in ``IndexCaches.configs`` before it is cleared (keys are callers' strings)."""
MAX_RESULTS = 65_536
"""Entries kept in ``IndexCaches.results`` (and so in ``settled``) before both are cleared."""
MAX_FAILURES = 4_096
"""Entries kept in ``IndexCaches.failures`` before it is cleared: its keys hold the caller's
triggers (and guard details), so the definition alone does not bound them."""


@dataclass(frozen=True, slots=True, eq=False)
class IndexCaches:
    """What the engine fills in on use; bounded; clearing it never changes an outcome."""

    table: dict[str, dict[str, tuple[Candidate, ...]]] = field(default_factory=dict)
    """state -> trigger -> candidates in selection order (``AUTO`` for eventless). Filled by
    ``engine.index.state_table`` on a state's first event, so loading a machine of thousands
    of states costs only what it uses (row 4). Bounded by the number of states. The
    candidates keep their result memos (``Candidate.result``, ``.assigns``, ``.carried``), so
    those live in this cache too."""
    fast_table: dict[str, dict[str, tuple[Candidate, ...]]] = field(default_factory=dict)
    """The entries of ``table`` whose results can be built once and shared: plain states
    (not in or of a parallel state) of a ``simple`` machine. The sync fast path of
    ``StateMachine.process`` reads it first (rows 1, 2, 3, 6a, 6b, 9a, 10a to 10e, 10g).
    Bounded by the number of states."""
    allowed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """state -> triggers with at least one candidate, in document order; filled with
    ``table`` in the same pass. Read by the "allowed: ..." message of an invalid transition
    (row 10d, built once then kept in ``failures``) and ``StateMachine.get_triggers``; no row
    needs it on its own. Bounded by the number of states."""
    configs: dict[str, Configuration] = field(default_factory=dict)
    """configuration string as the caller spelled it -> parsed ``Configuration``. Read by
    every step that runs the general engine (``outcomes.configuration``): row 10f, and rows 8,
    9b and 9c on a ``settled`` miss. At most ``MAX_CONFIGS`` entries."""
    results: dict[tuple[Any, ...], TransitionResult] = field(default_factory=dict)
    """(state as spelled, trigger or timer key, selected transition indexes) -> the result of
    the general engine, for ``simple`` machines without ``assign`` (such a result depends on
    nothing else). Filled by ``engine.step.macrostep``; at most ``MAX_RESULTS`` entries, then
    cleared together with ``settled``. Rows 8, 9b and 9c before ``settled`` serves them."""
    settled: dict[tuple[str, str], TransitionResult] = field(default_factory=dict)
    """(configuration as spelled, trigger) -> result, for the entries of ``results`` whose
    selection evaluated no guard: both drivers return it without running the engine
    (rows 8, 8b, 9b, 9c: 3 µs to 0.2 µs). A subset of ``results``, cleared with it."""
    failures: dict[tuple[Any, ...], TransitionResult] = field(default_factory=dict)
    """Results of events that do not move the entity (a guard said no, a trigger that does
    not apply, a terminal state), keyed by everything each is built from; filled by
    ``engine.outcomes`` and read first by the sync fast path (rows 10a to 10h). At most
    ``MAX_FAILURES`` entries."""

    def clear(self) -> None:
        """Empty every cache (in place: the references others hold stay valid)."""
        self.table.clear()
        self.fast_table.clear()
        self.allowed.clear()
        self.configs.clear()
        self.results.clear()
        self.settled.clear()
        self.failures.clear()
