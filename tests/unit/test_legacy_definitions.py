"""Definitions written for pystator 0.0.x load unchanged (issue 14, item 6; SPEC section 8).

The 0.0.x form lists a region's states by name in ``regions[].states`` and declares each of
them again in the flat ``states`` list; transitions may carry ``region:``. And in the 0.0.x
error tree a guard rejection and a terminal state are ``InvalidTransitionError``s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pystator import (
    ConfigurationError,
    GuardRejectedError,
    InvalidTransitionError,
    StateMachine,
    TerminalStateError,
    UndefinedTriggerError,
)
from pystator.cli import main
from pystator.models.definition import MachineDefinition
from pystator.models.tree import flatten

LEGACY = """\
meta:
  machine_name: legacy_order
  strict_mode: false
states:
  - name: IDLE
    type: initial
  - name: PROCESSING
    type: parallel
    regions:
      - name: payment
        states: [pay_pending, paid]
      - name: shipping
        states: [ship_pending, shipped]
  - name: pay_pending
    parent: PROCESSING
    type: initial
    on_enter: [ask_for_payment]
  - name: paid
    parent: PROCESSING
    type: terminal
    on_enter: [send_receipt]
  - name: ship_pending
  - name: shipped
    parent: shipping
    type: terminal
    on_exit: [never_runs]
  - name: DONE
    type: terminal
transitions:
  - {trigger: start, source: IDLE, dest: PROCESSING}
  - {trigger: pay, source: pay_pending, dest: paid, region: payment}
  - {trigger: ship, source: ship_pending, dest: shipped, region: shipping}
  - {trigger: done.state.PROCESSING, source: PROCESSING, dest: DONE}
"""


def legacy(**changes: Any) -> dict[str, Any]:
    """The legacy machine as data, with top-level keys replaced."""
    data = StateMachine.from_yaml_string(LEGACY).to_dict()
    data.update(changes)
    return data


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigurationError) as info:
        StateMachine.from_dict(data)
    return [str(issue) for issue in info.value.issues]


class TestDuplicatedRegionMembers:
    def test_each_member_is_one_state_in_its_region_with_the_flat_fields(self) -> None:
        machine = StateMachine.from_yaml_string(LEGACY)
        nodes = [n for n in flatten(machine.definition.states) if n.kind == "state"]
        names = [n.name for n in nodes]
        assert sorted(names) == sorted(set(names))  # one node per state
        by_name = {n.name: n for n in nodes}
        assert by_name["paid"].parent == "payment"
        assert by_name["shipped"].parent == "shipping"
        assert by_name["ship_pending"].parent == "shipping"
        assert by_name["paid"].state is not None
        assert by_name["paid"].state.type == "terminal"
        assert by_name["paid"].path == "states[3]"
        assert by_name["paid"].listed_at == "states[1].regions[0].states[1]"

    def test_it_runs(self) -> None:
        machine = StateMachine.from_yaml_string(LEGACY)
        entered = machine.process("IDLE", "start", {})
        assert entered.success
        assert entered.target_state == "PROCESSING(payment=pay_pending, shipping=ship_pending)"
        assert entered.entered_states == (
            "PROCESSING",
            "payment",
            "pay_pending",
            "shipping",
            "ship_pending",
        )
        assert [a.name for a in entered.on_enter_actions] == ["ask_for_payment"]

        paid = machine.process(entered.target_state, "pay", {})
        assert paid.target_state == "PROCESSING(payment=paid, shipping=ship_pending)"
        assert paid.exited_states == ("pay_pending",)
        assert [a.name for a in paid.on_enter_actions] == ["send_receipt"]

        # Both regions final (the flat entries' type): the parallel state completes.
        shipped = machine.process(paid.target_state, "ship", {})
        assert shipped.target_state == "DONE"

    def test_round_trips(self) -> None:
        machine = StateMachine.from_yaml_string(LEGACY)
        again = StateMachine.from_dict(machine.to_dict())
        assert again.definition == machine.definition
        assert StateMachine.from_yaml_string(machine.to_yaml()).definition == machine.definition
        assert MachineDefinition.model_validate_json(machine.definition.model_dump_json()) == (
            machine.definition
        )

    def test_the_flat_entry_may_come_first(self) -> None:
        data = legacy()
        data["states"] = data["states"][2:] + data["states"][:2]
        machine = StateMachine.from_dict(data)
        assert machine.process("IDLE", "start", {}).target_state == (
            "PROCESSING(payment=pay_pending, shipping=ship_pending)"
        )

    def test_a_parent_naming_another_state_is_an_error_naming_both_places(self) -> None:
        data = legacy()
        data["states"][3] = {"name": "paid", "parent": "IDLE"}
        assert problems(data) == [
            "states[3].parent: 'paid' is listed by name in region 'payment' (at "
            "states[1].regions[0].states[1]): declared here too, it takes no parent, "
            "'PROCESSING' or 'payment' as parent, not 'IDLE'"
        ]

    def test_two_full_definitions_are_an_error_naming_both_places(self) -> None:
        data = legacy()
        data["states"][1]["regions"][0]["states"][1] = {"name": "paid", "type": "terminal"}
        assert problems(data) == [
            "states[3].name: state 'paid' is defined twice (also at states[1].regions[0].states[1])"
        ]

    def test_a_name_listed_in_two_regions_is_an_error_naming_both_places(self) -> None:
        data = legacy()
        data["states"][1]["regions"][1]["states"].append("pay_pending")
        found = problems(data)
        assert (
            "states[1].regions[1].states[2]: state 'pay_pending' is listed in two regions "
            "(also at states[1].regions[0].states[0])"
        ) in found

    def test_two_flat_declarations_are_still_an_error(self) -> None:
        data = legacy()
        data["states"].append({"name": "paid", "type": "terminal"})
        found = problems(data)
        assert found
        assert all("'paid' is defined twice" in p for p in found)

    def test_a_flat_entry_under_the_parallel_state_but_in_no_region_is_refused(self) -> None:
        data = legacy()
        data["states"].append({"name": "stray", "parent": "PROCESSING"})
        assert problems(data) == [
            "states[7].parent: 'PROCESSING' is a parallel state: put 'stray' in one of its "
            "regions (regions[].states, or parent: <region name>)"
        ]

    def test_a_parallel_state_listed_in_its_own_region_is_refused(self) -> None:
        data = legacy()
        data["states"][1]["regions"][0]["states"].append("PROCESSING")
        found = problems(data)
        assert any("'PROCESSING' is defined twice" in p for p in found)

    def test_the_command_line_validates_it(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        good = tmp_path / "legacy.yaml"
        good.write_text(LEGACY)
        assert main(["validate", str(good)]) == 0
        bad = tmp_path / "conflict.yaml"
        bad.write_text(
            LEGACY.replace("    parent: PROCESSING\n    type: terminal", "    parent: IDLE")
        )
        assert main(["validate", str(bad)]) != 0
        assert "'paid' is listed by name in region 'payment'" in capsys.readouterr().err


class TestRegionOnTransitions:
    def with_transition(self, **fields: Any) -> dict[str, Any]:
        data = legacy()
        data["transitions"] = [*data["transitions"], {"trigger": "t", **fields}]
        return data

    def test_the_right_region_loads(self) -> None:
        data = self.with_transition(source=["pay_pending"], dest="paid", region="payment")
        transition = StateMachine.from_dict(data).definition.transitions[-1]
        assert transition.region == "payment"

    def test_a_source_in_another_region(self) -> None:
        data = self.with_transition(source="pay_pending", dest="paid", region="shipping")
        assert problems(data) == [
            "transitions[4].region: source 'pay_pending' is not in region 'shipping' "
            "(it is in region 'payment')"
        ]

    def test_a_source_in_no_region(self) -> None:
        data = self.with_transition(source="IDLE", dest="DONE", region="payment")
        assert problems(data) == [
            "transitions[4].region: source 'IDLE' is not in region 'payment' (it is in no region)"
        ]

    def test_an_undefined_region_is_suggested(self) -> None:
        data = self.with_transition(source="pay_pending", dest="paid", region="paymnt")
        assert problems(data) == [
            "transitions[4].region: region 'paymnt' is not defined; did you mean 'payment'?"
        ]

    def test_a_state_is_not_a_region(self) -> None:
        data = self.with_transition(source="pay_pending", dest="paid", region="PROCESSING")
        assert problems(data) == ["transitions[4].region: 'PROCESSING' is a state, not a region"]

    def test_a_wildcard_source_has_no_region(self) -> None:
        data = self.with_transition(source="*", dest="DONE", region="payment")
        assert problems(data) == [
            "transitions[4].region: a transition from '*' has no single region: list its "
            "source states"
        ]


class TestErrorTree:
    def test_guard_rejection_and_terminal_state_are_invalid_transitions(self) -> None:
        assert issubclass(GuardRejectedError, InvalidTransitionError)
        assert issubclass(TerminalStateError, InvalidTransitionError)
        assert issubclass(UndefinedTriggerError, InvalidTransitionError)

    def test_except_invalid_transition_catches_a_guard_rejection(self) -> None:
        machine = StateMachine.from_dict(
            {
                "meta": {"machine_name": "m"},
                "states": [
                    {"name": "A", "type": "initial"},
                    {"name": "B", "type": "terminal"},
                ],
                "transitions": [
                    {"trigger": "go", "source": "A", "dest": "B", "guards": [{"expr": "ok"}]}
                ],
            }
        )
        rejected = machine.process("A", "go", {"ok": False})
        caught: InvalidTransitionError | None = None
        try:
            rejected.raise_for_error()
        except InvalidTransitionError as exc:
            caught = exc
        assert isinstance(caught, GuardRejectedError)
        assert caught.code.value == "GUARD_REJECTED"
        assert (caught.current_state, caught.trigger, caught.guard_name) == ("A", "go", "expr: ok")

        terminal = machine.process("B", "go", {})
        with pytest.raises(InvalidTransitionError) as info:
            terminal.raise_for_error()
        assert type(info.value) is TerminalStateError
        assert info.value.code.value == "TERMINAL_STATE"
        assert (info.value.current_state, info.value.trigger) == ("B", "go")

    def test_keyword_arguments_of_0_0_x_still_work(self) -> None:
        error = GuardRejectedError("no", guard_name="g", current_state="A", trigger="go")
        assert (error.guard_name, error.current_state, error.trigger) == ("g", "A", "go")
        assert TerminalStateError("done").current_state == ""
