"""Deep definitions: nothing that loads, checks, compiles, draws, writes back or runs a machine
recurses on its depth, and past the documented limits a definition is refused with one
``ConfigurationError`` naming the path.

Each deep operation runs under ``shallow_stack``: Python may recurse only ``FRAMES`` levels
deeper than the test itself, far less than the depth of the machine, so any recursion on the
depth fails the test with ``RecursionError``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from pystator import ConfigurationError, MachineDefinition, StateMachine
from pystator.diagram import render
from pystator.models.checks import MAX_REGION_NESTING, MAX_STATE_DEPTH
from pystator.models.data import MAX_DATA_DEPTH
from pystator.models.definition import RegionDefinition, StateDefinition

FRAMES = 150
"""Frames a deep operation may add to the stack: enough for the libraries it calls, far less
than any depth tested."""


@contextmanager
def shallow_stack(frames: int = FRAMES) -> Iterator[None]:
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back  # type: ignore[assignment]
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def chain(levels: int, *, reverse: bool = False) -> dict[str, Any]:
    """``IDLE`` and a chain ``S0 > S1 > ... > S<levels-1>`` (``S0`` top-level, so the leaf is
    ``levels`` levels deep), with a deep history state, entry and exit actions at both ends,
    and transitions into, out of and inside the chain."""
    leaf = f"S{levels - 1}"
    states: list[dict[str, Any]] = [{"name": "IDLE", "type": "initial"}]
    states.append({"name": "S0", "on_enter": ["enter_top"], "on_exit": ["exit_top"]})
    states += [{"name": f"S{i}", "parent": f"S{i - 1}"} for i in range(1, levels)]
    states[-1] = {**states[-1], "on_enter": ["enter_leaf"], "on_exit": ["exit_leaf"]}
    states.append({"name": "H", "type": "history", "history": "deep", "parent": "S0"})
    states.append({"name": "DONE", "type": "terminal"})
    if reverse:
        states.reverse()
    return {
        "meta": {"machine_name": "deep"},
        "states": states,
        "transitions": [
            {"trigger": "dive", "source": "IDLE", "dest": leaf},
            {"trigger": "surface", "source": leaf, "dest": "IDLE"},
            {"trigger": "back", "source": "IDLE", "dest": "H"},
            {"trigger": "hop", "source": leaf, "dest": f"S{levels // 2}"},
            {"trigger": "finish", "source": "S0", "dest": "DONE"},
        ],
    }


def nested_parallel(levels: int) -> dict[str, Any]:
    """Parallel states written inside regions ``levels`` deep, each with a second region."""
    inner: dict[str, Any] = {
        "name": f"L{levels}",
        "type": "parallel",
        "regions": [{"name": f"Q{levels}", "states": ["X", "Y"]}],
    }
    for i in range(levels - 1, -1, -1):
        inner = {
            "name": f"P{i}",
            "type": "parallel",
            "regions": [
                {"name": f"R{i}", "states": [inner]},
                {"name": f"K{i}", "states": [f"K{i}a", f"K{i}b"]},
            ],
        }
    return {
        "meta": {"machine_name": "nested"},
        "states": [{"name": "IDLE", "type": "initial"}, inner],
        "transitions": [
            {"trigger": "start", "source": "IDLE", "dest": "P0"},
            {"trigger": "flip", "source": "X", "dest": "Y"},
            {"trigger": "stop", "source": "P0", "dest": "IDLE"},
        ],
    }


def deep_data(levels: int) -> Any:
    """Lists nested ``levels`` deep: ``[[1]]`` for 2."""
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def one_issue(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigurationError) as info, shallow_stack():
        StateMachine.from_dict(data)
    issues = [str(issue) for issue in info.value.issues]
    assert len(issues) == 1, issues[:3]
    return issues[0]


TOO_DEEP = (
    f"states[{MAX_STATE_DEPTH + 1}].parent: 'S{MAX_STATE_DEPTH}' is nested "
    f"{MAX_STATE_DEPTH + 1} levels deep: a state may be nested at most {MAX_STATE_DEPTH} "
    "levels (parents and regions count)"
)


@pytest.fixture(scope="module")
def deepest() -> StateMachine:
    """A chain exactly as deep as the limit allows (1,000 levels)."""
    with shallow_stack():
        machine = StateMachine.from_dict(chain(MAX_STATE_DEPTH))
    for name in ("enter_top", "exit_top", "enter_leaf", "exit_leaf"):
        machine.action_registry.register(name, lambda ctx, **params: None)
    return machine


class TestAtTheLimit:
    def test_the_limit_is_a_thousand_levels(self) -> None:
        assert MAX_STATE_DEPTH == 1000

    def test_it_loads_from_every_format(self, deepest: StateMachine) -> None:
        with shallow_stack():
            assert StateMachine.from_json_string(deepest.to_json()).definition == (
                deepest.definition
            )
            assert StateMachine.from_yaml_string(deepest.to_yaml()).definition == (
                deepest.definition
            )
            assert StateMachine.from_dict(deepest.to_dict()).definition == deepest.definition
            assert StateMachine.from_definition(deepest.definition).states == deepest.states

    def test_entering_the_deepest_leaf(self, deepest: StateMachine) -> None:
        leaf = f"S{MAX_STATE_DEPTH - 1}"
        with shallow_stack():
            result = deepest.process("IDLE", "dive")
        assert result.success
        assert result.target_state == leaf
        assert result.entered_states == tuple(f"S{i}" for i in range(MAX_STATE_DEPTH))
        assert result.on_enter_actions[0].name == "enter_top"
        assert result.on_enter_actions[-1].name == "enter_leaf"

    def test_leaving_it_exits_innermost_first(self, deepest: StateMachine) -> None:
        leaf = f"S{MAX_STATE_DEPTH - 1}"
        with shallow_stack():
            result = deepest.process(leaf, "surface")
        assert result.target_state == "IDLE"
        assert result.exited_states == tuple(f"S{i}" for i in reversed(range(MAX_STATE_DEPTH)))
        assert [a.name for a in result.on_exit_actions] == ["exit_leaf", "exit_top"]

    def test_a_transition_inside_the_chain(self, deepest: StateMachine) -> None:
        leaf = f"S{MAX_STATE_DEPTH - 1}"
        half = MAX_STATE_DEPTH // 2
        with shallow_stack():
            result = deepest.process(leaf, "hop")
        # External transition to an ancestor: out to it and back down by initial children.
        assert result.target_state == leaf
        assert result.exited_states[-1] == f"S{half}"
        assert result.entered_states[0] == f"S{half}"
        assert len(result.entered_states) == MAX_STATE_DEPTH - half

    def test_an_ancestors_transition_applies_to_the_deepest_leaf(
        self, deepest: StateMachine
    ) -> None:
        with shallow_stack():
            result = deepest.process(f"S{MAX_STATE_DEPTH - 1}", "finish")
        assert result.target_state == "DONE"
        assert len(result.exited_states) == MAX_STATE_DEPTH

    def test_deep_history_restores_the_deepest_leaf(self, deepest: StateMachine) -> None:
        leaf = f"S{MAX_STATE_DEPTH - 1}"
        with shallow_stack():
            session = deepest.create(initial_state="IDLE")
            session.send("dive")
            session.send("surface")
            session.send("back")
            assert session.current_state == leaf
            assert session.is_in("S0")
            assert deepest.get_initial_state() == "IDLE"
            assert deepest.get_available_transitions(leaf)

    def test_starting_inside_it(self, deepest: StateMachine) -> None:
        with shallow_stack():
            assert deepest.create(initial_state="S0").current_state == f"S{MAX_STATE_DEPTH - 1}"

    @pytest.mark.parametrize("fmt", ["mermaid", "dot"])
    def test_diagrams(self, deepest: StateMachine, fmt: Any) -> None:
        with shallow_stack():
            text = render(deepest.definition, fmt)
        lines = text.splitlines()
        assert sum(f"S{MAX_STATE_DEPTH - 1}" in line for line in lines) >= 2
        # Indentation stops growing: the text grows with the states, not their square.
        assert max(len(line) - len(line.lstrip()) for line in lines) <= 4 * 17
        assert len(text) < 1000 * MAX_STATE_DEPTH

    def test_reversed_document_order_loads_too(self) -> None:
        with shallow_stack():
            machine = StateMachine.from_dict(chain(MAX_STATE_DEPTH, reverse=True))
        assert machine.process("IDLE", "dive").target_state == f"S{MAX_STATE_DEPTH - 1}"


class TestPastTheLimit:
    @pytest.mark.parametrize("levels", [MAX_STATE_DEPTH + 1, 5000])
    def test_one_issue_where_the_chain_passes_the_limit(self, levels: int) -> None:
        # ``states[0]`` is IDLE, so S<k> is states[k + 1].
        assert one_issue(chain(levels)) == TOO_DEEP

    def test_in_reverse_document_order(self) -> None:
        issue = one_issue(chain(5000, reverse=True))
        assert issue.endswith(TOO_DEEP.split(": ", 1)[1])
        assert f"'S{MAX_STATE_DEPTH}'" in issue

    def test_from_json_and_yaml_text_with_lines(self) -> None:
        data = chain(5000)
        with shallow_stack(), pytest.raises(ConfigurationError) as info:
            StateMachine.from_json_string(json.dumps(data))
        assert [str(i) for i in info.value.issues] == [TOO_DEEP]
        yaml_text = "\n".join(
            ["meta: {machine_name: deep}", "states:"]
            + [f"  - {json.dumps(s)}" for s in data["states"]]
        )
        with shallow_stack(), pytest.raises(ConfigurationError) as info:
            StateMachine.from_yaml_string(yaml_text)
        # states[1001] is on line 1004 (two header lines, "states:" and 1-based lines).
        assert [str(i) for i in info.value.issues] == [f"{TOO_DEEP} (line 1004)"]

    def test_a_long_parent_cycle_is_reported_without_recursion(self) -> None:
        states = [{"name": "TOP"}] + [
            {"name": f"C{i}", "parent": f"C{(i + 1) % 5000}"} for i in range(5000)
        ]
        with pytest.raises(ConfigurationError) as info, shallow_stack():
            StateMachine.from_dict({"meta": {"machine_name": "m"}, "states": states})
        assert len(info.value.issues) == 5000
        assert str(info.value.issues[0]) == "states[1].parent: parent chain of 'C0' loops"

    def test_a_chain_hanging_from_a_cycle(self) -> None:
        states = [{"name": "TOP"}, {"name": "A", "parent": "B"}, {"name": "B", "parent": "A"}]
        states += [{"name": f"D{i}", "parent": f"D{i - 1}" if i else "A"} for i in range(3000)]
        with pytest.raises(ConfigurationError) as info, shallow_stack():
            StateMachine.from_dict({"meta": {"machine_name": "m"}, "states": states})
        assert len(info.value.issues) == 3002
        assert all(i.message.endswith("loops") for i in info.value.issues)


class TestRegions:
    def test_the_deepest_nesting_allowed_runs(self) -> None:
        assert MAX_REGION_NESTING == 10
        with shallow_stack():
            machine = StateMachine.from_dict(nested_parallel(MAX_REGION_NESTING - 1))
            result = machine.process("IDLE", "start")
            config = result.target_state
            assert config is not None
            assert config.count("(") == MAX_REGION_NESTING
            flipped = machine.process(config, "flip")
            assert flipped.success
            assert flipped.target_state is not None
            assert flipped.target_state == config.replace("Q9=X", "Q9=Y")
            assert machine.process(flipped.target_state, "stop").target_state == "IDLE"
            for fmt in ("mermaid", "dot"):
                assert "L9" in render(machine.definition, fmt)

    @pytest.mark.parametrize("levels", [MAX_REGION_NESTING, 300, 3000])
    def test_deeper_is_refused_where_it_passes_the_limit(self, levels: int) -> None:
        # 300 and more are past Pydantic's own depth limit too: the message is the same.
        issue = one_issue(nested_parallel(levels))
        path, message = issue.split(": ", 1)
        assert path == "states[1]" + ".regions[0].states[0]" * MAX_REGION_NESTING + (".regions[0]")
        assert message.startswith(f"regions nested more than {MAX_REGION_NESTING} deep")

    def test_models_built_in_python_are_checked_too(self) -> None:
        """Pydantic bounds the nesting of data it validates, but models built one inside the
        other in Python are taken as they are: the checks must not recurse on them."""
        state = StateDefinition(name="LEAF")
        for i in range(2000):
            region = RegionDefinition(name=f"R{i}", states=(state,))
            state = StateDefinition(name=f"P{i}", type="parallel", regions=(region,))
        with pytest.raises(ConfigurationError) as info, shallow_stack():
            MachineDefinition(meta={"machine_name": "m"}, states=(state,))  # type: ignore[arg-type]
        messages = [i.message for i in info.value.issues]
        assert any(m.startswith("regions nested more than") for m in messages), messages[:3]

    def test_a_definition_at_every_limit_round_trips_through_every_format(self) -> None:
        data = nested_parallel(MAX_REGION_NESTING - 1)
        innermost = data["states"][1]
        for _ in range(MAX_REGION_NESTING - 1):
            innermost = innermost["regions"][0]["states"][0]
        innermost["on_enter"] = [{"name": "a", "params": {"d": deep_data(MAX_DATA_DEPTH - 1)}}]
        innermost["metadata"] = {"deep": deep_data(MAX_DATA_DEPTH - 1)}
        # PyYAML's writer recurses once or more per level of the document (about three frames
        # a level): bounded by the limits, about 80 levels here, never by the machine.
        with shallow_stack(400):
            machine = StateMachine.from_dict(data)
            for again in (
                StateMachine.from_yaml_string(machine.to_yaml()),
                StateMachine.from_json_string(machine.to_json()),
                StateMachine.from_dict(machine.to_dict()),
            ):
                assert again.definition == machine.definition


class TestDeepData:
    @pytest.mark.parametrize("where", ["metadata", "params"])
    def test_data_past_the_limit_is_refused_with_its_path(self, where: str) -> None:
        state: dict[str, Any] = {"name": "A"}
        if where == "metadata":
            state["metadata"] = {"x": deep_data(MAX_DATA_DEPTH)}
            path = "states[0].metadata"
        else:
            state["on_enter"] = [{"name": "a", "params": {"x": deep_data(MAX_DATA_DEPTH)}}]
            path = "states[0].on_enter[0].params"
        issue = one_issue({"meta": {"machine_name": "m"}, "states": [state]})
        assert issue == f"{path}: nested more than {MAX_DATA_DEPTH} levels deep"

    def test_data_at_the_limit_is_kept(self) -> None:
        data = {"x": deep_data(MAX_DATA_DEPTH - 1)}
        machine = StateMachine.from_dict(
            {"meta": {"machine_name": "m"}, "states": [{"name": "A", "metadata": data}]}
        )
        assert machine.definition.states[0].metadata == data

    @pytest.mark.parametrize("field", ["default", "enum"])
    def test_context_defaults_and_enums_are_bounded(self, field: str) -> None:
        value = deep_data(5000)
        spec = {"default": value} if field == "default" else {"enum": [value]}
        data = {
            "meta": {"machine_name": "m"},
            "states": [{"name": "A"}],
            "context": {"fields": {"x": spec}},
        }
        issue = one_issue(data)
        assert issue == f"context.fields.x.{field}: nested more than {MAX_DATA_DEPTH} levels deep"

    @pytest.mark.parametrize("as_bytes", [False, True])
    def test_deep_json_text_is_refused_before_parsing(self, as_bytes: bool) -> None:
        text = (
            '{"meta": {"machine_name": "m"},\n"states": [{"name": "A", "metadata": {"x": '
            + "[" * 100_000
            + "]" * 100_000
            + "}}]}"
        )
        with pytest.raises(ConfigurationError) as info, shallow_stack():
            StateMachine.from_json_string(text.encode() if as_bytes else text)
        assert [str(i) for i in info.value.issues] == [
            "line 2: JSON nested too deeply (more than 100 levels)"
        ]

    def test_brackets_inside_strings_do_not_count(self) -> None:
        text = json.dumps(
            {"meta": {"machine_name": "m"}, "states": [{"name": "A", "description": "[" * 500}]}
        )
        assert StateMachine.from_json_string(text).definition.states[0].description == "[" * 500
