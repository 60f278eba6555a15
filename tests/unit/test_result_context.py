"""``TransitionResult.context``: a result always serialises to JSON, whatever its context
holds, and ``context`` counts as set on every result (``exclude_unset`` keeps it)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from pystator import StateMachine
from pystator.models.result import TransitionResult, with_context
from tests.unit.conftest import build


class Client:
    """An object with no JSON form, as a caller may keep in a context."""

    def __repr__(self) -> str:
        return "Client(prod)"


class Counter(BaseModel):
    n: int = 0


class Holder(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    client: Client
    n: int = 0


def machine(**kwargs: Any) -> StateMachine:
    return StateMachine.from_dict(
        {
            "meta": {"machine_name": "m"},
            "states": [{"name": "A", "type": "initial"}, {"name": "B"}],
            "transitions": [{"trigger": "go", "source": "A", "dest": "B"}],
        },
        **kwargs,
    )


def test_a_context_holding_objects_json_cannot_hold_still_serialises() -> None:
    client = Client()
    result = machine().process("A", "go", {"client": client, "ids": {2, 1}, "n": 1})
    expected = {"client": "Client(prod)", "ids": [1, 2], "n": 1}
    dumped = json.loads(result.model_dump_json())["context"]
    assert {**dumped, "ids": sorted(dumped["ids"])} == expected
    as_json = result.model_dump(mode="json")["context"]
    assert {**as_json, "ids": sorted(as_json["ids"])} == expected
    json.dumps(result.model_dump(mode="json"))
    # The Python form is the context itself.
    assert result.model_dump()["context"]["client"] is client


def test_a_model_context_serialises_as_its_json() -> None:
    result = machine(context_model=Counter).process("A", "go", {"n": 3})
    assert result.context == Counter(n=3)
    assert json.loads(result.model_dump_json())["context"] == {"n": 3}
    again = TransitionResult.model_validate_json(result.model_dump_json())
    assert again.context == {"n": 3}  # read back as JSON data


def test_objects_inside_a_model_and_unprintable_or_huge_values_become_strings() -> None:
    class Silent:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    class Loud:
        def __repr__(self) -> str:
            return "x" * 10_000

    base = TransitionResult(success=True, source_state="A", trigger="t")
    holder = with_context(base, Holder(client=Client(), n=2))
    assert json.loads(holder.model_dump_json())["context"] == {"client": "Client(prod)", "n": 2}
    odd = json.loads(with_context(base, {"s": Silent(), "l": Loud()}).model_dump_json())
    assert odd["context"]["s"].endswith(".Silent>")  # its type, when repr fails
    assert odd["context"]["l"] == "x" * 200 + "..."
    loop: list[Any] = []
    loop.append(loop)
    looped = json.loads(with_context(base, {"loop": loop}).model_dump_json())
    assert looped["context"] == "{'loop': [[...]]}"


def test_context_counts_as_set_on_every_result() -> None:
    m = build(
        [{"name": "A", "type": "initial"}, {"name": "B"}],
        [
            {"trigger": "go", "source": "A", "dest": "B"},
            {"trigger": "add", "source": "A", "dest": "A", "assign": {"n": "n + 1"}},
        ],
    )
    results = {
        "shared, carrying the call's context": m.process("A", "go", {"n": 1}),
        "assigned": m.process("A", "add", {"n": 1}),
        "failed": m.process("B", "go", {"n": 1}),
        "no context": m.process("A", "go"),
        "built": TransitionResult(success=True, source_state="A", trigger="t"),
        "read back": TransitionResult.model_validate(
            {"success": True, "source_state": "A", "trigger": "t"}
        ),
    }
    for label, result in results.items():
        assert "context" in result.model_fields_set, label
        assert "context" in result.model_dump(exclude_unset=True), label
    assert results["assigned"].model_dump(exclude_unset=True)["context"] == {"n": 2}


def test_with_context_shares_the_fields_set_it_was_built_with() -> None:
    # No per-call work: the copy holds the very set of its original (which has ``context``).
    base = TransitionResult(success=True, source_state="A", trigger="t")
    copy = with_context(base, {"n": 1})
    assert copy.model_fields_set is base.model_fields_set
    assert copy.model_dump(exclude_unset=True) == {
        "success": True,
        "source_state": "A",
        "trigger": "t",
        "context": {"n": 1},
        "all_actions": (),
        "state_changed": False,
    }
