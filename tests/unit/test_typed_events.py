"""Typed events: ``events:`` in the definition or ``event_models=``; payloads validated first."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel

from pystator import (
    ConfigurationError,
    ErrorCode,
    PayloadValidationError,
    StateMachine,
    UndefinedStateError,
)
from tests.unit.conftest import definition


def order_data(**extra: Any) -> dict[str, Any]:
    data = definition(
        [{"name": "OPEN", "type": "initial"}, {"name": "FILLED"}],
        [
            {
                "trigger": "fill",
                "source": "OPEN",
                "dest": "FILLED",
                "guards": ["big_enough"],
            },
            {"trigger": "cancel", "source": "OPEN", "dest": "FILLED"},
        ],
    )
    data.update(extra)
    return data


EVENTS = {"fill": {"fields": {"qty": {"type": "integer", "required": True, "minimum": 1}}}}


class Fill(BaseModel):
    qty: int
    price: float = 1.0


def machine(**kwargs: Any) -> tuple[StateMachine, list[Any]]:
    events = kwargs.pop("events", EVENTS)
    m = StateMachine.from_dict(order_data(events=events), **kwargs)
    seen: list[Any] = []

    @m.guard("big_enough")
    def big_enough(ctx: Any) -> bool:
        seen.append(ctx)
        return bool(ctx["qty"] >= 1)

    return m, seen


def test_a_bad_payload_fails_before_any_guard() -> None:
    m, seen = machine()
    session = m.create()
    result = session.send("fill", qty=0)
    assert not result.success
    assert result.metadata["reason"] == "payload_validation"
    assert result.metadata["errors"] == ["qty: Input should be greater than or equal to 1"]
    assert isinstance(result.error, PayloadValidationError)
    assert result.error.code is ErrorCode.VALIDATION_FAILED
    assert result.error.errors == result.metadata["errors"]
    assert seen == []
    assert session.current_state == "OPEN"
    assert session.context == {}
    missing = session.send("fill")
    assert missing.metadata["errors"] == ["qty: required key is missing"]


def test_a_good_payload_is_merged() -> None:
    m, seen = machine()
    session = m.create(context={"a": 1})
    assert session.send("fill", qty=2).success
    assert session.context == {"a": 1, "qty": 2}
    assert seen == [{"a": 1, "qty": 2}]


def test_undeclared_triggers_are_not_checked() -> None:
    m, _ = machine()
    assert m.create().send("cancel", anything="goes").success


def test_stateless_process_reads_the_declared_keys_from_the_context() -> None:
    m, _ = machine()
    bad = m.process("OPEN", "fill", {"other": 1})
    assert bad.metadata["reason"] == "payload_validation"
    assert bad.metadata["errors"] == ["qty: required key is missing"]
    given = {"qty": 3, "other": 1}
    good = m.process("OPEN", "fill", given)
    assert good.success
    assert good.context is given


def test_an_event_model_coerces_and_wins_over_the_events_section() -> None:
    m, seen = machine(event_models={"fill": Fill})
    assert m.event_model("fill") is Fill
    session = m.create()
    assert session.send("fill", qty="4").success  # Fill is not strict: "4" -> 4
    assert seen == [{"qty": 4, "price": 1.0}]
    assert session.context == {"qty": 4, "price": 1.0}
    result = m.process("OPEN", "fill", {"qty": "2"})
    assert result.context == {"qty": 2, "price": 1.0}


def test_event_model_and_schemas() -> None:
    m, _ = machine()
    generated = m.event_model("fill")
    assert generated is not None
    assert generated.model_validate({"qty": 2})
    assert m.event_model("cancel") is None
    assert m.event_schemas() == {
        "fill": {
            "type": "object",
            "properties": {"qty": {"type": "integer", "minimum": 1}},
            "required": ["qty"],
            "additionalProperties": True,
        }
    }
    typed, _ = machine(events={}, event_models={"fill": Fill})
    assert typed.event_schemas()["fill"]["title"] == "Fill"


def test_event_models_keys_must_be_triggers() -> None:
    with pytest.raises(ConfigurationError) as info:
        StateMachine.from_dict(order_data(), event_models={"fil": Fill})
    assert str(info.value.issues[0]).startswith("event_models.fil: 'fil' is not a trigger")
    assert "did you mean 'fill'" in str(info.value.issues[0])
    with pytest.raises(ConfigurationError, match=r"event_models\.fill: must be a Pydantic"):
        StateMachine.from_dict(order_data(), event_models={"fill": dict})  # type: ignore[dict-item]


def test_with_a_context_model_payload_fields_update_the_instance() -> None:
    class Ctx(BaseModel):
        qty: int = 0

    m = StateMachine.from_dict(order_data(events=EVENTS), context_model=Ctx)
    m.guard("big_enough")(lambda ctx: ctx.qty >= 1)
    session = m.create()
    assert session.send("fill", qty=2).success
    assert session.context == Ctx(qty=2)


def test_async_send_validates_too() -> None:
    m, _ = machine()
    session = m.create()
    result = asyncio.run(session.asend("fill", qty="x"))
    assert result.metadata["reason"] == "payload_validation"
    assert asyncio.run(session.asend("fill", qty=1)).success


def test_a_trigger_that_only_labels_a_delayed_transition_gets_no_session_method() -> None:
    machine = StateMachine.from_yaml_string(
        """
meta: {machine_name: labels}
states:
  - {name: A, type: initial}
  - {name: B}
transitions:
  - {trigger: expire, source: A, dest: B, after: 5s}
  - {trigger: go, source: A, dest: B}
"""
    )
    session = machine.create()
    assert not hasattr(session, "expire")  # sending it would fire nothing
    assert session.go().target_state == "B"


_DEFAULTS = """
meta: {machine_name: defaults}
states:
  - {name: A, type: initial}
  - {name: B}
  - {name: Z, type: terminal}
transitions:
  - {trigger: fill, source: [A, B], dest: B}
  - {trigger: end, source: [A, B], dest: Z}
"""


class _Fill(BaseModel):
    qty: int
    note: str = ""


def test_an_event_models_default_never_overwrites_the_context() -> None:
    machine = StateMachine.from_yaml_string(_DEFAULTS, event_models={"fill": _Fill})
    session = machine.create(context={"note": "keep me"})
    assert session.send("fill", qty=2).success
    assert session.context == {"note": "keep me", "qty": 2}
    fresh = machine.create(context={})
    fresh.send("fill", qty=1)
    assert fresh.context == {"qty": 1, "note": ""}  # no such key yet: the default applies
    assert session.send("fill", qty=3, note="new").success
    assert session.context["note"] == "new"


def test_an_undefined_state_raises_and_a_terminal_state_refuses_before_the_payload() -> None:
    machine = StateMachine.from_yaml_string(_DEFAULTS, event_models={"fill": _Fill})
    with pytest.raises(UndefinedStateError):
        machine.process("NOPE", "fill", {"qty": "not a number"})
    result = machine.process("Z", "fill", {"qty": "not a number"})
    assert result.metadata["reason"] == "terminal_state"
    assert machine.process("A", "fill", {"qty": "x"}).metadata["reason"] == "payload_validation"
