"""Which transitions an event enables: the selection phase of the engine's macrostep.

``select_transitions`` is SCXML's selectTransitions (Appendix D of the Recommendation): for
each active leaf, in document order, the first candidate for the event whose guards pass. It
is a generator that yields each guard it needs and receives the driver's outcome, so one
procedure serves the sync and the async driver. ``remove_conflicting_transitions`` is the
Recommendation's removeConflictingTransitions: of two selected transitions whose exit sets
intersect, a transition from a descendant state preempts, else the first one wins.

Pure and deterministic, like the rest of the engine.
"""

from __future__ import annotations

from collections.abc import Generator

from pystator.engine.index import Candidate, CompiledGuard, MachineIndex, Rejection, state_table
from pystator.engine.microstep import History, exit_set, moves

GuardOutcome = bool | Rejection
"""What a driver sends back for a guard: its truth, or a ``Rejection`` saying why not."""


def select_transitions(
    index: MachineIndex, leaves: tuple[str, ...], key: str, outcomes: dict[int, bool]
) -> Generator[
    CompiledGuard,
    GuardOutcome,
    tuple[list[Candidate], tuple[CompiledGuard, str | None] | None, int],
]:
    """SCXML's selectTransitions: for each active leaf, the first candidate for ``key`` whose
    guards pass (a generator: it yields each guard it needs and receives its outcome).

    ``outcomes`` keeps each candidate's guard outcome by its index (a candidate reached from
    two leaves is judged once). Returns (the selected candidates, the first guard that said
    no with its detail, how many candidates were tried)."""
    selected: list[Candidate] = []
    chosen: set[int] = set()
    first_no: tuple[CompiledGuard, str | None] | None = None
    tried = 0
    for leaf in leaves:
        per_state = state_table(index, leaf)
        cands = per_state.get(key) if per_state is not None else None
        if not cands:
            continue
        for cand in cands:
            tried += 1
            if cand.index in chosen:
                break  # this leaf selects a transition another leaf already selected
            ok = outcomes.get(cand.index)
            if ok is None:
                ok = True
                for guard in cand.guards:
                    outcome = yield guard
                    if not outcome:
                        ok = False
                        if first_no is None:
                            first_no = (guard, getattr(outcome, "detail", None))
                        break
                outcomes[cand.index] = ok
            if ok:
                selected.append(cand)
                chosen.add(cand.index)
                break
    return selected, first_no, tried


def remove_conflicting_transitions(
    index: MachineIndex,
    active: frozenset[str],
    selected: list[Candidate],
    history: History | None,
) -> list[Candidate]:
    """SCXML's removeConflictingTransitions: a descendant source preempts, else first wins.

    ``history``: the memory before the step (the exit set of a transition that targets a
    history state depends on it)."""
    if len(selected) < 2:
        return selected
    states = index.states
    exits = {
        id(c): (exit_set(index, active, c, history)[1] if moves(c) else frozenset())
        for c in selected
    }
    kept: list[Candidate] = []
    for t1 in selected:
        preempted = False
        to_remove: list[Candidate] = []
        for t2 in kept:
            if exits[id(t1)] & exits[id(t2)]:
                if t2.source in states[t1.source].ancestors:
                    to_remove.append(t2)
                else:
                    preempted = True
                    break
        if not preempted:
            kept = [k for k in kept if k not in to_remove]
            kept.append(t1)
    return kept
