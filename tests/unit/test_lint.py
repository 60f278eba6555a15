"""``pystator.runtime.lint``: each finding on a small machine, and its absence on the valid
look-alikes (parallel regions, history, eventless, delayed, wildcard, done events)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest

from pystator import (
    ActionExecutor,
    ActionRegistry,
    GuardRegistry,
    InMemoryStateStore,
    Machine,
    MachineDefinition,
    Orchestrator,
    State,
    StateMachine,
)
from pystator.loaders import definition_from_data, load_file, load_yaml_string
from pystator.runtime.lint import (
    CODES,
    Finding,
    Registrations,
    lint_definition,
    path_parts,
    reachability,
    registrations_in,
    registrations_of_module,
    with_lines,
)
from pystator.runtime.validation import check_machine
from tests.conftest import ROOT
from tests.unit.conftest import definition

EXAMPLES = ROOT / "examples"
TEMPLATES = ROOT / "pystator" / "ui" / "static" / "js" / "templates.js"


def lint(
    states: list[dict[str, Any]],
    transitions: list[dict[str, Any]] | None = None,
    registrations: Registrations | None = None,
    **meta: Any,
) -> list[Finding]:
    return lint_definition(
        definition_from_data(definition(states, transitions, **meta)),
        registrations=registrations,
    )


def codes(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.code, f.path) for f in findings]


def only(findings: list[Finding], code: str) -> list[Finding]:
    return [f for f in findings if f.code == code]


# ------------------------------------------------------------------------ unreachable states
class TestUnreachableStates:
    def test_a_state_nothing_targets(self) -> None:
        found = lint(
            [{"name": "A", "type": "initial"}, {"name": "B", "type": "terminal"}, {"name": "X"}],
            [{"trigger": "go", "source": "A", "dest": "B"}],
        )
        assert codes(found) == [("unreachable-state", "states[2]")]
        (unreachable,) = found
        assert "'X'" in unreachable.message
        assert "no transition targets it" in unreachable.message
        assert unreachable.severity == "warning"

    def test_only_the_outermost_state_of_a_dead_subtree(self) -> None:
        found = lint(
            [
                {"name": "A", "type": "initial"},
                {"name": "OFF", "initial_child": "O1"},
                {"name": "O1", "parent": "OFF"},
                {"name": "O2", "parent": "OFF"},
            ],
            [
                {"trigger": "go", "source": "A", "dest": "A"},
                {"trigger": "flip", "source": "O1", "dest": "O2"},
            ],
        )
        (unreachable,) = only(found, "unreachable-state")
        assert unreachable.path == "states[1]"
        assert "'OFF'" in unreachable.message
        assert "2 states inside it" in unreachable.message
        # The transition into O2 comes from O1, which is never entered: named in the message.
        assert "transitions[1]" in unreachable.message

    def test_a_transition_from_an_unreachable_state_does_not_count(self) -> None:
        found = lint(
            [
                {"name": "A", "type": "initial"},
                {"name": "B", "type": "terminal"},
                {"name": "X"},
                {"name": "Y", "type": "terminal"},
            ],
            [
                {"trigger": "go", "source": "A", "dest": "B"},
                {"trigger": "go", "source": "X", "dest": "Y"},
            ],
        )
        assert codes(only(found, "unreachable-state")) == [
            ("unreachable-state", "states[2]"),
            ("unreachable-state", "states[3]"),
        ]
        assert "transitions[1]" in only(found, "unreachable-state")[1].message

    def test_a_shadowed_transition_reaches_nothing(self) -> None:
        found = lint(
            [{"name": "A", "type": "initial"}, {"name": "B", "type": "terminal"}, {"name": "C"}],
            [
                {"trigger": "go", "source": "A", "dest": "B"},
                {"trigger": "go", "source": "A", "dest": "C"},
                {"trigger": "back", "source": "C", "dest": "A"},
            ],
        )
        assert ("unreachable-state", "states[2]") in codes(found)
        assert ("shadowed-transition", "transitions[1]") in codes(found)

    def test_meta_initial_leaves_the_typed_initial_state_unreachable(self) -> None:
        found = lint(
            [{"name": "A", "type": "initial"}, {"name": "B"}, {"name": "C", "type": "terminal"}],
            [{"trigger": "go", "source": "B", "dest": "C"}],
            initial="B",
        )
        assert codes(only(found, "unreachable-state")) == [("unreachable-state", "states[0]")]

    def test_a_history_state_nothing_targets(self) -> None:
        found = lint(
            [
                {"name": "OUT", "type": "initial"},
                {"name": "C", "initial_child": "C1"},
                {"name": "H", "parent": "C", "type": "history"},
                {"name": "C1", "parent": "C"},
            ],
            [
                {"trigger": "enter", "source": "OUT", "dest": "C"},
                {"trigger": "leave", "source": "C", "dest": "OUT"},
            ],
        )
        (unreachable,) = found
        assert (unreachable.code, unreachable.path) == ("unreachable-state", "states[2]")
        assert "history state 'H'" in unreachable.message

    def test_the_path_of_a_state_written_in_a_region(self) -> None:
        found = lint(
            [
                {
                    "name": "P",
                    "type": "parallel",
                    "regions": [
                        {"name": "r1", "states": ["A1", "A2", {"name": "A3"}]},
                    ],
                },
            ],
            [
                {"trigger": "go", "source": "A1", "dest": "A2"},
                {"trigger": "back", "source": "A2", "dest": "A1"},
            ],
        )
        assert codes(only(found, "unreachable-state")) == [
            ("unreachable-state", "states[0].regions[0].states[2]")
        ]


class TestReachableLookAlikes:
    """Every state here is reachable: none is reported."""

    def test_initial_children_and_regions(self) -> None:
        found = lint(
            [
                {"name": "IDLE", "type": "initial"},
                {"name": "C", "initial_child": "C2"},
                {"name": "C1", "parent": "C"},
                {"name": "C2", "parent": "C"},
                {"name": "D"},
                {"name": "D1", "parent": "D"},  # the first child
                {"name": "D2", "parent": "D", "type": "initial"},  # typed initial wins
                {
                    "name": "P",
                    "type": "parallel",
                    "regions": [
                        {"name": "left", "initial": "L2", "states": ["L1", "L2"]},
                        {"name": "right", "states": ["R1", {"name": "R2"}]},
                    ],
                },
                {"name": "END", "type": "terminal"},
            ],
            [
                {"trigger": "to_c", "source": "IDLE", "dest": "C"},
                {"trigger": "to_d", "source": "C", "dest": "D"},
                {"trigger": "back", "source": "C2", "dest": "C1"},
                {"trigger": "to_p", "source": "D", "dest": "P"},
                {"trigger": "d1", "source": "D2", "dest": "D1"},
                {"trigger": "l", "source": "L2", "dest": "L1"},
                {"trigger": "r", "source": "R1", "dest": "R2"},
                {"trigger": "stop", "source": "*", "dest": "END"},
            ],
        )
        assert found == []

    def test_a_target_inside_a_parallel_state_enters_the_other_regions(self) -> None:
        found = lint(
            [
                {"name": "IDLE", "type": "initial"},
                {
                    "name": "P",
                    "type": "parallel",
                    "regions": [
                        {"name": "left", "states": ["L1", "L2"]},
                        {"name": "right", "states": ["R1"]},
                    ],
                },
            ],
            [
                {"trigger": "go", "source": "IDLE", "dest": "L2"},  # L1 is never entered
                {"trigger": "stop", "source": "P", "dest": "IDLE"},
            ],
        )
        assert codes(found) == [("unreachable-state", "states[1].regions[0].states[0]")]

    def test_eventless_delayed_timeout_and_wildcard(self) -> None:
        found = lint(
            [
                {"name": "A", "type": "initial"},
                {"name": "B"},
                {"name": "C", "timeout": {"seconds": 5, "destination": "D"}},
                {"name": "D"},
                {"name": "E", "type": "terminal"},
            ],
            [
                {"source": "A", "dest": "B", "auto": True, "guards": [{"expr": "ready"}]},
                {"after": "1s", "source": "B", "dest": "C"},
                {"trigger": "end", "source": "*", "dest": "E"},
            ],
        )
        assert found == []

    def test_history_fallbacks_and_memory(self) -> None:
        found = lint(
            [
                {"name": "OUT", "type": "initial"},
                {"name": "FORM", "initial_child": "RESUME"},
                {"name": "RESUME", "parent": "FORM", "type": "history"},
                {"name": "INTRO", "parent": "FORM"},
                {"name": "DETAILS", "parent": "FORM", "type": "initial"},
                {"name": "DEEP", "initial_child": "D1"},
                {
                    "name": "BACK",
                    "parent": "DEEP",
                    "type": "history",
                    "history": "deep",
                    "default": "D2",
                },
                {"name": "D1", "parent": "DEEP"},
                {"name": "D2", "parent": "DEEP"},
                {"name": "END", "type": "terminal"},
            ],
            [
                {"trigger": "form", "source": "OUT", "dest": "FORM"},  # via RESUME's fallback
                {"trigger": "intro", "source": "DETAILS", "dest": "INTRO"},
                {"trigger": "leave", "source": "FORM", "dest": "OUT"},
                {"trigger": "deep", "source": "OUT", "dest": "BACK"},  # D2 by its default
                {"trigger": "out", "source": "DEEP", "dest": "OUT"},
                {"trigger": "end", "source": "OUT", "dest": "END"},
            ],
        )
        # DEEP is only entered through BACK, whose default is D2: DEEP's initial child D1 is
        # never entered (a real finding); every other state is.
        assert codes(found) == [("unreachable-state", "states[7]")]

    def test_a_shallow_history_enters_a_remembered_child_by_default(self) -> None:
        # X1 (X's initial child) is entered only when RESUME re-enters X by default: the
        # only other way into X targets X2.
        found = lint(
            [
                {"name": "OUT", "type": "initial"},
                {"name": "C", "initial_child": "Y"},
                {"name": "RESUME", "parent": "C", "type": "history"},
                {"name": "X", "parent": "C", "initial_child": "X1"},
                {"name": "X1", "parent": "X"},
                {"name": "X2", "parent": "X"},
                {"name": "Y", "parent": "C"},
            ],
            [
                {"trigger": "in", "source": "OUT", "dest": "C"},
                {"trigger": "jump", "source": "Y", "dest": "X2"},
                {"trigger": "out", "source": "C", "dest": "OUT"},
                {"trigger": "back", "source": "OUT", "dest": "RESUME"},
                {"trigger": "y", "source": "X", "dest": "Y"},
            ],
        )
        assert found == []
        # Without the history state X1 is unreachable: the test above is not vacuous.
        found = lint(
            [
                {"name": "OUT", "type": "initial"},
                {"name": "C", "initial_child": "Y"},
                {"name": "X", "parent": "C", "initial_child": "X1"},
                {"name": "X1", "parent": "X"},
                {"name": "X2", "parent": "X"},
                {"name": "Y", "parent": "C"},
            ],
            [
                {"trigger": "in", "source": "OUT", "dest": "C"},
                {"trigger": "jump", "source": "Y", "dest": "X2"},
                {"trigger": "out", "source": "C", "dest": "OUT"},
                {"trigger": "y", "source": "X", "dest": "Y"},
            ],
        )
        assert codes(only(found, "unreachable-state")) == [("unreachable-state", "states[3]")]

    def test_a_parallel_history_without_memory_enters_every_region(self) -> None:
        found = lint(
            [
                {"name": "OUT", "type": "initial"},
                {
                    "name": "BOARD",
                    "type": "parallel",
                    "regions": [
                        {"name": "left", "states": ["L1"]},
                        {"name": "right", "states": ["R1"]},
                    ],
                },
                {"name": "LAST", "parent": "BOARD", "type": "history", "history": "deep"},
            ],
            [
                {"trigger": "board", "source": "OUT", "dest": "LAST"},
                {"trigger": "leave", "source": "BOARD", "dest": "OUT"},
            ],
        )
        assert found == []

    def test_a_state_reached_only_through_a_done_event(self) -> None:
        states = [
            {"name": "IDLE", "type": "initial"},
            {"name": "WORK", "initial_child": "STEP"},
            {"name": "STEP", "parent": "WORK"},
            {"name": "FINISHED", "parent": "WORK", "type": "terminal"},
            {"name": "REPORT", "type": "terminal"},
        ]
        transitions = [
            {"trigger": "start", "source": "IDLE", "dest": "WORK"},
            {"trigger": "finish", "source": "STEP", "dest": "FINISHED"},
            {"trigger": "done.state.WORK", "source": "WORK", "dest": "REPORT"},
        ]
        assert lint(states, transitions) == []
        # Without the way into FINISHED, WORK never completes: REPORT is unreachable too.
        found = lint(states, transitions[:1] + transitions[2:])
        assert ("unreachable-state", "states[4]") in codes(found)
        assert ("never-done", "transitions[1].trigger") in codes(found)

    def test_a_raised_event(self) -> None:
        found = lint(
            [
                {"name": "A", "type": "initial", "on_enter": [{"raise": "next"}]},
                {"name": "B", "type": "terminal"},
            ],
            [{"trigger": "next", "source": "A", "dest": "B"}],
        )
        assert found == []


# ------------------------------------------------------------------------ dead ends
class TestDeadEnds:
    def test_a_leaf_with_no_way_out(self) -> None:
        found = lint(
            [
                {"name": "A", "type": "initial"},
                {"name": "STUCK"},
                {"name": "END", "type": "terminal"},
            ],
            [
                {"trigger": "go", "source": "A", "dest": "STUCK"},
                {"trigger": "end", "source": "A", "dest": "END"},
            ],
        )
        (dead_end,) = found
        assert (dead_end.code, dead_end.path) == ("dead-end-state", "states[1]")
        assert "'STUCK'" in dead_end.message
        assert "type: terminal" in dead_end.message

    @pytest.mark.parametrize(
        "loop",
        [
            {"trigger": "again", "source": "STUCK", "dest": "STUCK"},
            {"trigger": "tick", "source": "STUCK", "actions": ["count"]},
            {"trigger": "tick", "source": "STUCK", "internal": True},
        ],
        ids=["self-transition", "targetless", "internal"],
    )
    def test_a_transition_that_stays_is_no_way_out(self, loop: dict[str, Any]) -> None:
        found = lint(
            [{"name": "A", "type": "initial"}, {"name": "STUCK"}],
            [{"trigger": "go", "source": "A", "dest": "STUCK"}, loop],
        )
        assert codes(found) == [("dead-end-state", "states[1]")]

    @pytest.mark.parametrize(
        "again",
        [
            {"trigger": "again", "source": "P", "dest": "P"},
            {"trigger": "again", "source": "C", "dest": "P"},
            {"trigger": "again", "source": "P", "dest": "C", "internal": True},
            {"after": "5s", "source": "P", "dest": "P"},
        ],
        ids=["parent-self-transition", "to-the-parent", "internal-to-the-leaf", "delayed"],
    )
    def test_a_transition_that_enters_the_leaf_again_is_no_way_out(
        self, again: dict[str, Any]
    ) -> None:
        states = [
            {"name": "A", "type": "initial"},
            {"name": "P", "initial_child": "C"},
            {"name": "C", "parent": "P"},
        ]
        transitions = [{"trigger": "go", "source": "A", "dest": "P"}, again]
        assert codes(lint(states, transitions)) == [("dead-end-state", "states[2]")]
        if "trigger" in again:
            machine = StateMachine.from_dict(definition(states, transitions))
            result = machine.process("C", "again")
            assert (result.target_state, result.exited_states[0]) == ("C", "C")

    @pytest.mark.parametrize(
        ("target", "expected"),
        [
            ("D", []),  # another child: a way out
            ("H", []),  # a history state: what it restores depends on its memory
            ("P", [("dead-end-state", "states[2]")]),  # the initial child again
        ],
    )
    def test_a_parent_transition_that_enters_another_leaf_is_a_way_out(
        self, target: str, expected: list[tuple[str, str]]
    ) -> None:
        found = lint(
            [
                {"name": "A", "type": "initial"},
                {"name": "P", "initial_child": "C"},
                {"name": "C", "parent": "P"},
                {"name": "D", "parent": "P"},
                {"name": "H", "parent": "P", "type": "history"},
            ],
            [
                {"trigger": "go", "source": "A", "dest": "P"},
                {"trigger": "again", "source": "P", "dest": target},
                {"trigger": "back", "source": "D", "dest": "A"},
            ],
        )
        assert codes(only(found, "dead-end-state")) == expected

    @pytest.mark.parametrize(
        "way_out",
        [
            {"trigger": "leave", "source": "OUTER", "dest": "END"},
            {"trigger": "leave", "source": "*", "dest": "END"},
            {"after": "5s", "source": "INNER", "dest": "END"},
            {"source": "INNER", "dest": "END", "auto": True, "guards": ["ok"]},
            {"trigger": "done.state.OUTER", "source": "OUTER", "dest": "END"},
        ],
        ids=["ancestor", "wildcard", "delayed", "eventless", "done-of-parent"],
    )
    def test_ways_out(self, way_out: dict[str, Any]) -> None:
        found = lint(
            [
                {"name": "A", "type": "initial"},
                {"name": "OUTER", "initial_child": "INNER"},
                {"name": "INNER", "parent": "OUTER"},
                {"name": "FINAL", "parent": "OUTER", "type": "terminal"},
                {"name": "END", "type": "terminal"},
            ],
            [
                {"trigger": "go", "source": "A", "dest": "OUTER"},
                {"trigger": "finish", "source": "INNER", "dest": "FINAL"},
                way_out,
            ],
        )
        assert [f for f in found if f.code == "dead-end-state"] == []

    def test_a_timeout_is_a_way_out_and_terminal_states_need_none(self) -> None:
        found = lint(
            [
                {"name": "WAIT", "type": "initial", "timeout": {"seconds": 30, "destination": "C"}},
                {"name": "C", "initial_child": "C1"},
                {"name": "C1", "parent": "C"},
                {"name": "CF", "parent": "C", "type": "terminal"},
                {"name": "END", "type": "terminal"},
            ],
            [
                {"trigger": "finish", "source": "C1", "dest": "CF"},
                {"trigger": "done.state.C", "source": "C", "dest": "END"},
            ],
        )
        assert found == []

    def test_a_region_state_left_by_its_parallel_state(self) -> None:
        found = lint(
            [
                {"name": "IDLE", "type": "initial"},
                {
                    "name": "P",
                    "type": "parallel",
                    "regions": [
                        {"name": "feed", "states": ["STREAMING"]},
                        {"name": "risk", "states": ["CALM", "ALARM"]},
                    ],
                },
            ],
            [
                {"trigger": "start", "source": "IDLE", "dest": "P"},
                {"trigger": "alarm", "source": "CALM", "dest": "ALARM"},
                {"trigger": "calm", "source": "ALARM", "dest": "CALM"},
                {"trigger": "stop", "source": "P", "dest": "IDLE"},
            ],
        )
        assert found == []

    @pytest.mark.parametrize(
        ("risk_dest", "expected"),
        [
            ("HALTED", []),  # leaves the parallel state: STREAMING is exited with it
            ("ALARM", [("dead-end-state", "states[1].regions[0].states[0]")]),
        ],
    )
    def test_a_region_state_left_through_another_region(
        self, risk_dest: str, expected: list[tuple[str, str]]
    ) -> None:
        found = lint(
            [
                {"name": "IDLE", "type": "initial"},
                {
                    "name": "P",
                    "type": "parallel",
                    "regions": [
                        {"name": "feed", "states": ["STREAMING"]},
                        {"name": "risk", "states": ["CALM", "ALARM"]},
                    ],
                },
                {"name": "HALTED", "type": "terminal"},
            ],
            [
                {"trigger": "start", "source": "IDLE", "dest": "P"},
                {"trigger": "alarm", "source": "CALM", "dest": risk_dest},
                {"trigger": "calm", "source": "ALARM", "dest": "CALM"},
                {"trigger": "halt", "source": "IDLE", "dest": "HALTED"},
            ],
        )
        assert codes(only(found, "dead-end-state")) == expected


# ------------------------------------------------------------------------ shadowing
class TestShadowedTransitions:
    STATES: ClassVar[list[dict[str, Any]]] = [
        {"name": "A", "type": "initial"},
        {"name": "B", "type": "terminal"},
        {"name": "C", "type": "terminal"},
    ]

    def test_an_earlier_unguarded_transition_always_wins(self) -> None:
        found = lint(
            self.STATES,
            [
                {"trigger": "go", "source": "A", "dest": "B"},
                {"trigger": "go", "source": "A", "dest": "C", "guards": ["vip"]},
            ],
        )
        shadowed = only(found, "shadowed-transition")
        assert codes(shadowed) == [("shadowed-transition", "transitions[1]")]
        assert "transitions[0]" in shadowed[0].message
        assert "'go'" in shadowed[0].message

    def test_priority_comes_before_document_order(self) -> None:
        found = lint(
            self.STATES,
            [
                {"trigger": "go", "source": "A", "dest": "B", "guards": ["ok"]},
                {"trigger": "go", "source": "A", "dest": "C", "priority": 5},
            ],
        )
        (shadowed,) = only(found, "shadowed-transition")
        assert shadowed.path == "transitions[0]"
        assert "transitions[1] has the same source and trigger" in shadowed.message

    @pytest.mark.parametrize(
        "transitions",
        [
            [  # the first is guarded
                {"trigger": "go", "source": "A", "dest": "B", "guards": ["ok"]},
                {"trigger": "go", "source": "A", "dest": "C"},
            ],
            [  # the later one has a higher priority, so it is tried first
                {"trigger": "go", "source": "A", "dest": "B"},
                {"trigger": "go", "source": "A", "dest": "C", "priority": 1, "guards": ["ok"]},
            ],
            [  # other triggers
                {"trigger": "go", "source": "A", "dest": "B"},
                {"trigger": "went", "source": "A", "dest": "C"},
            ],
        ],
        ids=["guarded-first", "higher-priority-later", "other-trigger"],
    )
    def test_look_alikes(self, transitions: list[dict[str, Any]]) -> None:
        assert only(lint(self.STATES, transitions), "shadowed-transition") == []

    def test_a_wildcard_shadowed_at_one_source_only_is_not_reported(self) -> None:
        found = lint(
            [
                {"name": "A", "type": "initial"},
                {"name": "B"},
                {"name": "C", "type": "terminal"},
            ],
            [
                {"trigger": "go", "source": "A", "dest": "B"},
                {"trigger": "go", "source": "*", "dest": "C"},  # still wins in B
                {"trigger": "back", "source": "B", "dest": "A"},
            ],
        )
        assert found == []

    def test_a_source_list_shadowed_everywhere(self) -> None:
        found = lint(
            [{"name": "A", "type": "initial"}, {"name": "B"}, {"name": "C", "type": "terminal"}],
            [
                {"trigger": "go", "source": "A", "dest": "B"},
                {"trigger": "go", "source": "B", "dest": "A"},
                {"trigger": "go", "source": ["A", "B"], "dest": "C"},
                {"trigger": "end", "source": "B", "dest": "C"},
            ],
        )
        (shadowed,) = only(found, "shadowed-transition")
        assert shadowed.path == "transitions[2]"
        assert "transitions[0], transitions[1]" in shadowed.message

    def test_an_ancestor_transition_on_the_same_trigger_is_not_shadowed(self) -> None:
        found = lint(
            [
                {"name": "P", "type": "initial", "initial_child": "C1"},
                {"name": "C1", "parent": "P"},
                {"name": "C2", "parent": "P"},
                {"name": "X", "type": "terminal"},
            ],
            [
                {"trigger": "go", "source": "C1", "dest": "C2"},
                {"trigger": "go", "source": "P", "dest": "X"},
            ],
        )
        assert found == []

    def test_eventless_transitions(self) -> None:
        found = lint(
            self.STATES,
            [
                {"source": "A", "dest": "B", "auto": True},
                {"source": "A", "dest": "C", "auto": True},
            ],
        )
        (shadowed,) = only(found, "shadowed-transition")
        assert shadowed.path == "transitions[1]"
        assert "(eventless from 'A')" in shadowed.message

    def test_a_wildcard_beats_an_ancestor_transition_whatever_its_priority(self) -> None:
        # docs/semantics.md "Wildcard sources": "*" is tried at the leaf's level, before P's.
        states = [
            {"name": "P", "type": "initial", "initial_child": "C"},
            {"name": "C", "parent": "P"},
            {"name": "X", "type": "terminal"},
            {"name": "Y", "type": "terminal"},
        ]
        transitions = [
            {"trigger": "go", "source": "P", "dest": "X", "priority": 100},
            {"trigger": "go", "source": "*", "dest": "Y"},
        ]
        found = lint(states, transitions)
        assert codes(found) == [
            ("unreachable-state", "states[2]"),
            ("shadowed-transition", "transitions[0]"),
        ]
        message = only(found, "shadowed-transition")[0].message
        assert "transitions[1] (from '*')" in message
        assert "the engine tries it before this one" in message
        machine = StateMachine.from_dict(definition(states, transitions))
        assert machine.process(machine.start().target_state, "go").target_state == "Y"
        # A guard on the wildcard lets P's transition through.
        transitions[1]["guards"] = ["ok"]
        assert lint(states, transitions) == []

    def test_the_transitions_of_every_child_beat_their_parents(self) -> None:
        found = lint(
            [
                {"name": "P", "type": "initial", "initial_child": "C1"},
                {"name": "C1", "parent": "P"},
                {"name": "C2", "parent": "P"},
                {"name": "X", "type": "terminal"},
            ],
            [
                {"trigger": "go", "source": "C1", "dest": "C2"},
                {"trigger": "go", "source": "C2", "dest": "C1"},
                {"trigger": "go", "source": "P", "dest": "X", "priority": 5},
                {"trigger": "end", "source": "P", "dest": "X"},
            ],
        )
        (shadowed,) = found
        assert shadowed.path == "transitions[2]"
        assert "transitions[0]" in shadowed.message
        assert "transitions[1]" in shadowed.message


class TestLeftAtOnce:
    """A state with an unguarded eventless transition is left as soon as it is entered: the
    engine takes eventless transitions before it handles any event or timer."""

    def test_the_event_transitions_of_the_state_are_shadowed(self) -> None:
        states = [
            {"name": "S", "type": "initial"},
            {"name": "T", "type": "terminal"},
            {"name": "U", "type": "terminal"},
        ]
        transitions = [
            {"source": "S", "dest": "T", "auto": True},
            {"trigger": "go", "source": "S", "dest": "U"},
        ]
        found = lint(states, transitions)
        assert codes(found) == [
            ("unreachable-state", "states[2]"),
            ("shadowed-transition", "transitions[1]"),
        ]
        message = found[1].message
        assert "transitions[0] (eventless from 'S') has no guards" in message
        assert "as soon as the state is entered" in message
        assert StateMachine.from_dict(definition(states, transitions)).start().target_state == "T"

    def test_an_eventless_transition_of_the_parent(self) -> None:
        found = lint(
            [
                {"name": "P", "type": "initial", "initial_child": "C"},
                {"name": "C", "parent": "P"},
                {"name": "D", "parent": "P"},
                {"name": "T", "type": "terminal"},
            ],
            [
                {"source": "P", "dest": "T", "auto": True},
                {"trigger": "next", "source": "C", "dest": "D"},
                {"trigger": "stop", "source": "P", "dest": "T"},
            ],
        )
        assert codes(found) == [
            ("unreachable-state", "states[2]"),
            ("shadowed-transition", "transitions[1]"),
            ("shadowed-transition", "transitions[2]"),
        ]

    def test_its_timers_never_fire(self) -> None:
        found = lint(
            [
                {"name": "S", "type": "initial", "timeout": {"seconds": 5, "destination": "W"}},
                {"name": "T", "type": "terminal"},
                {"name": "V", "type": "terminal"},
                {"name": "W", "type": "terminal"},
            ],
            [
                {"source": "S", "dest": "T", "auto": True},
                {"after": "1s", "source": "S", "dest": "V"},
            ],
        )
        assert codes(found) == [
            ("unreachable-state", "states[2]"),
            ("unreachable-state", "states[3]"),
            ("shadowed-transition", "transitions[1]"),
        ]
        assert "delayed by 1s" in found[2].message
        assert "states[0].timeout" in found[1].message

    @pytest.mark.parametrize(
        "eventless",
        [
            {"source": "S", "dest": "T", "auto": True, "guards": ["ready"]},
            {"source": "S", "auto": True, "actions": ["count"]},  # loops: the engine's limit
        ],
        ids=["guarded", "targetless"],
    )
    def test_look_alikes(self, eventless: dict[str, Any]) -> None:
        found = lint(
            [
                {"name": "S", "type": "initial"},
                {"name": "T", "type": "terminal"},
                {"name": "U", "type": "terminal"},
            ],
            [eventless, {"trigger": "go", "source": "S", "dest": "U"}],
        )
        assert only(found, "shadowed-transition") == []
        assert only(found, "unreachable-state") == ([] if eventless.get("dest") else found[:1])

    def test_in_a_region_only_that_region_settles(self) -> None:
        found = lint(
            [
                {
                    "name": "P",
                    "type": "parallel",
                    "regions": [
                        {"name": "left", "states": ["A", "A2"]},
                        {"name": "right", "states": ["B", {"name": "B2", "type": "terminal"}]},
                    ],
                },
                {"name": "END", "type": "terminal"},
            ],
            [
                {"source": "A", "dest": "A2", "auto": True},
                {"trigger": "poke", "source": "A", "dest": "END"},
                {"trigger": "poke", "source": "B", "dest": "B2"},
                {"trigger": "stop", "source": "P", "dest": "END"},
            ],
        )
        assert codes(found) == [("shadowed-transition", "transitions[1]")]


# ------------------------------------------------------------------------ dead triggers
class TestDeadTriggers:
    def test_a_trigger_only_from_unreachable_states(self) -> None:
        found = lint(
            [
                {"name": "A", "type": "initial"},
                {"name": "X"},
                {"name": "Y"},
                {"name": "END", "type": "terminal"},
            ],
            [
                {"trigger": "end", "source": "A", "dest": "END"},
                {"trigger": "poke", "source": "X", "dest": "Y"},
                {"trigger": "poke", "source": "Y", "dest": "X"},
            ],
        )
        (dead,) = only(found, "dead-trigger")
        assert dead.path == "transitions[1].trigger"
        assert "'poke'" in dead.message
        assert "'X', 'Y'" in dead.message

    def test_a_trigger_also_used_from_a_reachable_state_fires(self) -> None:
        found = lint(
            [{"name": "A", "type": "initial"}, {"name": "X"}, {"name": "END", "type": "terminal"}],
            [
                {"trigger": "poke", "source": "X", "dest": "END"},
                {"trigger": "poke", "source": "A", "dest": "END"},
            ],
        )
        assert only(found, "dead-trigger") == []


# ------------------------------------------------------------------------ done events
class TestNeverDone:
    def test_a_compound_state_with_no_terminal_child(self) -> None:
        found = lint(
            [
                {"name": "IDLE", "type": "initial"},
                {"name": "WORK", "initial_child": "S1"},
                {"name": "S1", "parent": "WORK"},
                {"name": "S2", "parent": "WORK"},
                {"name": "END", "type": "terminal"},
            ],
            [
                {"trigger": "start", "source": "IDLE", "dest": "WORK"},
                {"trigger": "next", "source": "S1", "dest": "S2"},
                {"trigger": "back", "source": "S2", "dest": "S1"},
                {"trigger": "done.state.WORK", "source": "WORK", "dest": "END"},
            ],
        )
        (never,) = only(found, "never-done")
        assert never.path == "transitions[3].trigger"
        assert "'WORK' has no child of type: terminal" in never.message

    def test_a_terminal_child_nothing_enters(self) -> None:
        found = lint(
            [
                {"name": "IDLE", "type": "initial"},
                {"name": "WORK", "initial_child": "S1"},
                {"name": "S1", "parent": "WORK"},
                {"name": "FIN", "parent": "WORK", "type": "terminal"},
                {"name": "END", "type": "terminal"},
            ],
            [
                {"trigger": "start", "source": "IDLE", "dest": "WORK"},
                {"trigger": "done.state.WORK", "source": "WORK", "dest": "END"},
                {"trigger": "quit", "source": "WORK", "dest": "END"},
            ],
        )
        (never,) = only(found, "never-done")
        assert "never enters its terminal child ('FIN')" in never.message

    def test_a_parallel_state_with_a_region_that_never_finishes(self) -> None:
        found = lint(
            [
                {"name": "IDLE", "type": "initial"},
                {
                    "name": "P",
                    "type": "parallel",
                    "regions": [
                        {"name": "pay", "states": ["UNPAID", {"name": "PAID", "type": "terminal"}]},
                        {"name": "ship", "states": ["PACKING", "SENT"]},
                    ],
                },
                {"name": "END", "type": "terminal"},
            ],
            [
                {"trigger": "start", "source": "IDLE", "dest": "P"},
                {"trigger": "pay", "source": "UNPAID", "dest": "PAID"},
                {"trigger": "send", "source": "PACKING", "dest": "SENT"},
                {"trigger": "cancel", "source": "P", "dest": "END"},
                {"trigger": "done.state.P", "source": "P", "dest": "END"},
            ],
        )
        (never,) = only(found, "never-done")
        assert never.path == "transitions[4].trigger"
        assert "region 'ship' of parallel state 'P'" in never.message

    def test_a_state_that_is_never_entered(self) -> None:
        found = lint(
            [
                {"name": "IDLE", "type": "initial"},
                {"name": "WORK", "initial_child": "S1"},
                {"name": "S1", "parent": "WORK"},
                {"name": "FIN", "parent": "WORK", "type": "terminal"},
                {"name": "END", "type": "terminal"},
            ],
            [
                {"trigger": "finish", "source": "S1", "dest": "FIN"},
                {"trigger": "done.state.WORK", "source": "WORK", "dest": "END"},
                {"trigger": "quit", "source": "IDLE", "dest": "END"},
            ],
        )
        (never,) = only(found, "never-done")
        assert "state 'WORK' can never be entered" in never.message

    def test_look_alikes_parallel_region_and_raised_done_events(self) -> None:
        found = lint(
            [
                {"name": "IDLE", "type": "initial"},
                {
                    "name": "P",
                    "type": "parallel",
                    "regions": [
                        {"name": "pay", "states": ["UNPAID", {"name": "PAID", "type": "terminal"}]},
                        {
                            "name": "ship",
                            "states": ["PACKING", {"name": "SENT", "type": "terminal"}],
                        },
                    ],
                },
                {"name": "LOOP", "initial_child": "L1", "on_enter": [{"raise": "done.state.LOOP"}]},
                {"name": "L1", "parent": "LOOP"},
                {"name": "END", "type": "terminal"},
            ],
            [
                {"trigger": "start", "source": "IDLE", "dest": "P"},
                {"trigger": "pay", "source": "UNPAID", "dest": "PAID"},
                {"trigger": "send", "source": "PACKING", "dest": "SENT"},
                {"trigger": "done.state.pay", "source": "P", "internal": True, "actions": ["paid"]},
                {"trigger": "done.state.P", "source": "P", "dest": "LOOP"},
                {"trigger": "done.state.LOOP", "source": "LOOP", "dest": "END"},
            ],
        )
        assert found == []


# ------------------------------------------------------------------------ registrations
GUARDED = definition(
    [
        {"name": "A", "type": "initial", "on_enter": ["hello", {"assign": {"n": "1"}}]},
        {"name": "B", "type": "terminal", "on_exit": []},
    ],
    [
        {
            "trigger": "go",
            "source": "A",
            "dest": "B",
            "guards": ["is_ready", {"expr": "n > 0"}, {"name": "is_ready", "params": {"x": 1}}],
            "actions": ["notify", {"name": "notify", "params": {"to": "ops"}}],
        }
    ],
)


class TestUnregistered:
    def test_without_registrations_nothing_is_checked(self) -> None:
        assert lint_definition(definition_from_data(GUARDED)) == []

    def test_every_name_missing_is_reported_once_at_its_first_use(self) -> None:
        registrations = Registrations(guards=frozenset({"is_redy"}), actions=frozenset())
        found = lint_definition(definition_from_data(GUARDED), registrations=registrations)
        assert codes(found) == [
            ("unregistered-guard", "transitions[0].guards[0]"),
            ("unregistered-action", "states[0].on_enter[0]"),
            ("unregistered-action", "transitions[0].actions[0]"),
        ]
        assert "'is_ready'" in found[0].message
        assert "used 1 more time" in found[0].message
        assert "did you mean 'is_redy'?" in found[0].message

    def test_registries_machines_executors_orchestrators_and_classes(self) -> None:
        guards = GuardRegistry()
        guards.register("is_ready", lambda ctx: True)
        actions = ActionRegistry()
        actions.register("hello", lambda ctx: None)
        machine = StateMachine.from_dict(GUARDED)
        machine.action("notify")(lambda ctx, **_: None)
        assert registrations_in([guards, actions, machine]) == Registrations(
            frozenset({"is_ready"}), frozenset({"hello", "notify"})
        )
        executor = ActionExecutor(actions)
        orchestrator = Orchestrator(machine, InMemoryStateStore())
        assert registrations_in([executor]).actions == {"hello"}
        assert registrations_in([orchestrator]).actions == {"notify"}

        class Orders(Machine):
            IDLE = State(initial=True)
            DONE = State(terminal=True)
            finish = IDLE.to(DONE, guards=["is_ready"], actions=["notify"])

            def is_ready(self, ctx: Any) -> bool:
                return True

            @staticmethod
            def notify(ctx: Any) -> None:
                return None

        found = registrations_in([Orders, Machine, "text", 3])
        assert {"is_ready", "notify"} <= found.guards
        assert {"is_ready", "notify"} <= found.actions
        found_defs = lint_definition(Orders.definition, registrations=found)
        assert found_defs == []

    def test_a_module_and_its_tables(self) -> None:
        module = ModuleType("registrations_module")
        guards = GuardRegistry()
        guards.register("is_ready", lambda ctx: True)
        actions = ActionRegistry()
        actions.register("notify", lambda ctx: None)
        module.guards = guards  # type: ignore[attr-defined]
        module.table = {"main": actions}  # type: ignore[attr-defined]
        module.listed = [ActionExecutor(ActionRegistry())]  # type: ignore[attr-defined]
        found = registrations_of_module(module)
        assert found == Registrations(frozenset({"is_ready"}), frozenset({"notify"}))
        assert not found.empty
        assert Registrations().empty


# ------------------------------------------------------------------------ lines and shapes
class TestLinesAndShapes:
    TEXT = """\
meta: {machine_name: m}
states:
  - {name: A, type: initial}
  - name: X
  - {name: B, type: terminal}
transitions:
  - {trigger: go, source: A, dest: B}
  - trigger: go
    source: A
    dest: X
"""

    def test_yaml_lines(self) -> None:
        found = with_lines(lint_definition(load_yaml_string(self.TEXT)), self.TEXT)
        assert [(f.code, f.line) for f in found] == [
            ("unreachable-state", 4),
            ("shadowed-transition", 8),
        ]
        assert str(found[0]).startswith("states[1]: unreachable-state: state 'X'")
        assert found[0].to_dict()["line"] == 4

    def test_json_lines_and_text_that_does_not_parse(self) -> None:
        data = load_yaml_string(self.TEXT)
        json_text = data.model_dump_json(indent=2, exclude_defaults=True)
        found = with_lines(lint_definition(data), json_text)
        lines = json_text.splitlines()
        line = found[0].line
        assert line is not None  # the line where the state's object opens
        assert lines[line - 1].strip() == "{"
        assert '"name": "X"' in lines[line]
        unparsed = with_lines(lint_definition(data), "states: [")
        assert [f.line for f in unparsed] == [None, None]
        assert "line" not in unparsed[0].to_dict()

    def test_path_parts(self) -> None:
        assert path_parts("states[3].regions[0].states[12].on_enter[0]") == (
            "states",
            3,
            "regions",
            0,
            "states",
            12,
            "on_enter",
            0,
        )

    def test_every_code_is_documented(self) -> None:
        page = (ROOT / "docs" / "lint.md").read_text(encoding="utf-8")
        for code in CODES:
            assert f"`{code}`" in page, code

    def test_a_machine_index_can_be_given(self) -> None:
        machine = StateMachine.from_yaml_string(self.TEXT)
        assert lint_definition(machine.definition, index=machine.index) == lint_definition(
            machine.definition
        )
        reach = reachability(machine.index)
        assert "X" in reach.active  # without the shadowing, transitions[1] would reach X
        assert "X" not in reachability(machine.index, never={1}).active


# ------------------------------------------------------------------------ what we ship lints clean
def _example_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"lint_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_example_files_lint_clean(path: Path) -> None:
    definition_ = load_file(path)
    assert lint_definition(definition_, index=check_machine(definition_).index) == []


def _python_examples() -> list[tuple[str, MachineDefinition]]:
    python_defined = _example_module("python_defined_machine")
    typed = _example_module("typed_order")
    delayed = _example_module("delayed_transitions")
    sqlite = _example_module("orchestrator_sqlite")
    worker = _example_module("worker_app")
    return [
        ("python_defined_machine.PythonOrders", python_defined.PythonOrders.definition),
        ("typed_order.TypedOrder", typed.TypedOrder.definition),
        ("delayed_transitions.DEFINITION", definition_from_data(delayed.DEFINITION)),
        ("orchestrator_sqlite.ORDER_WORKFLOW", definition_from_data(sqlite.ORDER_WORKFLOW)),
        ("worker_app.order_machine", worker.order_machine().definition),
    ]


def test_the_machines_of_the_python_examples_lint_clean() -> None:
    for name, machine_definition in _python_examples():
        assert lint_definition(machine_definition) == [], name


def test_the_orchestrator_example_registers_what_its_machine_names() -> None:
    sqlite = _example_module("orchestrator_sqlite")
    found = lint_definition(
        definition_from_data(sqlite.ORDER_WORKFLOW),
        registrations=registrations_of_module(sqlite),
    )
    assert found == []


def test_the_ui_templates_lint_clean_but_the_blank_one() -> None:
    texts = re.findall(r"yaml: `([^`]*)`", TEMPLATES.read_text(encoding="utf-8"))
    assert len(texts) >= 4
    by_name = {}
    for text in texts:
        template = load_yaml_string(text)
        by_name[template.meta.machine_name] = lint_definition(template)
    # The blank template is one state to start from: a real dead end until transitions are
    # added, and reported as one.
    assert codes(by_name.pop("my_machine")) == [("dead-end-state", "states[0]")]
    assert by_name
    assert all(found == [] for found in by_name.values()), by_name


def test_a_deep_machine_is_linted_without_recursion() -> None:
    from tests.unit.test_deep_definitions import chain, shallow_stack

    machine = StateMachine.from_dict(chain(900))
    with shallow_stack():
        found = lint_definition(machine.definition, index=machine.index)
    assert found == []
