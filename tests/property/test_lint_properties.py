"""The lint never claims what the engine disproves: on generated statecharts (parallel states,
history, eventless, done and raised events) driven by random events, no state it calls
unreachable is ever entered, no dead end is ever left, no shadowed transition is ever taken,
no dead trigger ever moves the entity, no done event it says is never raised is ever raised,
and the machine never waits for an event in a state it says an eventless transition takes
away at once."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pystator import LoopLimitError, StateMachine, TransitionResult
from pystator.engine import configuration
from pystator.models.tree import flatten
from pystator.runtime.lint import lint_definition, reachability
from pystator.runtime.lint.rules import shadowed
from pystator.runtime.lint.settle import taken_away, unsettled

from .strategies import bind as bind_flat
from .strategies import machines
from .test_scxml_reference import TRIGGERS, bind, statecharts


class Claims:
    """What the lint says about one machine, by state and trigger name."""

    def __init__(self, machine: StateMachine) -> None:
        index = machine.index
        self.index = index
        self.away = unsettled(index)
        beaten = shadowed(index)
        reach = reachability(index, never=beaten)
        self.reachable = reach.active
        self.fired = reach.fired
        self.shadowed = set(beaten)
        # The generated charts name each transition's one action after its index ("t3"):
        # a run shows which transitions were taken.
        self.taken_by: dict[str, int] = {
            f"t{i}": i for i, t in enumerate(machine.definition.transitions) if t.actions
        }
        names = {node.path: node.name for node in flatten(machine.definition.states)}
        transitions = machine.definition.transitions
        self.dead_ends: set[str] = set()
        self.dead_triggers: set[str] = set()
        self.never_raised: set[str] = set()
        for found in lint_definition(machine.definition, index=index):
            if found.code == "dead-end-state":
                self.dead_ends.add(names[found.path])
            elif found.code in ("dead-trigger", "never-done"):
                trigger = transitions[int(found.path.split("[")[1].split("]")[0])].trigger
                assert trigger is not None
                target = self.dead_triggers if found.code == "dead-trigger" else self.never_raised
                target.add(trigger)

    def broken_by(self, result: TransitionResult, trigger: str | None) -> list[str]:
        problems = [
            f"entered {name}, which the lint finds unreachable"
            for name in result.entered_states
            if name not in self.reachable
        ]
        problems += [
            f"left {name}, which the lint calls a dead end"
            for name in result.exited_states
            if name in self.dead_ends and name not in result.entered_states
        ]
        problems += [
            f"raised {event}, which the lint says is never raised"
            for event in result.internal_events
            if event in self.never_raised
        ]
        for action in result.all_actions:
            i = self.taken_by.get(action, -1)
            if i in self.shadowed:
                problems.append(f"took transitions[{i}], which the lint finds shadowed")
            elif i >= 0 and i not in self.fired:
                problems.append(f"took transitions[{i}], which the reachability never fires")
        if result.success and result.target_state:
            problems += [
                f"waits in {name}, which the lint says an eventless transition takes away"
                for name in configuration(self.index, result.target_state).active
                if taken_away(self.away, self.index.states[name]) is not None
            ]
        moved = result.success and "reason" not in result.metadata
        if trigger in self.dead_triggers and moved:
            problems.append(f"{trigger} fired, which the lint says can never fire")
        return problems


def run(machine: StateMachine, data: dict[str, Any], length: int, draws: st.DataObject) -> None:
    """Send up to ``length`` random events (mostly ones the state offers) and check every
    result against what the lint claims."""
    claims = Claims(machine)
    try:
        started = machine.start({"flag": False})
    except LoopLimitError:
        assume(False)
        return
    problems = claims.broken_by(started, None)
    triggers = sorted(machine.index.triggers) or list(TRIGGERS)
    assert started.target_state is not None
    state, memory = started.target_state, started.history
    sent: list[str] = []
    for _ in range(length):
        offered = sorted(machine.get_triggers(state))
        pool = offered if offered and draws.draw(st.integers(0, 3), label="offered?") else triggers
        trigger = draws.draw(st.sampled_from(list(pool)), label="event")
        flag = draws.draw(st.booleans(), label="flag")
        sent.append(trigger)
        result = machine.process(state, trigger, {"flag": flag}, history=memory)
        problems += claims.broken_by(result, trigger)
        if result.success and result.target_state is not None:
            state = result.target_state
            if result.history is not None:
                memory = result.history
    assert not problems, "\n".join([yaml.safe_dump(data, sort_keys=False), str(sent), *problems])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=statecharts(), length=st.integers(1, 12), draws=st.data())
def test_statecharts_never_contradict_the_lint(
    data: dict[str, Any], length: int, draws: st.DataObject
) -> None:
    run(bind(StateMachine.from_dict(data)), data, length, draws)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=machines(), length=st.integers(1, 12), draws=st.data())
def test_machines_with_wildcards_and_priorities_never_contradict_the_lint(
    data: dict[str, Any], length: int, draws: st.DataObject
) -> None:
    run(bind_flat(StateMachine.from_dict(data)), data, length, draws)
