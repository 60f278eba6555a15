"""The orchestrator's copies of a result's JSON are equal to it and share nothing."""

from __future__ import annotations

import marshal
from typing import Any

import pytest

from pystator.runtime.orchestrator import _json_copier


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
    original = marshal.loads(marshal.dumps(data))
    copy = _json_copier(data)
    assert copy is not None
    first, second = copy(), copy()
    assert first == second == original
    # Changing a copy (or the dict the copier was made from) changes no other copy.
    for container in (first, data):
        for value in container.values():
            if isinstance(value, list):
                value.append("changed")
            elif isinstance(value, dict):
                value["changed"] = True
        container["added"] = 1
    assert copy() == original == second


def test_result_json_of_an_unknown_value_is_not_copied() -> None:
    assert _json_copier({"when": object()}) is None
    assert _json_copier({"items": [object()]}) is None
