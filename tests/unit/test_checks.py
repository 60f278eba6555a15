"""Cross-reference checks: every problem reported at once, each with its path."""

from __future__ import annotations

from typing import Any

import pytest

from pystator import ConfigIssue, ConfigurationError, MachineDefinition, StateMachine
from tests.unit.conftest import definition


def issues_of(data: dict[str, Any]) -> list[str]:
    """Every issue of ``data`` as ``"path: message"``, in the order reported."""
    with pytest.raises(ConfigurationError) as info:
        StateMachine.from_dict(data)
    assert info.value.code == "CONFIG"
    return [str(issue) for issue in info.value.issues]


def one_issue(data: dict[str, Any]) -> str:
    found = issues_of(data)
    assert len(found) == 1, found
    return found[0]


STATES = [
    {"name": "PENDING", "type": "initial"},
    {"name": "OPEN"},
    {"name": "FILLED", "type": "terminal"},
]


class TestUndefinedNames:
    def test_misspelled_dest_gets_path_and_suggestion(self) -> None:
        data = definition(
            STATES,
            [
                {"trigger": "a", "source": "PENDING", "dest": "OPEN"},
                {"trigger": "b", "source": "PENDING", "dest": "OPEN"},
                {"trigger": "c", "source": "PENDING", "dest": "OPEN"},
                {"trigger": "d", "source": "PENDING", "dest": "OPNE"},
            ],
        )
        assert one_issue(data) == (
            "transitions[3].dest: state 'OPNE' is not defined; did you mean 'OPEN'?"
        )

    def test_no_suggestion_when_nothing_is_close(self) -> None:
        data = definition(STATES, [{"trigger": "a", "source": "PENDING", "dest": "XYZZY"}])
        assert one_issue(data) == "transitions[0].dest: state 'XYZZY' is not defined"

    def test_case_only_difference_is_suggested(self) -> None:
        data = definition(STATES, [{"trigger": "a", "source": "PENDING", "dest": "open"}])
        assert one_issue(data).endswith("did you mean 'OPEN'?")

    def test_undefined_source_in_a_list_has_its_index(self) -> None:
        data = definition(
            STATES, [{"trigger": "a", "source": ["PENDING", "PENDNG"], "dest": "OPEN"}]
        )
        assert one_issue(data) == (
            "transitions[0].source[1]: state 'PENDNG' is not defined; did you mean 'PENDING'?"
        )

    def test_undefined_single_source(self) -> None:
        data = definition(STATES, [{"trigger": "a", "source": "NOPE", "dest": "OPEN"}])
        assert one_issue(data).startswith("transitions[0].source: state 'NOPE' is not defined")

    def test_undefined_parent(self) -> None:
        data = definition([*STATES, {"name": "WORKING", "parent": "OPNE"}])
        assert one_issue(data) == (
            "states[3].parent: state 'OPNE' is not defined; did you mean 'OPEN'?"
        )


class TestAllAtOnce:
    def test_every_problem_is_reported_in_one_error(self) -> None:
        data = definition(
            [
                {"name": "PENDING", "type": "initial"},
                {"name": "OPEN"},
                {"name": "OPEN"},
                {"name": "WORK", "parent": "OPNE"},
                {"name": "DONE", "type": "terminal"},
            ],
            [
                {"trigger": "a", "source": "PENDING", "dest": "OPNE"},
                {"trigger": "b", "source": "DONE", "dest": "OPEN"},
                {"trigger": "c", "source": ["PENDING", "PENDING"], "dest": "OPEN"},
            ],
        )
        found = issues_of(data)
        assert found == [
            "states[2].name: state 'OPEN' is defined twice",
            "states[3].parent: state 'OPNE' is not defined; did you mean 'OPEN'?",
            "transitions[0].dest: state 'OPNE' is not defined; did you mean 'OPEN'?",
            "transitions[1].source: 'DONE' is terminal: no transition can leave it",
            "transitions[2].source: lists the same state twice",
        ]

    def test_field_errors_and_reference_errors_together(self) -> None:
        data = definition(
            [{"name": "A", "type": "initial"}, {"name": "bad-name"}],
            [
                {"trigger": "go", "source": "A", "dest": "B"},
                {"trigger": "go", "source": "A", "dest": "A", "bogus": 1},
            ],
        )
        found = issues_of(data)
        assert (
            "states[1].name: 'bad-name' is not a valid name: use letters, digits and '_', "
            "starting with a letter" in found
        )
        assert "transitions[1].bogus: unknown key (check its spelling and its indentation)" in found
        assert "transitions[0].dest: state 'B' is not defined" in found

    def test_reference_to_a_state_with_field_errors_is_not_reported_twice(self) -> None:
        data = definition(
            [{"name": "A", "type": "initial"}, {"name": "B", "type": "bogus"}],
            [{"trigger": "go", "source": "A", "dest": "B"}],
        )
        found = issues_of(data)
        assert len(found) == 1
        assert found[0].startswith("states[1].type:")

    def test_message_counts_the_problems(self) -> None:
        data = definition(
            [{"name": "A"}],
            [{"trigger": "x", "source": "B", "dest": "C"}],
        )
        with pytest.raises(ConfigurationError) as info:
            StateMachine.from_dict(data)
        text = str(info.value)
        assert text.startswith("invalid machine definition (2 problems):")
        assert "  - transitions[0].source: state 'B' is not defined" in text
        assert "  - transitions[0].dest: state 'C' is not defined" in text
        assert info.value.to_dict()["issues"] == [
            {"path": "transitions[0].source", "message": "state 'B' is not defined"},
            {"path": "transitions[0].dest", "message": "state 'C' is not defined"},
        ]
        assert all(isinstance(i, ConfigIssue) for i in info.value.issues)


class TestStates:
    def test_duplicate_state(self) -> None:
        data = definition([{"name": "A"}, {"name": "B"}, {"name": "A"}])
        assert one_issue(data) == "states[2].name: state 'A' is defined twice"

    def test_own_parent(self) -> None:
        data = definition([{"name": "A"}, {"name": "B", "parent": "B"}])
        assert one_issue(data) == "states[1].parent: a state cannot be its own parent"

    def test_parent_cycle(self) -> None:
        data = definition(
            [
                {"name": "TOP"},
                {"name": "A", "parent": "B"},
                {"name": "B", "parent": "C"},
                {"name": "C", "parent": "A"},
            ]
        )
        found = issues_of(data)
        assert found == [
            "states[1].parent: parent chain of 'A' loops",
            "states[2].parent: parent chain of 'B' loops",
            "states[3].parent: parent chain of 'C' loops",
        ]

    def test_no_states(self) -> None:
        assert issues_of(definition([])) == [
            "states: Tuple should have at least 1 item after validation, not 0"
        ]

    def test_only_state_invalid_is_not_also_a_missing_top_level(self) -> None:
        assert issues_of(definition([{"name": 1}])) == [
            "states[0].name: Input should be a valid string"
        ]

    def test_every_state_nested_means_no_top_level(self) -> None:
        data = definition([{"name": "A", "parent": "B"}, {"name": "B", "parent": "A"}])
        found = issues_of(data)
        assert "states: no top-level state (every state has a parent)" in found

    def test_terminal_parent(self) -> None:
        data = definition(
            [{"name": "A"}, {"name": "T", "type": "terminal"}, {"name": "K", "parent": "T"}]
        )
        assert one_issue(data) == "states[2].parent: 'T' is terminal and cannot contain states"

    def test_two_top_level_initial_states(self) -> None:
        data = definition([{"name": "A", "type": "initial"}, {"name": "B", "type": "initial"}])
        assert one_issue(data) == ("states: more than one top-level state has type 'initial': A, B")

    def test_two_initial_children(self) -> None:
        data = definition(
            [
                {"name": "P"},
                {"name": "A", "parent": "P", "type": "initial"},
                {"name": "B", "parent": "P", "type": "initial"},
            ]
        )
        assert one_issue(data) == "states[0]: more than one child of 'P' has type 'initial': A, B"

    def test_initial_child_undefined(self) -> None:
        data = definition([{"name": "P", "initial_child": "KID"}, {"name": "KIDS", "parent": "P"}])
        assert one_issue(data) == (
            "states[0].initial_child: state 'KID' is not defined; did you mean 'KIDS'?"
        )

    def test_initial_child_not_a_child(self) -> None:
        data = definition(
            [{"name": "P", "initial_child": "Q"}, {"name": "A", "parent": "P"}, {"name": "Q"}]
        )
        assert one_issue(data) == "states[0].initial_child: 'Q' is not a child of 'P'"

    def test_initial_child_of_a_leaf(self) -> None:
        data = definition([{"name": "P", "initial_child": "Q"}, {"name": "Q"}])
        assert one_issue(data) == "states[0].initial_child: 'Q' is not a child of 'P'"

    def test_initial_child_conflicts_with_typed_initial(self) -> None:
        data = definition(
            [
                {"name": "P", "initial_child": "A"},
                {"name": "A", "parent": "P"},
                {"name": "B", "parent": "P", "type": "initial"},
            ]
        )
        assert one_issue(data) == (
            "states[0].initial_child: conflicts with child 'B' of type 'initial'"
        )

    def test_grandchild_is_not_an_initial_child(self) -> None:
        data = definition(
            [
                {"name": "P", "initial_child": "G"},
                {"name": "C", "parent": "P"},
                {"name": "G", "parent": "C"},
            ]
        )
        assert one_issue(data) == "states[0].initial_child: 'G' is not a child of 'P'"


class TestTransitions:
    def test_inside_checks_in_a_deep_tree(self) -> None:
        """ "Inside" is answered from a numbering of the tree, not by walking up: right for
        descendants, siblings' subtrees, ancestors and states beside a parent cycle."""
        chain = [{"name": "S0"}] + [{"name": f"S{i}", "parent": f"S{i - 1}"} for i in range(1, 900)]
        side = [{"name": "B", "parent": "S10"}, {"name": "B1", "parent": "B"}]
        loop = [{"name": "L1", "parent": "L2"}, {"name": "L2", "parent": "L1"}]
        fine = [
            {"trigger": "a", "source": "S5", "dest": "S899", "internal": True},
            {"trigger": "b", "source": "S10", "dest": "B1", "internal": True},
        ]
        wrong = [
            {"trigger": "c", "source": "S899", "dest": "S5", "internal": True},
            {"trigger": "d", "source": "S11", "dest": "B1", "internal": True},
            {"trigger": "e", "source": "L1", "dest": "S3", "internal": True},
        ]
        found = issues_of(definition(chain + side + loop, fine + wrong))
        assert found == [
            "states[902].parent: parent chain of 'L1' loops",
            "states[903].parent: parent chain of 'L2' loops",
            *(
                f"transitions[{i}].internal: an internal transition must stay inside its "
                f"source: '{t['dest']}' is not '{t['source']}' or one of its descendants"
                for i, t in enumerate(wrong, start=2)
            ),
        ]

    def test_terminal_source(self) -> None:
        data = definition(STATES, [{"trigger": "a", "source": ["OPEN", "FILLED"], "dest": "OPEN"}])
        assert one_issue(data) == (
            "transitions[0].source[1]: 'FILLED' is terminal: no transition can leave it"
        )

    def test_terminal_dest_is_fine(self) -> None:
        data = definition(STATES, [{"trigger": "a", "source": "OPEN", "dest": "FILLED"}])
        assert StateMachine.from_dict(data).process("OPEN", "a").target_state == "FILLED"

    def test_internal_transition_leaving_its_source(self) -> None:
        data = definition(
            STATES, [{"trigger": "a", "source": "PENDING", "dest": "OPEN", "internal": True}]
        )
        assert one_issue(data) == (
            "transitions[0].internal: an internal transition must stay inside its source: "
            "'OPEN' is not 'PENDING' or one of its descendants"
        )

    def test_internal_transition_to_an_ancestor_leaves_its_source(self) -> None:
        data = definition(
            [{"name": "P"}, {"name": "C", "parent": "P"}],
            [{"trigger": "a", "source": "C", "dest": "P", "internal": True}],
        )
        assert one_issue(data).startswith("transitions[0].internal:")

    def test_internal_transition_into_a_descendant_is_fine(self) -> None:
        data = definition(
            [{"name": "P"}, {"name": "C", "parent": "P"}, {"name": "D", "parent": "P"}],
            [
                {"trigger": "a", "source": "P", "dest": "D", "internal": True},
                {"trigger": "b", "source": "P", "dest": "P", "internal": True},
                {"trigger": "c", "source": "P", "internal": True},
            ],
        )
        assert isinstance(StateMachine.from_dict(data).definition, MachineDefinition)

    def test_internal_wildcard_with_dest(self) -> None:
        data = definition(
            STATES, [{"trigger": "a", "source": "*", "dest": "OPEN", "internal": True}]
        )
        assert one_issue(data).startswith(
            "transitions[0].internal: an internal transition from '*' cannot have a dest"
        )

    @pytest.mark.parametrize(
        ("fields", "expected"),
        [
            (
                {},
                "transitions[1]: a transition needs a 'trigger', an 'after' delay or 'auto: true'",
            ),
            (
                {"auto": True, "trigger": "a"},
                "transitions[1]: an 'auto' transition has no trigger and no 'after'",
            ),
            (
                {"auto": True, "after": "1s"},
                "transitions[1]: an 'auto' transition has no trigger and no 'after'",
            ),
            (
                {"after": 400 * 24 * 3600 * 1000},
                "transitions[1].after: delay 34560000000 is out of range (0 to 366 days)",
            ),
        ],
        ids=["no-way-to-fire", "auto-with-trigger", "auto-with-after", "after-out-of-range"],
    )
    def test_how_a_transition_fires_is_checked_with_the_rest(
        self, fields: dict[str, Any], expected: str
    ) -> None:
        data = definition(
            STATES,
            [
                {"trigger": "a", "source": "PENDING", "dest": "OPNE"},
                {"source": "PENDING", "dest": "OPEN", **fields},
            ],
        )
        assert issues_of(data) == [
            "transitions[0].dest: state 'OPNE' is not defined; did you mean 'OPEN'?",
            expected,
        ]

    def test_how_a_transition_fires_is_checked_in_a_definition_built_in_python(self) -> None:
        from pystator import StateDefinition, TransitionDefinition

        with pytest.raises(ConfigurationError) as info:
            MachineDefinition(
                meta={"machine_name": "m"},  # type: ignore[arg-type]
                states=(StateDefinition(name="A", type="initial"), StateDefinition(name="B")),
                transitions=(TransitionDefinition(source="A", dest="B"),),
            )
        assert [str(i) for i in info.value.issues] == [
            "transitions[0]: a transition needs a 'trigger', an 'after' delay or 'auto: true'"
        ]

    def test_wildcard_source_is_not_an_undefined_state(self) -> None:
        data = definition(STATES, [{"trigger": "reset", "source": "*", "dest": "PENDING"}])
        assert StateMachine.from_dict(data).process("OPEN", "reset").target_state == "PENDING"

    @pytest.mark.parametrize(
        "source",
        [123, None, ["A", 1], {"name": "A"}, []],
        ids=["int", "none", "mixed", "dict", "empty"],
    )
    def test_bad_source_shapes(self, source: Any) -> None:
        data = definition([{"name": "A"}], [{"trigger": "t", "source": source, "dest": "A"}])
        found = issues_of(data)
        assert found
        assert all(f.startswith("transitions[0].source") for f in found), found

    def test_missing_source(self) -> None:
        data = definition([{"name": "A"}], [{"trigger": "t", "dest": "A"}])
        assert one_issue(data) == "transitions[0].source: required key is missing"

    def test_bad_entry_inside_a_spec_is_reported_once_where_it_is(self) -> None:
        data = definition(
            [{"name": "A", "on_enter": [{"name": "a", "bogus": 1}]}],
            [{"trigger": "t", "source": "A", "guards": [{"nam": "g"}], "actions": [5]}],
        )
        assert issues_of(data) == [
            "states[0].on_enter[0].bogus: unknown key (check its spelling and its indentation)",
            "transitions[0].guards[0].nam: unknown key (check its spelling and its indentation)",
            "transitions[0].actions[0]: must be an action name, {name, params}, "
            "{assign: {field: expression}} or {raise: EVENT}",
        ]

    def test_bad_guard_entry(self) -> None:
        data = definition([{"name": "A"}], [{"trigger": "t", "source": "A", "guards": [{"x": 1}]}])
        found = issues_of(data)
        assert found
        assert all(f.startswith("transitions[0].guards[0]") for f in found), found
