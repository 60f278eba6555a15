"""Properties of the engine over random machines and random event scripts."""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pystator import StateMachine, TransitionResult
from tests.property.strategies import bind, contexts, events, machines

SETTINGS = settings(max_examples=60, deadline=None)


def run_script(
    machine: StateMachine, script: list[str], context: dict[str, Any]
) -> tuple[list[TransitionResult], list[str]]:
    """Process every event from the initial state; return results and the states visited."""
    state = machine.get_initial_state()
    results: list[TransitionResult] = []
    visited = [state]
    for trigger in script:
        result = machine.process(state, trigger, context)
        results.append(result)
        if result.success:
            assert result.target_state is not None
            state = result.target_state
        visited.append(state)
    return results, visited


def leaves(machine: StateMachine) -> set[str]:
    parents = {s.parent for s in machine.definition.states}
    return {s.name for s in machine.definition.states if s.name not in parents}


@SETTINGS
@given(data=machines(), script=events, context=contexts)
def test_same_inputs_give_equal_results(
    data: dict[str, Any], script: list[str], context: dict[str, Any]
) -> None:
    first = bind(StateMachine.from_dict(data))
    second = bind(StateMachine.from_dict(copy.deepcopy(data)))
    assert run_script(first, script, context) == run_script(second, script, context)
    # The same machine asked twice (its cached results included) agrees with itself too.
    assert run_script(first, script, context) == run_script(first, script, context)


@SETTINGS
@given(data=machines(), script=events, context=contexts)
def test_the_callers_context_is_unchanged(
    data: dict[str, Any], script: list[str], context: dict[str, Any]
) -> None:
    before = copy.deepcopy(context)
    machine = bind(StateMachine.from_dict(data))
    run_script(machine, script, context)
    assert context == before


@SETTINGS
@given(data=machines(), script=events, context=contexts)
def test_every_reached_state_is_a_defined_leaf(
    data: dict[str, Any], script: list[str], context: dict[str, Any]
) -> None:
    machine = bind(StateMachine.from_dict(data))
    legal = leaves(machine)
    results, visited = run_script(machine, script, context)
    assert set(visited) <= legal
    for result in results:
        if result.success:
            assert result.target_state in legal
            assert result.error is None
        else:
            assert result.target_state is None
            assert result.error is not None
            assert result.metadata["reason"] in {
                "guard_rejected",
                "undefined_trigger",
                "invalid_transition",
                "terminal_state",
            }


@SETTINGS
@given(data=machines(), script=events, context=contexts)
def test_terminal_states_are_never_left(
    data: dict[str, Any], script: list[str], context: dict[str, Any]
) -> None:
    machine = bind(StateMachine.from_dict(data))
    results, visited = run_script(machine, script, context)
    for state, result in zip(visited[:-1], results, strict=True):
        if machine.is_terminal(state):
            assert not result.success
            assert result.metadata["reason"] == "terminal_state"


@SETTINGS
@given(data=machines(), script=events, context=contexts)
def test_results_are_consistent_with_the_definition(
    data: dict[str, Any], script: list[str], context: dict[str, Any]
) -> None:
    machine = bind(StateMachine.from_dict(data))
    by_name = {s.name: s for s in machine.definition.states}

    def specs(refs: Any) -> list[str]:
        return [r if isinstance(r, str) else r.name for r in refs]

    results, visited = run_script(machine, script, context)
    for state, result in zip(visited[:-1], results, strict=True):
        assert result.source_state == state
        if not result.success:
            assert result.all_actions == ()
            continue
        exited, entered = result.exited_states, result.entered_states
        if exited:
            assert exited[0] == state
            # Innermost first: each exited state is the parent of the one before.
            for inner, outer in itertools.pairwise(exited):
                assert by_name[inner].parent == outer
        if entered:
            assert entered[-1] == result.target_state
            for outer, inner in itertools.pairwise(entered):
                assert by_name[inner].parent == outer
        expected_exit = [a for name in exited for a in specs(by_name[name].on_exit)]
        expected_enter = [a for name in entered for a in specs(by_name[name].on_enter)]
        assert [a.name for a in result.on_exit_actions] == expected_exit
        assert [a.name for a in result.on_enter_actions] == expected_enter
        assert result.all_actions == (
            *expected_exit,
            *(a.name for a in result.actions_to_execute),
            *expected_enter,
        )
        assert result.state_changed == (result.target_state != state)


@SETTINGS
@given(data=machines(), script=events, context=contexts)
def test_results_survive_json(
    data: dict[str, Any], script: list[str], context: dict[str, Any]
) -> None:
    machine = bind(StateMachine.from_dict(data))
    results, _ = run_script(machine, script, context)
    for result in results:
        text = result.model_dump_json()
        assert json.loads(text)["success"] is result.success
        assert TransitionResult.model_validate_json(text) == result


@settings(max_examples=30, deadline=None)
@given(data=machines(), script=events, context=contexts)
def test_aprocess_agrees_with_process(
    data: dict[str, Any], script: list[str], context: dict[str, Any]
) -> None:
    machine = bind(StateMachine.from_dict(data))
    expected, _ = run_script(machine, script, context)

    async def run() -> list[TransitionResult]:
        state = machine.get_initial_state()
        out: list[TransitionResult] = []
        for trigger in script:
            result = await machine.aprocess(state, trigger, context)
            out.append(result)
            if result.success:
                state = result.target_state or state
        return out

    assert asyncio.run(run()) == expected


@settings(max_examples=30, deadline=None)
@given(data=machines(), script=events, flag=st.booleans())
def test_a_session_follows_process(data: dict[str, Any], script: list[str], flag: bool) -> None:
    machine = bind(StateMachine.from_dict(data))
    expected, visited = run_script(machine, script, {"flag": flag})
    session = machine.create(context={"flag": flag})
    for trigger, result in zip(script, expected, strict=True):
        assert session.send(trigger, execute_actions=False) == result
    assert session.current_state == visited[-1]
    assert session.is_final == machine.is_terminal(visited[-1])
