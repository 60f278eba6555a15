"""The structural lint rules: what the definition and its reachable part say, without guards.

Each rule is one function from the compiled machine (and, for most, its ``Reachability``) to
findings, in document order:

* ``unreachable_states``: states no event sequence enters (the outermost one of a dead
  subtree; the states inside it are named in its message, not reported again);
* ``shadowed`` and ``shadowed_transitions``: transitions that, in every leaf they could fire
  from, come after one with the same trigger and no guards in the engine's selection order
  (``engine.index.state_table``: the leaf's own transitions, ``source: "*"`` included, then
  its ancestors'; each level by ``priority``, then document order), or that wait for an event
  or a timer in a state an unguarded eventless transition leaves at once (``settle``);
* ``dead_triggers``: triggers whose every transition leaves a state never entered;
* ``never_done``: ``done.state.X`` transitions for an X that can never complete.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pystator.engine import AUTO, ROOT, MachineIndex, StateNode, state_table
from pystator.models.definition import TransitionDefinition
from pystator.models.tree import TreeNode
from pystator.runtime.lint.findings import (
    DEAD_TRIGGER,
    NEVER_DONE,
    SHADOWED_TRANSITION,
    UNREACHABLE_STATE,
    Finding,
    finding,
)
from pystator.runtime.lint.reach import DONE_PREFIX, Reachability
from pystator.runtime.lint.settle import taken_away, unsettled


def _names(items: Iterable[str], *, quote: bool = True, limit: int = 3) -> str:
    """``'A', 'B', 'C' and 2 more``: a short list for a message (paths unquoted)."""
    listed = list(items)
    shown = ", ".join(f"'{n}'" if quote else n for n in listed[:limit])
    return shown + (f" and {len(listed) - limit} more" if len(listed) > limit else "")


def _source_text(t: TransitionDefinition) -> str:
    if t.source == "*":
        return "'*'"
    return ", ".join(f"'{s}'" for s in t.sources)


# -------------------------------------------------------------------------- unreachable
def unreachable_states(
    index: MachineIndex, reach: Reachability, nodes: Sequence[TreeNode]
) -> list[Finding]:
    """States that can never be active (history states: never entered), outermost only."""
    states = index.states
    into = _entries_into(index, {n.name: n.path for n in nodes})
    found: list[Finding] = []
    for tree_node in nodes:
        if tree_node.kind != "state":
            continue
        node = states[tree_node.name]
        reached = reach.histories if node.kind == "history" else reach.active
        if node.name in reached or (node.parent != ROOT and node.parent not in reach.active):
            continue  # reached, or inside a state that is reported itself
        inside = _descendants(index, node)
        ways_in = [w for name in (node.name, *inside) for w in into.get(name, ())]
        found.append(
            finding(UNREACHABLE_STATE, tree_node.path, _unreachable(node, inside, ways_in))
        )
    return found


def _unreachable(node: StateNode, inside: list[str], ways_in: list[str]) -> str:
    what = "history state" if node.kind == "history" else "state"
    around = " or a state inside it" if inside else ""
    if ways_in:
        why = (
            f"the transitions into it{around} ({_names(ways_in, quote=False)}) can never be "
            "taken (they start from states that are never entered, are shadowed, are timers "
            "of a state an eventless transition leaves at once, or wait for a done event that "
            "is never raised)"
        )
    elif node.kind == "history":
        why = "no transition targets it, and no initial_child or region initial names it"
    else:
        why = (
            f"no transition targets it{around}, and it is not the initial state of the "
            "machine or of the state around it"
        )
    also = (
        f" (nor are the {len(inside)} states inside it)"
        if len(inside) > 1
        else (" (nor is the state inside it)" if inside else "")
    )
    return (
        f"{what} '{node.name}' can never be entered{also}: {why}. Add a transition into it "
        "from a state that is reached, or remove it"
    )


def _entries_into(index: MachineIndex, paths: dict[str, str]) -> dict[str, list[str]]:
    """state -> the transitions (and timeouts) that target it, by path."""
    into: dict[str, list[str]] = {}
    for i, t in enumerate(index.definition.transitions):
        if t.dest is not None:
            into.setdefault(t.dest, []).append(f"transitions[{i}]")
    for node in index.states.values():
        definition = node.definition
        if definition is not None and definition.timeout is not None:
            into.setdefault(definition.timeout.destination, []).append(
                f"{paths[node.name]}.timeout"
            )
    return into


def _descendants(index: MachineIndex, node: StateNode) -> list[str]:
    """Every state below ``node`` (regions left out, history states in), depth first."""
    states = index.states
    found: list[str] = []
    todo = [*node.children, *node.history_children]
    while todo:
        below = states[todo.pop()]
        if below.kind != "region":
            found.append(below.name)
        todo.extend(below.children)
        todo.extend(below.history_children)
    return found


# -------------------------------------------------------------------------- shadowing
def shadowed(index: MachineIndex) -> dict[int, list[int]]:
    """Transitions never selected -> the transitions that beat them.

    Decided per leaf (an atomic state, what an entity waits in) over the candidates the
    engine tries there, in its order (``engine.index.state_table``: the leaf's own
    transitions, ``source: "*"`` included, then each ancestor's, innermost first; each level
    by priority, then document order): a candidate after one for the same trigger with no
    guards is beaten there, and so is every candidate for an event (a trigger, a done or an
    internal event) of a leaf the machine never waits in (``settle.unsettled``: an unguarded
    eventless transition takes it away first). A transition is never selected when it is
    beaten at every leaf it is a candidate of; a delayed one when every state whose timer
    fires it is never waited in (the timer is cancelled when the state is left)."""
    away = unsettled(index)
    tally = _Tally()
    for node in index.states.values():
        if node.kind == "atomic":
            tally.leaf(index, node.name, taken_away(away, node))
    beaten = {i: sorted(by) for i, by in tally.winners.items() if tally.all_beaten(i)}
    for i, holders in _timer_holders(index).items():
        gone_from = [taken_away(away, index.states[holder]) for holder in holders]
        if all(gone_from):
            beaten[i] = sorted({w for by in gone_from if by for w in by})
    return dict(sorted(beaten.items()))


class _Tally:
    """Per transition: at how many leaves it is a candidate, at how many it is beaten, and
    by which transitions."""

    def __init__(self) -> None:
        self.listed: dict[int, int] = {}
        self.beaten_at: dict[int, int] = {}
        self.winners: dict[int, set[int]] = {}

    def leaf(self, index: MachineIndex, name: str, gone: list[int] | None) -> None:
        """Count the candidates of the leaf ``name``; ``gone``: the eventless transitions
        that take it away at once (``settle.taken_away``), if any."""
        transitions = index.definition.transitions
        for key, candidates in (state_table(index, name) or {}).items():
            winner = gone if gone is not None and key != AUTO else None
            for candidate in candidates:
                i = candidate.index
                self.listed[i] = self.listed.get(i, 0) + 1
                if winner is not None:
                    self.beaten_at[i] = self.beaten_at.get(i, 0) + 1
                    self.winners.setdefault(i, set()).update(winner)
                elif not transitions[i].guards:
                    winner = [i]

    def all_beaten(self, i: int) -> bool:
        return self.beaten_at.get(i, 0) == self.listed.get(i, 0)


def _timer_holders(index: MachineIndex) -> dict[int, list[str]]:
    """delayed transition -> the states whose timer fires it."""
    holders: dict[int, list[str]] = {}
    for node in index.states.values():
        for spec in node.timers:
            i = index.timer_table[spec.key].index
            if i >= 0:
                holders.setdefault(i, []).append(node.name)
    return holders


def shadowed_transitions(index: MachineIndex, beaten: dict[int, list[int]]) -> list[Finding]:
    """A finding per transition of ``beaten`` (``shadowed``)."""
    transitions = index.definition.transitions
    levels: dict[int, set[str]] = {}
    for level, level_indexes in index.own.items():
        for i in level_indexes:
            levels.setdefault(i, set()).add(level)
    found: list[Finding] = []
    for i, winners in beaten.items():
        t = transitions[i]
        if t.auto:
            event = "eventless"
        elif t.after is not None:
            event = f"delayed by {t.after}"
        else:
            event = f"trigger '{t.trigger}'"
        by = ", ".join(f"transitions[{w}]" for w in winners)
        what = f"this transition ({event} from {_source_text(t)}) is never selected"
        if t.after is None and all(_first_at_a_common_source(index, levels, w, i) for w in winners):
            message = (
                f"{what}: {by} has the same source and "
                f"{'is eventless' if t.auto else 'trigger'}, comes first (higher priority, or "
                "the same priority and earlier in the file) and has no guards, so it always "
                f"wins. Give {by} a guard, give this transition a higher priority, or remove it"
            )
        else:
            reasons = "; ".join(_why_beaten(transitions, w, t) for w in winners)
            message = f"{what}: {reasons}. Give {by} a guard, or remove this transition"
        found.append(finding(SHADOWED_TRANSITION, f"transitions[{i}]", message))
    return found


def _first_at_a_common_source(
    index: MachineIndex, levels: dict[int, set[str]], w: int, i: int
) -> bool:
    """``w`` and ``i`` are listed under a common source, where ``w`` is tried first."""
    transitions = index.definition.transitions
    winner, beaten = transitions[w], transitions[i]
    return (
        winner.auto == beaten.auto
        and bool(levels.get(w, set()) & levels.get(i, set()))
        and (-winner.priority, w) < (-beaten.priority, i)
    )


def _why_beaten(
    transitions: Sequence[TransitionDefinition], w: int, t: TransitionDefinition
) -> str:
    """Why transition ``w`` beats ``t`` where they are not in the same source's order."""
    winner = transitions[w]
    if winner.auto and not t.auto:
        return (
            f"transitions[{w}] (eventless from {_source_text(winner)}) has no guards, so the "
            "engine takes it as soon as the state is entered, before it handles any event or "
            "timer there"
        )
    same = "is eventless too" if t.auto else "has the same trigger"
    return (
        f"transitions[{w}] (from {_source_text(winner)}) {same} and no guards, and where it "
        "applies the engine tries it before this one: the active state's own transitions "
        '(source: "*" included) come before those of the states around it'
    )


# -------------------------------------------------------------------------- triggers
def dead_triggers(index: MachineIndex, reach: Reachability) -> list[Finding]:
    """Triggers (not ``done.state`` ones: see ``never_done``) whose transitions all leave
    states that are never entered."""
    transitions = index.definition.transitions
    first, live = _triggers_in_use(index, reach)
    found: list[Finding] = []
    for trigger, i in sorted(first.items(), key=lambda item: item[1]):
        if trigger in live:
            continue
        users = [j for j, t in enumerate(transitions) if t.trigger == trigger and t.after is None]
        sources = sorted({s for j in users for s in transitions[j].sources})
        paths = _names((f"transitions[{j}]" for j in users), quote=False)
        found.append(
            finding(
                DEAD_TRIGGER,
                f"transitions[{i}].trigger",
                f"trigger '{trigger}' can never fire: its transitions ({paths}) leave only "
                f"states that are never entered ({_names(sources)}). Make one of those states "
                "reachable, or remove these transitions",
            )
        )
    return found


def _triggers_in_use(index: MachineIndex, reach: Reachability) -> tuple[dict[str, int], set[str]]:
    """trigger -> its first transition (not delayed, eventless or ``done.state``), and the
    triggers that some active state has a transition for."""
    transitions = index.definition.transitions
    live: set[str] = set()
    first: dict[str, int] = {}
    for level, level_indexes in index.own.items():
        for i in level_indexes:
            trigger = transitions[i].trigger
            if trigger is None or transitions[i].auto or trigger.startswith(DONE_PREFIX):
                continue
            if i < first.get(trigger, i + 1):
                first[trigger] = i
            if level in reach.active:
                live.add(trigger)
    return first, live


# -------------------------------------------------------------------------- done events
def never_done(index: MachineIndex, reach: Reachability) -> list[Finding]:
    """``done.state.X`` transitions (by trigger) for an X that can never complete and whose
    event no reachable content raises."""
    first: dict[str, int] = {}
    for i, t in enumerate(index.definition.transitions):
        if t.trigger is not None and t.trigger.startswith(DONE_PREFIX) and t.after is None:
            first.setdefault(t.trigger, i)
    found: list[Finding] = []
    for trigger, i in first.items():
        name = trigger.removeprefix(DONE_PREFIX)
        if trigger in reach.raised or reach.completes(index, name):
            continue
        found.append(
            finding(
                NEVER_DONE,
                f"transitions[{i}].trigger",
                f"'{trigger}' is never raised: {_why_never_done(index, reach, name)}",
            )
        )
    return found


def _why_never_done(index: MachineIndex, reach: Reachability, name: str) -> str:
    node = index.states[name]
    if name not in reach.active:
        return f"state '{name}' can never be entered. Make it reachable, or remove the transition"
    if node.kind == "parallel":
        region = next(r for r in node.children if not reach.has_final(index, r))
        return (
            f"region '{region}' of parallel state '{name}' {_final_children(index, region)}, "
            f"so '{name}' never completes. Give every region a terminal state it can reach, "
            "or remove the transition"
        )
    what = "region" if node.kind == "region" else "state"
    return (
        f"{what} '{name}' {_final_children(index, name)}, so it never completes. Add a child "
        "of type: terminal that a transition enters, or remove the transition"
    )


def _final_children(index: MachineIndex, name: str) -> str:
    states = index.states
    finals = [c for c in states[name].children if states[c].is_terminal]
    if not finals:
        return "has no child of type: terminal"
    return f"never enters its terminal child{'ren' if len(finals) > 1 else ''} ({_names(finals)})"
