"""Definitions survive every serialised form as equal models."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings

from pystator import MachineDefinition, StateMachine
from pystator.loaders import (
    definition_to_json,
    definition_to_yaml,
    load_json_string,
    load_yaml_string,
)
from tests.property.strategies import machines

SETTINGS = settings(max_examples=80, deadline=None)


@SETTINGS
@given(data=machines())
def test_generated_definitions_are_valid(data: dict[str, Any]) -> None:
    machine = StateMachine.from_dict(data)
    assert machine.get_initial_state() in machine.states


@SETTINGS
@given(data=machines())
def test_dict_round_trip(data: dict[str, Any]) -> None:
    definition = MachineDefinition.model_validate(data)
    machine = StateMachine.from_definition(definition)
    again = StateMachine.from_dict(machine.to_dict())
    assert again.definition == definition
    assert again.definition_hash == machine.definition_hash
    assert again.to_dict() == machine.to_dict()


@SETTINGS
@given(data=machines())
def test_json_round_trip(data: dict[str, Any]) -> None:
    definition = MachineDefinition.model_validate(data)
    text = definition_to_json(definition)
    assert load_json_string(text) == definition
    assert json.loads(text) == StateMachine.from_definition(definition).to_dict()


@SETTINGS
@given(data=machines())
def test_yaml_round_trip(data: dict[str, Any]) -> None:
    definition = MachineDefinition.model_validate(data)
    assert load_yaml_string(definition_to_yaml(definition)) == definition


@SETTINGS
@given(data=machines())
def test_pydantic_json_round_trip(data: dict[str, Any]) -> None:
    definition = MachineDefinition.model_validate(data)
    assert MachineDefinition.model_validate_json(definition.model_dump_json()) == definition
