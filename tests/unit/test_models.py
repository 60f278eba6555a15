"""Definition models: frozen, ``extra="forbid"``, name patterns, guard and action refs."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from pystator import (
    ActionSpec,
    ConfigurationError,
    GuardSpec,
    MachineDefinition,
    MachineMeta,
    StateDefinition,
    TransitionDefinition,
)
from tests.unit.conftest import definition


def minimal() -> MachineDefinition:
    return MachineDefinition(
        meta=MachineMeta(machine_name="m"),
        states=(StateDefinition(name="A", type="initial"), StateDefinition(name="B")),
        transitions=(TransitionDefinition(trigger="go", source="A", dest="B"),),
    )


class TestFrozen:
    @pytest.mark.parametrize(
        ("make", "field", "value"),
        [
            (lambda: MachineMeta(machine_name="m"), "machine_name", "n"),
            (lambda: StateDefinition(name="A"), "name", "B"),
            (lambda: TransitionDefinition(trigger="t", source="A"), "dest", "B"),
            (lambda: GuardSpec(name="g"), "name", "h"),
            (lambda: ActionSpec(name="a"), "name", "b"),
            (minimal, "states", ()),
        ],
    )
    def test_assignment_is_refused(self, make: Any, field: str, value: Any) -> None:
        model = make()
        before = getattr(model, field)
        with pytest.raises(ValidationError, match="frozen"):
            setattr(model, field, value)
        assert getattr(model, field) == before

    def test_sequences_are_tuples(self) -> None:
        d = MachineDefinition.model_validate(
            definition(
                [{"name": "A", "on_enter": ["x"]}],
                [{"trigger": "t", "source": ["A"], "guards": ["g"], "actions": ["a"]}],
            )
        )
        assert isinstance(d.states, tuple)
        assert isinstance(d.transitions, tuple)
        assert isinstance(d.states[0].on_enter, tuple)
        t = d.transitions[0]
        assert isinstance(t.source, tuple)
        assert isinstance(t.guards, tuple)
        assert isinstance(t.actions, tuple)

    def test_equal_definitions_compare_equal(self) -> None:
        assert minimal() == minimal()
        other = minimal().model_copy(update={"meta": MachineMeta(machine_name="other")})
        assert other != minimal()


class TestExtraForbid:
    @pytest.mark.parametrize(
        ("cls", "data"),
        [
            (MachineMeta, {"machine_name": "m", "strict": True}),
            (StateDefinition, {"name": "A", "on_entry": ["x"]}),
            (TransitionDefinition, {"trigger": "t", "source": "A", "target": "B"}),
            (GuardSpec, {"name": "g", "args": {}}),
            (ActionSpec, {"name": "a", "parameters": {}}),
        ],
    )
    def test_unknown_key_is_refused(self, cls: Any, data: dict[str, Any]) -> None:
        with pytest.raises(ValidationError) as info:
            cls.model_validate(data)
        assert [e["type"] for e in info.value.errors()] == ["extra_forbidden"]

    def test_unknown_top_level_key_is_refused(self) -> None:
        data = definition([{"name": "A"}])
        data["version"] = "1"
        with pytest.raises(ValueError, match="version"):
            MachineDefinition.model_validate(data)


class TestNames:
    @pytest.mark.parametrize("name", ["A", "open", "PENDING_2", "x1_y", "a" * 200])
    def test_valid_names(self, name: str) -> None:
        assert StateDefinition(name=name).name == name
        assert TransitionDefinition(trigger=name, source=name).trigger == name

    @pytest.mark.parametrize(
        "name", ["", "1A", "_A", "a-b", "a.b", "a b", "é", "A\n", "a" * 300, "*"]
    )
    def test_invalid_state_and_trigger_names(self, name: str) -> None:
        with pytest.raises(ValidationError):
            StateDefinition(name=name)
        with pytest.raises(ValidationError):
            TransitionDefinition(trigger=name, source="A")
        with pytest.raises(ValidationError):
            MachineMeta(machine_name=name)

    def test_case_is_kept(self) -> None:
        assert StateDefinition(name="Pending").name == "Pending"

    @pytest.mark.parametrize("name", ["billing.charge", "ns:act", "send-mail", "_private"])
    def test_callable_names_accept_dots_colons_dashes(self, name: str) -> None:
        assert ActionSpec(name=name).name == name
        assert GuardSpec(name=name).name == name

    @pytest.mark.parametrize("name", ["", "1x", "a b", "a/b", "a()"])
    def test_invalid_callable_names(self, name: str) -> None:
        with pytest.raises(ValidationError):
            ActionSpec(name=name)
        with pytest.raises(ValidationError):
            GuardSpec(name=name)

    def test_source_wildcard_only_as_the_whole_source(self) -> None:
        assert TransitionDefinition(trigger="t", source="*").sources == ("*",)
        with pytest.raises(ValidationError):
            TransitionDefinition(trigger="t", source=("A", "*"))


class TestGuardSpec:
    def test_exactly_one_of_name_or_expr(self) -> None:
        with pytest.raises(ValidationError, match="exactly one of 'name' or 'expr'"):
            GuardSpec()
        with pytest.raises(ValidationError, match="exactly one of 'name' or 'expr'"):
            GuardSpec(name="g", expr="x > 1")
        assert GuardSpec(name="g").expr is None
        assert GuardSpec(expr="x > 1").name is None

    def test_params_only_for_named_guards(self) -> None:
        with pytest.raises(ValidationError, match="params"):
            GuardSpec(expr="x > 1", params={"a": 1})
        assert GuardSpec(name="g", params={"a": 1}).params == {"a": 1}

    def test_label(self) -> None:
        assert GuardSpec(name="g").label == "g"
        assert GuardSpec(expr="x > 1").label == "expr: x > 1"

    def test_guard_refs_accept_names_and_specs(self) -> None:
        t = TransitionDefinition.model_validate(
            {"trigger": "t", "source": "A", "guards": ["g", {"name": "h", "params": {"n": 2}}]}
        )
        assert t.guards == ("g", GuardSpec(name="h", params={"n": 2}))


class TestStateAndTransition:
    def test_state_defaults(self) -> None:
        s = StateDefinition(name="A")
        assert (s.type, s.parent, s.initial_child, s.on_enter, s.on_exit) == (
            "stable",
            None,
            None,
            (),
            (),
        )

    @pytest.mark.parametrize("kind", ["initial", "stable", "terminal"])
    def test_state_types(self, kind: str) -> None:
        assert StateDefinition.model_validate({"name": "A", "type": kind}).type == kind

    @pytest.mark.parametrize("kind", ["final", "INITIAL", "", "compound"])
    def test_unknown_state_type(self, kind: str) -> None:
        with pytest.raises(ValidationError):
            StateDefinition.model_validate({"name": "A", "type": kind})

    def test_transition_defaults(self) -> None:
        t = TransitionDefinition(trigger="t", source="A")
        assert (t.dest, t.guards, t.actions, t.priority, t.internal) == (None, (), (), 0, False)

    def test_sources_property(self) -> None:
        assert TransitionDefinition(trigger="t", source="A").sources == ("A",)
        assert TransitionDefinition.model_validate(
            {"trigger": "t", "source": ["A", "B"]}
        ).sources == ("A", "B")

    @pytest.mark.parametrize("priority", [1_000_001, -1_000_001, 1.5, "high"])
    def test_priority_bounds(self, priority: Any) -> None:
        with pytest.raises(ValidationError):
            TransitionDefinition.model_validate(
                {"trigger": "t", "source": "A", "priority": priority}
            )

    def test_action_refs_accept_names_and_specs(self) -> None:
        t = TransitionDefinition.model_validate(
            {"trigger": "t", "source": "A", "actions": ["a", {"name": "b", "params": {"k": 1}}]}
        )
        assert t.actions == ("a", ActionSpec(name="b", params={"k": 1}))


class TestMachineDefinition:
    def test_needs_a_state(self) -> None:
        with pytest.raises(ValidationError):
            MachineDefinition.model_validate(definition([]))

    def test_meta_defaults(self) -> None:
        meta = MachineMeta(machine_name="m")
        assert meta.version == "1.0.0"
        assert meta.strict_mode is True
        assert meta.validate_context is False

    def test_name_and_version_properties(self) -> None:
        d = MachineDefinition.model_validate(definition([{"name": "A"}], version="2.1.0"))
        assert (d.name, d.version) == ("m", "2.1.0")

    def test_numeric_version_becomes_text(self) -> None:
        assert MachineMeta.model_validate({"machine_name": "m", "version": 2}).version == "2"

    def test_python_built_definition_runs_cross_checks(self) -> None:
        # A definition made in Python is checked exactly like a loaded one.
        with pytest.raises(
            ConfigurationError, match=r"transitions\[0\]\.dest: state 'C' is not defined"
        ):
            MachineDefinition(
                meta=MachineMeta(machine_name="m"),
                states=(StateDefinition(name="A"),),
                transitions=(TransitionDefinition(trigger="t", source="A", dest="C"),),
            )

    def test_json_schema_is_generated(self) -> None:
        schema = MachineDefinition.model_json_schema()
        assert schema["additionalProperties"] is False
        assert set(schema["required"]) == {"meta", "states"}
        state = schema["$defs"]["StateDefinition"]
        assert state["properties"]["name"]["pattern"] == "^[A-Za-z][A-Za-z0-9_]*$"


class TestContextKeysAreData:
    """Context keys are any text, not Python names: none may clash with Pydantic's own."""

    def test_keys_that_look_like_model_attributes_or_private_names_are_checked(self) -> None:
        from pystator import StateMachine

        machine = StateMachine.from_dict(
            {
                "meta": {"machine_name": "m", "validate_context": True},
                "context": {
                    "fields": {
                        "model_fields": {"type": "integer"},
                        "_x": {"type": "integer"},
                        "order-id": {"type": "string", "required": True},
                    }
                },
                "states": [{"name": "A", "type": "initial"}, {"name": "B"}],
                "transitions": [{"trigger": "go", "source": "A", "dest": "B"}],
            }
        )
        bad = machine.process("A", "go", {"model_fields": "x", "_x": "y"})
        assert bad.success is False
        message = str(bad.error)
        assert "model_fields: Input should be a valid integer" in message
        assert "_x: Input should be a valid integer" in message
        assert "order-id: required key is missing" in message
        good = machine.process("A", "go", {"model_fields": 1, "_x": 2, "order-id": "o1"})
        assert good.success is True
