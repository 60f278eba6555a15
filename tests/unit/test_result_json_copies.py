"""The orchestrator's copies of a result's JSON (``orchestration/result_json.py``) against
their plain twins: ``json_copier``'s copies equal ``copy.deepcopy`` and share nothing, and
``ResultJson`` gives what ``model_dump`` gives, hit or miss."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pystator import StateMachine
from pystator.models.result import TransitionResult
from pystator.runtime.orchestration.result_json import (
    NOT_DUMPED,
    PlainResultJson,
    ResultJson,
    json_copier,
)


@pytest.mark.parametrize(
    "data",
    [
        # a plain transition's result: scalars, and lists and dicts of scalars
        {"success": True, "target_state": "A", "exited_states": ["A"], "metadata": {}, "n": None},
        # deeper: actions with params, an error with details
        {"success": True, "all_actions": [{"name": "a", "params": {"x": [1]}}], "error": None},
        {"error": {"message": "no", "details": {"k": 1}}, "history": {"P": ["P.X"]}},
    ],
)
def test_result_json_copies_are_equal_and_share_nothing(data: dict[str, Any]) -> None:
    original = copy.deepcopy(data)  # the plain twin
    copier = json_copier(data)
    assert copier is not None
    first, second = copier(), copier()
    assert first == second == original
    # Changing a copy (or the dict the copier was made from) changes no other copy.
    for container in (first, data):
        for value in container.values():
            if isinstance(value, list):
                value.append("changed")
            elif isinstance(value, dict):
                value["changed"] = True
        container["added"] = 1
    assert copier() == original == second


def test_result_json_of_an_unknown_value_is_not_copied() -> None:
    assert json_copier({"when": object()}) is None
    assert json_copier({"items": [object()]}) is None


MACHINE: dict[str, Any] = {
    "meta": {"version": "1.0.0", "machine_name": "m", "strict_mode": True},
    "states": [{"name": "A", "type": "initial"}, {"name": "B", "type": "terminal"}],
    "transitions": [
        {
            "trigger": "go",
            "source": "A",
            "dest": "B",
            "actions": [{"name": "a", "params": {"x": 1}}],
        },
        {"trigger": "tick", "source": "A", "dest": "A"},
    ],
}


def test_result_json_is_model_dump_without_the_context() -> None:
    """``ResultJson`` against its plain twin, ``model_dump(mode="json", exclude=...)``: equal on
    the first call (a miss) and on every later call for results the machine shares (hits),
    a new dict each time, whatever the context."""
    machine = StateMachine.from_dict(MACHINE)
    result_json = ResultJson()
    plain = PlainResultJson()
    assert {"context"} == NOT_DUMPED
    for trigger in ("go", "tick"):
        seen: list[dict[str, Any]] = []
        for n in range(3):
            result = machine.process("A", trigger, {"n": n})
            assert result.success
            expected = result.model_dump(mode="json", exclude={"context"})
            got = result_json(result)
            assert got == expected == plain(result)
            assert "context" not in got
            assert all(got is not other for other in seen)
            got["metadata"]["changed"] = True  # a caller's copy is its own
            seen.append(got)
        assert result_json(result) == expected


def test_a_result_sharing_only_the_set_of_fields_set_is_dumped_again() -> None:
    """The cache serves a result's JSON only when every value but the context is the very
    object it was made from; a result that shares the set of fields set (the cache's key)
    but holds another value gets its own ``model_dump``."""
    machine = StateMachine.from_dict(MACHINE)
    result_json = ResultJson()
    result = machine.process("A", "tick", {})
    assert result_json(result)["target_state"] == "A"
    other = copy.copy(result)
    object.__setattr__(other, "__pydantic_fields_set__", result.model_fields_set)
    other.__dict__["target_state"] = "B"
    assert other.model_fields_set is result.model_fields_set
    assert isinstance(other, TransitionResult)
    assert result_json(other) == other.model_dump(mode="json", exclude={"context"})
    assert result_json(other)["target_state"] == "B"
    assert result_json(result)["target_state"] == "A"
