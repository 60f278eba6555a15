"""Typed context: with ``context_model=``, guards, actions and hooks get a validated instance."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from pystator import (
    ContextValidationError,
    EntitySession,
    IncompatibleSnapshotError,
    StateMachine,
)
from tests.unit.conftest import definition


class Address(BaseModel):
    city: str


class Order(BaseModel):
    order_qty: int
    filled_qty: int = 0
    address: Address | None = None


class StrictOrder(BaseModel):
    model_config = ConfigDict(strict=True)
    order_qty: int


ORDER = definition(
    [{"name": "PENDING", "type": "initial"}, {"name": "OPEN"}, {"name": "FILLED"}],
    [
        {"trigger": "ack", "source": "PENDING", "dest": "OPEN", "actions": ["seen"]},
        {"trigger": "fill", "source": "OPEN", "dest": "FILLED", "guards": ["is_full"]},
        {
            "trigger": "ship",
            "source": "OPEN",
            "dest": "FILLED",
            "guards": [{"expr": "address.city == 'Paris' and order_qty > 1"}],
        },
    ],
)


def order_machine(model: type[BaseModel] = Order) -> tuple[StateMachine, list[Any]]:
    m = StateMachine.from_dict(ORDER, context_model=model)
    seen: list[Any] = []

    @m.guard("is_full")
    def is_full(ctx: Any) -> bool:
        seen.append(("guard", ctx))
        return bool(ctx.filled_qty >= ctx.order_qty)

    @m.action("seen")
    def action(ctx: Any) -> None:
        seen.append(("action", ctx))

    return m, seen


def test_guards_receive_a_coerced_instance() -> None:
    m, seen = order_machine()
    result = m.process("OPEN", "fill", {"order_qty": "5", "filled_qty": "5"})
    assert result.success
    assert result.target_state == "FILLED"
    kind, ctx = seen[0]
    assert kind == "guard"
    assert isinstance(ctx, Order)
    assert ctx.order_qty == 5  # "5" became 5
    assert result.context == Order(order_qty=5, filled_qty=5)


def test_a_strict_model_does_not_coerce() -> None:
    m, _ = order_machine(StrictOrder)
    bad = m.process("PENDING", "ack", {"order_qty": "5"})
    assert not bad.success
    assert bad.metadata["reason"] == "context_validation"
    assert bad.metadata["errors"] == ["order_qty: Input should be a valid integer"]
    assert isinstance(bad.error, ContextValidationError)
    assert m.process("PENDING", "ack", {"order_qty": 5}).success


def test_an_invalid_context_fails_and_carries_the_input() -> None:
    m, seen = order_machine()
    given = {"order_qty": "many"}
    result = m.process("OPEN", "fill", given)
    assert result.metadata["reason"] == "context_validation"
    assert "order_qty" in result.metadata["errors"][0]
    assert result.context is given
    assert seen == []  # no guard ran


def test_expr_guards_read_fields_and_nested_models() -> None:
    m, _ = order_machine()
    ctx = Order(order_qty=2, address=Address(city="Paris"))
    assert m.process("OPEN", "ship", ctx).target_state == "FILLED"
    ctx = Order(order_qty=2, address=Address(city="Rome"))
    assert m.process("OPEN", "ship", ctx).metadata["reason"] == "guard_rejected"


def test_the_session_context_is_the_instance_and_actions_get_it() -> None:
    m, seen = order_machine()
    session = m.create(context={"order_qty": "3"})
    assert isinstance(session.context, Order)
    assert session.context.order_qty == 3
    session.send("ack")
    assert seen[-1] == ("action", session.context)
    # Payload keys that are fields update the context (validated, coerced).
    assert session.send("fill", filled_qty="3").success
    assert session.context == Order(order_qty=3, filled_qty=3)


def test_a_payload_that_breaks_the_model_changes_nothing() -> None:
    m, _ = order_machine()
    session = m.create(context={"order_qty": 3}, initial_state="OPEN")
    before = session.context
    result = session.send("fill", filled_qty="lots")
    assert result.metadata["reason"] == "context_validation"
    assert session.context is before
    assert session.current_state == "OPEN"


def test_payload_keys_that_are_not_fields_are_seen_during_the_step_only() -> None:
    m = StateMachine.from_dict(
        definition(
            [{"name": "A", "type": "initial"}, {"name": "B"}],
            [{"trigger": "go", "source": "A", "dest": "B", "guards": [{"expr": "note == 'x'"}]}],
        ),
        context_model=Order,
    )
    session = m.create(context={"order_qty": 1})
    assert session.send("go", note="x").success
    assert not hasattr(session.context, "note")
    assert "note" not in m.context_json(session.context)


def test_snapshots_store_json_and_rebuild_the_instance() -> None:
    m, _ = order_machine()
    session = m.create(context={"order_qty": 2, "address": {"city": "Oslo"}})
    snap = session.snapshot()
    assert snap["context"] == {"order_qty": 2, "filled_qty": 0, "address": {"city": "Oslo"}}
    restored = EntitySession.from_snapshot(m, snap)
    assert restored.context == session.context
    assert isinstance(restored.context.address, Address)
    snap["context"] = {"order_qty": "x"}
    with pytest.raises(IncompatibleSnapshotError, match="order_qty"):
        EntitySession.from_snapshot(m, snap)


def test_public_helpers() -> None:
    m, _ = order_machine()
    assert m.context_model is Order
    assert m.coerce_context({"order_qty": "4"}) == Order(order_qty=4)
    with pytest.raises(ContextValidationError) as info:
        m.coerce_context({})
    assert info.value.errors == ["order_qty: required key is missing"]
    assert m.context_json(Order(order_qty=1)) == {
        "order_qty": 1,
        "filled_qty": 0,
        "address": None,
    }
    assert m.context_schema()["title"] == "Order"
    plain = StateMachine.from_dict(ORDER)
    assert plain.context_model is None
    data = {"a": 1}
    assert plain.coerce_context(data) is data
    assert plain.context_json(data) == data


def test_hooks_see_the_instance() -> None:
    m, _ = order_machine()
    contexts: list[Any] = []

    class Hook:
        def on_before_process(self, state: str, trigger: str, context: Any) -> None:
            contexts.append(context)

    m.add_hook(Hook())
    m.process("PENDING", "ack", {"order_qty": "1"})
    assert contexts == [Order(order_qty=1)]


def test_async_paths_behave_the_same() -> None:
    m, _seen = order_machine()

    async def run() -> EntitySession:
        session = m.create(context={"order_qty": "1"})
        await session.asend("ack")
        await session.asend("fill", filled_qty=1)
        return session

    session = asyncio.run(run())
    assert session.current_state == "FILLED"
    assert session.context == Order(order_qty=1, filled_qty=1)
    result = asyncio.run(m.aprocess("OPEN", "fill", {"order_qty": "2", "filled_qty": 2}))
    assert result.success
    assert result.context == Order(order_qty=2, filled_qty=2)


def test_machines_without_a_model_keep_dicts() -> None:
    m = StateMachine.from_dict(ORDER)
    m.action("seen")(lambda ctx: None)
    session = m.create(context={"order_qty": 1})
    session.send("ack", extra=1)
    assert session.context == {"order_qty": 1, "extra": 1}
    assert type(session.context) is dict


# ----------------------------------------------------------------------------- stored JSON
class _Forbidding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    qty: int = 0


class _StrictWithDate(BaseModel):
    model_config = ConfigDict(strict=True)

    qty: int
    at: datetime


_ONE_STEP = """
meta: {machine_name: stored}
states:
  - {name: A, type: initial}
  - {name: B}
transitions:
  - {trigger: go, source: A, dest: B, assign: {qty: "qty + step"}}
"""


def test_process_reads_payload_keys_beside_a_model_that_forbids_extra_keys() -> None:
    machine = StateMachine.from_yaml_string(_ONE_STEP, context_model=_Forbidding)
    result = machine.process("A", "go", {"qty": 1, "step": 2})
    assert result.success, result.metadata
    assert result.context == _Forbidding(qty=3)
    # Creating an entity with a key the model forbids is still refused.
    with pytest.raises(ContextValidationError, match="step"):
        machine.coerce_context({"qty": 1, "step": 2})


def test_a_strict_model_reads_back_its_own_json() -> None:
    machine = StateMachine.from_yaml_string(
        _ONE_STEP.replace('"qty + step"', '"qty + 1"'), context_model=_StrictWithDate
    )
    original = _StrictWithDate(qty=1, at=datetime(2026, 12, 7, 12, 0, tzinfo=UTC))
    stored = machine.context_json(original)
    assert isinstance(stored["at"], str)
    assert machine.coerce_context(stored) == original
    result = machine.process("A", "go", stored)
    assert result.success, result.metadata
    assert result.context == _StrictWithDate(qty=2, at=original.at)
    # Python data of the wrong type is still refused by the strict model.
    with pytest.raises(ContextValidationError, match="qty"):
        machine.coerce_context({"qty": "1", "at": stored["at"]})
    session = machine.create(context=original)
    restored = type(session).from_snapshot(machine, session.snapshot())
    assert restored.context == original


class _Aliased(BaseModel):
    model_config = ConfigDict(extra="forbid")

    total: int = Field(0, alias="Total")


def test_the_stored_json_of_an_aliased_model_is_what_its_schema_describes() -> None:
    machine = StateMachine.from_yaml_string(
        _ONE_STEP.replace(', assign: {qty: "qty + step"}', ""), context_model=_Aliased
    )
    stored = machine.context_json(_Aliased(Total=3))
    assert stored == {"Total": 3}
    assert set(stored) <= set(machine.context_schema()["properties"])
    assert machine.coerce_context(stored) == _Aliased(Total=3)
    session = machine.create(context={})
    session.send("go", Total=5, step=0)  # the alias, sent as a payload key, sets the field
    assert session.context.total == 5


def test_results_built_for_one_call_are_not_kept_with_their_contexts() -> None:
    from pystator.runtime import fast_select

    auto = StateMachine.from_yaml_string(
        """
meta: {machine_name: settle}
states:
  - {name: A, type: initial}
  - {name: B}
  - {name: C}
transitions:
  - {trigger: go, source: A, dest: B}
  - {auto: true, source: B, dest: C}
"""
    )
    before = len(fast_select.ATTACHED)
    for n in range(50):
        assert auto.process("A", "go", {"n": n}).target_state == "C"
    assert len(fast_select.ATTACHED) - before <= 1
