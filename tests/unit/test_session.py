"""``EntitySession``: one entity in memory, its generated API, actions and snapshots."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest

from pystator import (
    ActionExecutionError,
    EntitySession,
    ErrorCode,
    FSMError,
    IncompatibleSnapshotError,
    SessionSnapshot,
    StateMachine,
    UndefinedStateError,
)
from tests.unit.conftest import ORDER, build, definition


def hierarchical() -> StateMachine:
    return build(
        [
            {"name": "IDLE", "type": "initial"},
            {"name": "OPEN"},
            {"name": "WORKING", "parent": "OPEN"},
            {"name": "HELD", "parent": "OPEN"},
            {"name": "DONE", "type": "terminal"},
        ],
        [
            {"trigger": "open", "source": "IDLE", "dest": "OPEN"},
            {"trigger": "hold", "source": "WORKING", "dest": "HELD"},
            {"trigger": "finish", "source": "OPEN", "dest": "DONE"},
        ],
        machine_name="hier",
    )


class TestCreate:
    def test_starts_in_the_initial_state_with_a_copy_of_the_context(
        self, order_machine: StateMachine
    ) -> None:
        ctx = {"order_id": "123", "order_qty": 100}
        order = order_machine.create(context=ctx)
        assert order.current_state == "PENDING"
        assert order.context == ctx
        assert order.context is not ctx
        ctx["order_qty"] = 1
        assert order.context["order_qty"] == 100
        assert order.machine is order_machine

    def test_without_a_context(self, order_machine: StateMachine) -> None:
        assert order_machine.create().context == {}

    def test_initial_state_argument(self, order_machine: StateMachine) -> None:
        assert order_machine.create(initial_state="OPEN").current_state == "OPEN"

    def test_compound_initial_state_resolves_to_its_leaf(self) -> None:
        session = hierarchical().create(initial_state="OPEN")
        assert session.current_state == "WORKING"
        assert hierarchical().create().current_state == "IDLE"

    def test_undefined_initial_state(self, order_machine: StateMachine) -> None:
        with pytest.raises(UndefinedStateError, match="did you mean 'OPEN'"):
            order_machine.create(initial_state="OPNE")


class TestGeneratedApi:
    def test_is_state_properties(self, order_machine: StateMachine) -> None:
        order = order_machine.create()
        assert order.is_pending is True
        assert order.is_open is False
        order.send("exchange_ack")
        assert (order.is_pending, order.is_open) == (False, True)

    def test_is_state_covers_active_ancestors(self) -> None:
        session = hierarchical().create(initial_state="WORKING")
        assert session.is_working
        assert session.is_open
        assert not session.is_idle
        assert session.is_in("OPEN")
        assert not session.is_in("HELD")

    def test_trigger_methods_are_send(self, order_machine: StateMachine) -> None:
        order = order_machine.create(context={"order_qty": 100})
        r = order.exchange_ack()
        assert r.success
        assert order.current_state == "OPEN"
        r = order.fill(fill_qty=100)
        assert r.target_state == "FILLED"
        assert order.context == {"order_qty": 100, "fill_qty": 100}

    def test_generated_members_live_on_one_class_per_machine(
        self, order_machine: StateMachine
    ) -> None:
        a, b = order_machine.create(), order_machine.create()
        cls = type(a)
        assert type(b) is cls
        assert issubclass(cls, EntitySession)
        assert cls is not EntitySession
        for name in ("is_pending", "is_open", "is_filled", "exchange_ack", "fill", "cancel"):
            assert name in vars(cls), name
        other = StateMachine.from_dict(ORDER).create()
        assert type(other) is not cls

    def test_sessions_are_small(self, order_machine: StateMachine) -> None:
        session = order_machine.create()
        assert not hasattr(session, "__dict__")
        assert type(session).__slots__ == ()
        assert "__slots__" in vars(EntitySession)
        with pytest.raises(AttributeError):
            session.anything = 1  # type: ignore[attr-defined]

    def test_names_that_would_shadow_the_session_api_are_left_out(self) -> None:
        m = build(
            [{"name": "A", "type": "initial"}, {"name": "FINAL"}, {"name": "B"}],
            [
                {"trigger": "send", "source": "A", "dest": "B"},
                {"trigger": "snapshot", "source": "A", "dest": "FINAL"},
            ],
        )
        session = m.create()
        # ``is_final`` stays "in a terminal state"; ``send`` and ``snapshot`` stay the API.
        assert session.is_final is False
        assert session.is_in("A")
        assert session.send("send").target_state == "B"
        assert isinstance(m.create().snapshot(), dict)

    def test_state_names_that_collide_once_lowercased(self) -> None:
        m = build([{"name": "Open", "type": "initial"}, {"name": "OPEN"}, {"name": "Closed"}])
        session = m.create()
        assert session.is_closed is False
        assert not hasattr(session, "is_open")
        assert session.is_in("Open")

    def test_allowed_triggers(self, order_machine: StateMachine) -> None:
        # Guards are evaluated (issue 16): ``fill`` needs is_full_fill, true for this context.
        order = order_machine.create(context={"order_qty": 1, "fill_qty": 1})
        assert order.allowed_triggers == ["exchange_ack", "cancel"]
        order.send("exchange_ack")
        assert order.allowed_triggers == ["fill", "cancel"]
        order.send("cancel")
        assert order.allowed_triggers == []

    def test_allowed_triggers_include_ancestors(self) -> None:
        session = hierarchical().create(initial_state="WORKING")
        assert session.allowed_triggers == ["hold", "finish"]

    def test_is_final(self, order_machine: StateMachine) -> None:
        order = order_machine.create(context={"order_qty": 1})
        assert not order.is_final
        order.send("exchange_ack")
        assert not order.is_final
        order.send("fill", fill_qty=1)
        assert order.is_final

    def test_repr(self, order_machine: StateMachine) -> None:
        assert "PENDING" in repr(order_machine.create())


class TestSend:
    def test_payload_merges_only_on_success(self, order_machine: StateMachine) -> None:
        order = order_machine.create(context={"order_qty": 100})
        order.send("exchange_ack")
        r = order.send("fill", fill_qty=50)
        assert not r.success
        assert r.metadata["reason"] == "guard_rejected"
        assert order.current_state == "OPEN"
        assert order.context == {"order_qty": 100}
        r = order.send("fill", fill_qty=100)
        assert r.success
        assert order.context == {"order_qty": 100, "fill_qty": 100}

    def test_guards_see_the_payload(self, order_machine: StateMachine) -> None:
        order = order_machine.create(context={"order_qty": 100}, initial_state="OPEN")
        assert order.send("fill", fill_qty=100, order_qty=100).success

    def test_failures_are_results_not_exceptions(self, order_machine: StateMachine) -> None:
        order = order_machine.create()
        assert order.send("fill").metadata["reason"] == "invalid_transition"
        assert order.send("explode").metadata["reason"] == "undefined_trigger"
        assert order.current_state == "PENDING"

    def test_actions_run_after_the_state_changes(self) -> None:
        m = build(
            [
                {"name": "A", "type": "initial", "on_exit": ["ex"]},
                {"name": "B", "on_enter": ["en"]},
            ],
            [
                {
                    "trigger": "go",
                    "source": "A",
                    "dest": "B",
                    "actions": [{"name": "t", "params": {"k": 1}}],
                }
            ],
        )
        session = m.create(context={"x": 1})
        seen: list[Any] = []
        m.action_registry.register("ex", lambda ctx: seen.append(("ex", session.current_state)))
        m.action_registry.register(
            "t", lambda ctx, k: seen.append(("t", session.current_state, k, dict(ctx)))
        )
        m.action_registry.register("en", lambda ctx: seen.append(("en", session.current_state)))
        session.send("go", y=2)
        assert seen == [("ex", "B"), ("t", "B", 1, {"x": 1, "y": 2}), ("en", "B")]

    def test_execute_actions_false(self) -> None:
        m = build(
            [{"name": "A", "type": "initial"}, {"name": "B"}],
            [
                {"trigger": "go", "source": "A", "dest": "B", "actions": ["t"]},
            ],
        )
        ran: list[str] = []
        m.action_registry.register("t", lambda ctx: ran.append("t"))
        session = m.create()
        r = session.send("go", execute_actions=False)
        assert r.success
        assert session.current_state == "B"
        assert ran == []

    def test_failing_action_raises_but_the_state_change_stands(self) -> None:
        m = build(
            [{"name": "A", "type": "initial"}, {"name": "B", "on_enter": ["after"]}],
            [
                {"trigger": "go", "source": "A", "dest": "B", "actions": ["boom"]},
            ],
        )
        ran: list[str] = []
        m.action_registry.register("boom", lambda ctx: 1 / 0)
        m.action_registry.register("after", lambda ctx: ran.append("after"))
        session = m.create()
        with pytest.raises(ActionExecutionError) as info:
            session.send("go", note="x")
        assert session.current_state == "B"
        assert session.context == {"note": "x"}
        assert ran == ["after"]
        assert info.value.code is ErrorCode.ACTION_FAILED
        assert "boom: ZeroDivisionError" in info.value.message
        assert info.value.report.failed[0].name == "boom"

    def test_unregistered_action_raises_after_the_change(self) -> None:
        m = build(
            [{"name": "A", "type": "initial"}, {"name": "B"}],
            [
                {"trigger": "go", "source": "A", "dest": "B", "actions": ["nobody"]},
            ],
        )
        session = m.create()
        with pytest.raises(ActionExecutionError) as info:
            session.send("go")
        assert session.current_state == "B"
        assert info.value.report.failed[0].error_code == ErrorCode.ACTION_NOT_FOUND.value

    def test_lenient_no_op_keeps_the_state_and_does_not_merge_payload(self) -> None:
        data = copy.deepcopy(ORDER)
        data["meta"]["strict_mode"] = False
        session = StateMachine.from_dict(data).create()
        r = session.send("fill", qty=3)
        assert r.success
        assert r.metadata["reason"] == "no_transition"
        assert session.current_state == "PENDING"
        assert session.context == {}


class TestAsend:
    def test_asend_awaits_guards_and_actions(self) -> None:
        m = build(
            [{"name": "A", "type": "initial"}, {"name": "B"}],
            [
                {"trigger": "go", "source": "A", "dest": "B", "guards": ["ok"], "actions": ["t"]},
            ],
        )
        ran: list[Any] = []

        @m.guard("ok")
        async def ok(ctx: Any) -> bool:
            await asyncio.sleep(0)
            return bool(ctx.get("allowed"))

        @m.action("t")
        async def t(ctx: Any) -> None:
            await asyncio.sleep(0)
            ran.append(dict(ctx))

        session = m.create()
        r = asyncio.run(session.asend("go", allowed=False))
        assert not r.success
        assert session.current_state == "A"
        assert session.context == {}
        r = asyncio.run(session.asend("go", allowed=True))
        assert r.success
        assert session.current_state == "B"
        assert ran == [{"allowed": True}]

    def test_sync_send_with_an_async_guard_fails_clearly(self) -> None:
        m = build(
            [{"name": "A", "type": "initial"}, {"name": "B"}],
            [
                {"trigger": "go", "source": "A", "dest": "B", "guards": ["ok"]},
            ],
        )

        @m.guard("ok")
        async def ok(ctx: Any) -> bool:
            return False

        session = m.create()
        from pystator import GuardEvaluationError

        with pytest.raises(GuardEvaluationError):
            session.send("go")
        assert session.current_state == "A"

    def test_asend_failing_action(self) -> None:
        m = build(
            [{"name": "A", "type": "initial"}, {"name": "B"}],
            [
                {"trigger": "go", "source": "A", "dest": "B", "actions": ["boom"]},
            ],
        )

        async def boom(ctx: Any) -> None:
            raise RuntimeError("down")

        m.action_registry.register("boom", boom)
        session = m.create()
        with pytest.raises(ActionExecutionError):
            asyncio.run(session.asend("go"))
        assert session.current_state == "B"


class TestSnapshot:
    def test_snapshot_is_json_ready(self, order_machine: StateMachine) -> None:
        order = order_machine.create(context={"order_id": "123", "nested": {"a": [1, 2]}})
        order.send("exchange_ack")
        snap = order.snapshot()
        assert json.loads(json.dumps(snap)) == snap
        assert snap["machine_name"] == "order_management"
        assert snap["machine_version"] == "1.0.0"
        assert snap["definition_hash"] == order_machine.definition_hash
        assert len(snap["definition_hash"]) == 64
        assert snap["state"] == "OPEN"
        assert snap["context"] == {"order_id": "123", "nested": {"a": [1, 2]}}

    def test_snapshot_is_a_copy(self, order_machine: StateMachine) -> None:
        order = order_machine.create(context={"nested": {"a": 1}})
        snap = order.snapshot()
        order.context["nested"]["a"] = 2
        assert snap["context"] == {"nested": {"a": 1}}

    @pytest.mark.parametrize("form", ["dict", "json", "model"])
    def test_round_trip(self, order_machine: StateMachine, form: str) -> None:
        order = order_machine.create(context={"order_qty": 5})
        order.send("exchange_ack")
        snap = order.snapshot()
        given: Any = {
            "dict": snap,
            "json": json.dumps(snap),
            "model": SessionSnapshot.model_validate(snap),
        }[form]
        restored = EntitySession.from_snapshot(order_machine, given)
        assert restored.current_state == "OPEN"
        assert restored.context == {"order_qty": 5}
        assert type(restored) is type(order)
        assert restored.send("fill", fill_qty=5).target_state == "FILLED"
        assert order.current_state == "OPEN"

    def test_restored_context_is_independent(self, order_machine: StateMachine) -> None:
        snap = order_machine.create(context={"a": {"b": 1}}).snapshot()
        restored = EntitySession.from_snapshot(order_machine, snap)
        restored.context["a"]["b"] = 2
        assert snap["context"] == {"a": {"b": 1}}

    def test_refuses_another_machine(self, order_machine: StateMachine) -> None:
        snap = hierarchical().create().snapshot()
        with pytest.raises(IncompatibleSnapshotError, match="belongs to machine 'hier'"):
            EntitySession.from_snapshot(order_machine, snap)

    def test_refuses_another_major_version(self, order_machine: StateMachine) -> None:
        snap = order_machine.create().snapshot()
        data = copy.deepcopy(ORDER)
        data["meta"]["version"] = "2.0.0"
        with pytest.raises(IncompatibleSnapshotError, match=r"incompatible with version 2\.0\.0"):
            EntitySession.from_snapshot(StateMachine.from_dict(data), snap)

    def test_accepts_a_compatible_change(self, order_machine: StateMachine) -> None:
        snap = order_machine.create(initial_state="OPEN").snapshot()
        data = copy.deepcopy(ORDER)
        data["meta"]["version"] = "1.1.0"
        data["states"].append({"name": "HELD"})
        newer = StateMachine.from_dict(data)
        assert newer.definition_hash != order_machine.definition_hash
        assert EntitySession.from_snapshot(newer, snap).current_state == "OPEN"

    def test_refuses_an_unknown_state(self, order_machine: StateMachine) -> None:
        snap = order_machine.create().snapshot()
        data = copy.deepcopy(ORDER)
        data["meta"]["version"] = "1.1.0"
        data["states"] = [s for s in data["states"] if s["name"] != "CANCELLED"]
        data["transitions"] = [t for t in data["transitions"] if t["dest"] != "CANCELLED"]
        snap["state"] = "CANCELLED"
        with pytest.raises(IncompatibleSnapshotError, match="'CANCELLED' is not defined"):
            EntitySession.from_snapshot(StateMachine.from_dict(data), snap)

    @pytest.mark.parametrize(
        "garbage",
        [{"garbage": 1}, "not json", b"{}", 42, None, [], {"format": 99}],
        ids=["dict", "text", "bytes", "int", "none", "list", "format"],
    )
    def test_refuses_garbage(self, order_machine: StateMachine, garbage: Any) -> None:
        with pytest.raises(IncompatibleSnapshotError, match="invalid snapshot"):
            EntitySession.from_snapshot(order_machine, garbage)

    def test_refuses_extra_keys(self, order_machine: StateMachine) -> None:
        snap = order_machine.create().snapshot()
        snap["owner"] = "x"
        with pytest.raises(IncompatibleSnapshotError, match="owner"):
            EntitySession.from_snapshot(order_machine, snap)

    def test_compound_state_in_a_snapshot_resolves_to_its_leaf(self) -> None:
        m = hierarchical()
        snap = m.create().snapshot()
        snap["state"] = "OPEN"
        assert EntitySession.from_snapshot(m, snap).current_state == "WORKING"

    def test_context_that_is_not_json(self, order_machine: StateMachine) -> None:
        order = order_machine.create(context={"when": object()})
        with pytest.raises(FSMError, match="cannot be snapshotted"):
            order.snapshot()

    def test_definition_hash_is_stable_and_sensitive(self) -> None:
        a = StateMachine.from_dict(ORDER)
        b = StateMachine.from_dict(copy.deepcopy(ORDER))
        assert a.definition_hash == b.definition_hash
        changed = definition([{"name": "A"}])
        assert StateMachine.from_dict(changed).definition_hash != a.definition_hash
