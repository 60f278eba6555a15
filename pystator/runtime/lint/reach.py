"""Which states an entity can ever be in: a fixpoint over the compiled ``MachineIndex``.

``reachability`` starts from the initial configuration and follows everything that can change
it, as the engine does (``docs/semantics.md``, ``docs/statecharts.md``):

* entering a state enters its ancestors below the transition's domain; a parallel one
  among them enters its other regions by default; a compound state or region is entered
  through its initial child (which may be a history state), a parallel state through every
  region;
* a history state enters its fallback (``StateNode.fallback``) when it remembers nothing, and
  what it remembers otherwise: a shallow history re-enters, by default, any child of its
  parent that was active before; a deep history restores leaves that were active already;
* from an active state, every transition of the state and of its ancestors can fire: on an
  event (any trigger can be sent), eventless (``auto``), on a timer (``after``, ``timeout``),
  or ``source: "*"`` (listed under every state it stands for, by the index);
* a transition that an earlier unguarded one always beats (``rules.shadowed``) never fires,
  nor does the timer of a state the machine never waits in (``settle.unsettled``);
* a ``done.state.X`` transition fires only once X can complete (a terminal child of X can be
  active; for a parallel X, one in every region), or when content that can run raises it.

Guards are taken as able to pass (the lint cannot know their outcome), so the result is what
can be reached at most: a state it says is unreachable is unreachable whatever the guards say.
A walk with explicit work lists, never recursion: definitions can nest thousands deep.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from pystator.engine import ROOT, MachineIndex, StateNode
from pystator.runtime.lint.settle import taken_away, unsettled

DONE_PREFIX = "done.state."

_ENTER, _DEFAULT = 0, 1
"""Pending entries: a target entered with its ancestors, or a state entered by default."""


@dataclass(slots=True)
class Reachability:
    """What an entity of the machine can ever see."""

    active: set[str] = field(default_factory=set)
    """States and regions that can be active."""
    histories: set[str] = field(default_factory=set)
    """History pseudo-states some entry goes through."""
    fired: set[int] = field(default_factory=set)
    """Indexes of the transitions that can be taken (their source can be active, and, for a
    ``done.state`` trigger, the done event can be raised)."""
    raised: set[str] = field(default_factory=set)
    """Internal events raised by ``{raise: EVENT}`` items that can run."""

    def completes(self, index: MachineIndex, name: str) -> bool:
        """Whether ``done.state.<name>`` can be raised by completion: a terminal child of the
        compound state (or region) ``name`` can be active; for a parallel state, one in every
        region (SCXML's isInFinalState, as ``engine.microstep`` judges it)."""
        node = index.states[name]
        if node.kind == "parallel":
            return all(self.has_final(index, region) for region in node.children)
        return self.has_final(index, name)

    def has_final(self, index: MachineIndex, name: str) -> bool:
        """A terminal child of ``name`` can be active."""
        states = index.states
        return any(c in self.active and states[c].is_terminal for c in states[name].children)


class _Walk:
    """The fixpoint's state: what is reached, and what is still to be followed."""

    def __init__(self, index: MachineIndex, never: Collection[int]) -> None:
        self.index = index
        self.never = never
        """Transitions that are never selected (shadowed): not followed."""
        self.states = index.states
        self.reach = Reachability()
        self.defaulted: set[str] = set()
        """States already entered by default (their initial children followed)."""
        self.entries: list[tuple[int, str, str]] = []
        """(``_ENTER``, target, the domain it is entered from) or (``_DEFAULT``, state, "")."""
        self.targeted: set[tuple[str, str]] = set()
        """(target, domain) pairs already queued: one entry each, whatever leads there."""
        self.unscanned: list[str] = []
        """Active states whose transitions and timers are not followed yet."""
        self.away = unsettled(index)
        """States the machine never waits in (``settle.unsettled``)."""
        self.waiting: dict[tuple[int, str], str] = {}
        """(``done.state`` transition, the active state it is listed under) -> the state X
        whose completion it waits for."""

    # ------------------------------------------------------------------ entering
    def activate(self, name: str) -> None:
        reach = self.reach
        if name not in reach.active:
            reach.active.add(name)
            self.unscanned.append(name)
            node = self.states[name]
            if node.enter_raises or node.exit_raises:
                reach.raised.update(node.enter_raises, node.exit_raises)

    def enter(self, target: str, domain: str) -> None:
        """Queue the entry of ``target`` by a transition whose domain is ``domain``."""
        if (target, domain) not in self.targeted:
            self.targeted.add((target, domain))
            self.entries.append((_ENTER, target, domain))

    def run_entries(self) -> None:
        entries = self.entries
        while entries:
            how, name, domain = entries.pop()
            if how == _ENTER:
                self.enter_ancestors(name, domain)
                entries.append((_DEFAULT, name, ""))
            else:
                self.enter_by_default(self.states[name])

    def enter_ancestors(self, target: str, domain: str) -> None:
        """Activate ``target``'s ancestors below ``domain`` (those above it stay active); a
        parallel one enters its other regions by default (SCXML's addAncestorStatesToEnter),
        whether it was active or not: it is exited and entered again."""
        on_path = target
        for above in self.states[target].ancestors:
            if above == domain:
                break
            self.activate(above)
            node = self.states[above]
            if node.kind == "parallel":
                self.entries.extend((_DEFAULT, r, "") for r in node.children if r != on_path)
            on_path = above

    def enter_by_default(self, node: StateNode) -> None:
        if node.kind == "history":
            if node.name not in self.reach.histories:
                self.reach.histories.add(node.name)
                for target in node.fallback:
                    self.enter(target, node.parent)
            return
        if node.name in self.defaulted:
            return
        self.defaulted.add(node.name)
        self.activate(node.name)
        if node.kind == "parallel":
            self.entries.extend((_DEFAULT, region, "") for region in node.children)
        elif node.initial_child is not None:
            self.entries.append((_DEFAULT, node.initial_child, ""))

    def domain(self, source: str, target: str, internal: bool) -> str:
        return transition_domain(self.states, source, target, internal)

    # ------------------------------------------------------------------ transitions
    def scan(self, name: str) -> None:
        """Follow the transitions and timers of the active state ``name``."""
        index = self.index
        node = self.states[name]
        if node.is_final:
            return  # a top-level terminal state: no event applies any more
        transitions = index.definition.transitions
        for i in index.own.get(name, ()):
            trigger = transitions[i].trigger
            if trigger is not None and trigger.startswith(DONE_PREFIX):
                self.waiting[(i, name)] = trigger.removeprefix(DONE_PREFIX)
            else:
                self.take(i, name)
        if taken_away(self.away, node) is not None:
            return  # never waited in: its timers are cancelled before they can fire
        for spec in node.timers:
            candidate = index.timer_table[spec.key]
            if candidate.index >= 0:
                self.take(candidate.index, name)
            elif candidate.transition.dest is not None:  # a state's timeout
                dest = candidate.transition.dest
                self.enter(dest, self.domain(name, dest, False))

    def take(self, i: int, source: str) -> None:
        """Transition ``i`` fires from the active state ``source``."""
        if i in self.never:
            return
        reach = self.reach
        if i not in reach.fired:
            reach.fired.add(i)
            raised = self.index.raises.get(i)
            if raised:
                reach.raised.update(raised)
        fields = self.index.definition.transitions[i].__dict__  # faster than attributes
        dest = fields["dest"]
        if dest is not None:
            self.enter(dest, self.domain(source, dest, fields["internal"]))

    # ------------------------------------------------------------------ the fixpoint
    def settle(self) -> bool:
        """Follow what only a larger reached set enables (shallow history memory, done
        events); whether anything new was queued."""
        progress = False
        states, reach = self.states, self.reach
        for name in reach.histories:
            history = states[name]
            parent = states[history.parent]
            if history.deep or parent.kind == "parallel":
                continue  # deep memory restores leaves that were active already
            for child in parent.children:
                if child in reach.active and child not in self.defaulted:
                    self.entries.append((_DEFAULT, child, ""))
                    progress = True
        for (i, source), done_of in list(self.waiting.items()):
            if DONE_PREFIX + done_of in reach.raised or reach.completes(self.index, done_of):
                del self.waiting[(i, source)]
                self.take(i, source)
                progress = True
        return progress


def transition_domain(
    states: dict[str, StateNode], source: str, target: str, internal: bool
) -> str:
    """The transition's domain (``engine.microstep.transition_domain``), a history target
    taken as the state it is: its parent's domain holds whatever the history enters."""
    source_above = states[source].ancestors
    if not source_above and not internal:
        return ROOT  # from a top-level state (most transitions of most machines)
    target_above = states[target].ancestors
    compound = ("compound", "region")
    if internal and source in target_above and states[source].kind in compound:
        return source
    above = frozenset(target_above) if len(target_above) > 16 else target_above
    for ancestor in source_above:
        if states[ancestor].kind in compound and ancestor in above:
            return ancestor
    return ROOT


def entered_leaves(states: dict[str, StateNode], target: str, domain: str) -> set[str] | None:
    """The leaves a transition into ``target`` with domain ``domain`` enters: ``target``'s
    default entry, and the default entry of the other regions of each parallel state it enters
    on the way down. ``None`` when a history state is entered on the way: what it restores
    depends on its memory."""
    todo = [target]
    on_path = target
    for above in states[target].ancestors:
        if above == domain:
            break
        if states[above].kind == "parallel":
            todo.extend(r for r in states[above].children if r != on_path)
        on_path = above
    leaves: set[str] = set()
    while todo:
        node = states[todo.pop()]
        if node.kind == "history":
            return None
        if node.kind == "parallel":
            todo.extend(node.children)
        elif node.children:
            if node.initial_child is None:
                return None
            todo.append(node.initial_child)
        else:
            leaves.add(node.name)
    return leaves


def reachability(index: MachineIndex, never: Collection[int] = ()) -> Reachability:
    """Everything an entity of ``index``'s machine can reach from its initial configuration
    (see the module docstring); ``never``: indexes of transitions that are never selected
    (``rules.shadowed``), which lead nowhere."""
    walk = _Walk(index, never)
    walk.enter(index.initial_top, ROOT)
    while True:
        walk.run_entries()
        if walk.unscanned:
            walk.scan(walk.unscanned.pop())
        elif not walk.settle():
            return walk.reach
