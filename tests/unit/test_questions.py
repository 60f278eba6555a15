"""Guard-aware questions (issue 16, item 5): ``machine.allowed_triggers``, ``session.can``,
``session.allowed_triggers`` and their async twins evaluate guards and change nothing.

Each answer is checked against what ``process``/``send`` does for the same state, context and
payload, and the session, its context, its history memory, the hooks and the actions are
checked untouched afterwards.
"""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from pystator import (
    GuardEvaluationError,
    GuardNotFoundError,
    StateMachine,
    UndefinedStateError,
)
from pystator.runtime.classes import Machine, State
from tests.unit.conftest import ORDER, build
from tests.unit.test_class_machine_typing import CASES, expected, run_mypy

# --------------------------------------------------------------------------- machines


def guarded() -> StateMachine:
    """Named and ``expr`` guards on one state, and a guarded and an unguarded ancestor
    transition."""
    machine = build(
        [
            {"name": "IDLE", "type": "initial"},
            {"name": "WORK"},
            {"name": "STEP", "parent": "WORK"},
            {"name": "DONE", "type": "terminal"},
            {"name": "BIG"},
        ],
        [
            {"trigger": "start", "source": "IDLE", "dest": "WORK", "guards": ["ready"]},
            {"trigger": "big", "source": "IDLE", "dest": "BIG", "guards": [{"expr": "qty > 10"}]},
            {"trigger": "stop", "source": "IDLE", "dest": "DONE"},
            {"trigger": "tick", "source": "STEP", "dest": "STEP", "guards": [{"expr": "n < 3"}]},
            {"trigger": "finish", "source": "WORK", "dest": "DONE", "guards": ["ready"]},
            {"trigger": "abort", "source": "WORK", "dest": "IDLE"},
        ],
    )
    machine.guard("ready")(lambda ctx: bool(ctx.get("ready")))
    return machine


def parallel() -> StateMachine:
    return StateMachine.from_yaml_string(
        """
meta: {machine_name: par}
states:
  - {name: IDLE, type: initial}
  - name: P
    type: parallel
    regions:
      - {name: r1, initial: A1, states: [A1, A2]}
      - {name: r2, initial: B1, states: [B1, B2]}
  - {name: OUT, type: terminal}
transitions:
  - {trigger: go, source: IDLE, dest: P}
  - {trigger: a, source: A1, dest: A2, guards: [{expr: "a_ok"}]}
  - {trigger: b, source: B1, dest: B2, guards: [{expr: "b_ok"}]}
  - {trigger: both, source: A1, dest: A2, guards: [{expr: "a_ok"}]}
  - {trigger: both, source: B1, dest: B2, guards: [{expr: "b_ok"}]}
  - {trigger: leave, source: P, dest: OUT, guards: [{expr: "may_leave"}]}
"""
    )


class Recorder:
    """A hook that records every call."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def on_before_process(self, state: str, trigger: str, context: Any) -> None:
        self.calls.append(f"before {trigger}")

    def on_transition_start(self, result: Any) -> None:
        self.calls.append("start")

    def on_transition_complete(self, result: Any, duration_ms: float) -> None:
        self.calls.append("complete")

    def on_transition_error(self, state: str, trigger: str, error: Exception, ms: float) -> None:
        self.calls.append("error")


def fired(machine: StateMachine, state: str, trigger: str, context: Any = None) -> bool:
    result = machine.process(state, trigger, context)
    return result.success and "reason" not in result.metadata


# --------------------------------------------------------------------------- the machine's


class TestMachineAllowedTriggers:
    def test_named_guard_true_and_false(self) -> None:
        machine = guarded()
        assert machine.get_triggers("IDLE") == ["start", "big", "stop"]
        assert machine.allowed_triggers("IDLE", {"ready": True, "qty": 1}) == ["start", "stop"]
        assert machine.allowed_triggers("IDLE", {"ready": False, "qty": 1}) == ["stop"]

    def test_expr_guard_true_and_false(self) -> None:
        machine = guarded()
        assert machine.allowed_triggers("IDLE", {"qty": 11}) == ["big", "stop"]
        assert machine.allowed_triggers("IDLE", {"qty": 10}) == ["stop"]
        # A missing key makes an expr guard false (expr_on_missing: false).
        assert machine.allowed_triggers("IDLE", {}) == ["stop"]

    def test_same_answer_as_process_for_every_trigger(self) -> None:
        machine = guarded()
        for state in ("IDLE", "STEP", "DONE", "BIG"):
            for ctx in ({}, {"ready": True, "qty": 20, "n": 1}, {"n": 5}):
                expected = [t for t in machine.get_triggers(state) if fired(machine, state, t, ctx)]
                assert machine.allowed_triggers(state, ctx) == expected, (state, ctx)

    def test_compound_state_offers_its_ancestors_transitions(self) -> None:
        machine = guarded()
        assert machine.get_triggers("STEP") == ["tick", "finish", "abort"]
        assert machine.allowed_triggers("STEP", {"n": 0}) == ["tick", "abort"]
        assert machine.allowed_triggers("STEP", {"n": 3, "ready": True}) == ["finish", "abort"]

    def test_parallel_states_answer_for_every_region(self) -> None:
        machine = parallel()
        config = "P(r1=A1, r2=B1)"
        # Each active leaf's triggers (its own, then its ancestors'), region after region.
        assert machine.get_triggers(config) == ["a", "both", "leave", "b"]
        assert machine.allowed_triggers(config, {}) == []
        assert machine.allowed_triggers(config, {"b_ok": True}) == ["both", "b"]
        assert machine.allowed_triggers(config, {"a_ok": True, "may_leave": True}) == [
            "a",
            "both",
            "leave",
        ]
        assert machine.allowed_triggers("P(r1=A2, r2=B1)", {"a_ok": True, "b_ok": True}) == [
            "b",
            "both",
        ]

    def test_terminal_state_allows_nothing(self) -> None:
        assert guarded().allowed_triggers("DONE", {"ready": True}) == []

    def test_no_context(self) -> None:
        machine = guarded()
        machine.guard("ready")(lambda ctx: ctx.get("ready", False))
        assert machine.allowed_triggers("IDLE") == ["stop"]

    def test_undefined_state_raises(self) -> None:
        with pytest.raises(UndefinedStateError, match="NOPE"):
            guarded().allowed_triggers("NOPE", {})
        with pytest.raises(UndefinedStateError):
            parallel().allowed_triggers("A1", {})

    def test_unregistered_guard_raises_in_strict_mode_and_says_no_in_lenient_mode(self) -> None:
        states = [{"name": "A", "type": "initial"}, {"name": "B"}]
        moves = [{"trigger": "go", "source": "A", "dest": "B", "guards": ["missing"]}]
        with pytest.raises(GuardNotFoundError, match="missing"):
            build(states, moves, strict_mode=True).allowed_triggers("A")
        assert build(states, moves, strict_mode=False).allowed_triggers("A") == []

    def test_a_guard_that_raises_leaves_its_trigger_out(self) -> None:
        machine = guarded()

        def broken(ctx: Any) -> bool:
            raise RuntimeError("the guard broke")

        machine.guard("ready")(broken)
        assert machine.allowed_triggers("IDLE", {"qty": 20}) == ["big", "stop"]
        with pytest.raises(RuntimeError):  # send and process let it go; the question says no
            machine.process("IDLE", "start", {})
        assert machine.can("IDLE", "start", {}) is False

    def test_expr_guard_raising_on_a_missing_key_says_no(self) -> None:
        machine = build(
            [{"name": "A", "type": "initial"}, {"name": "B"}],
            [{"trigger": "go", "source": "A", "dest": "B", "guards": [{"expr": "qty > 1"}]}],
            expr_on_missing="error",
        )
        with pytest.raises(GuardEvaluationError):
            machine.process("A", "go", {})
        assert machine.allowed_triggers("A", {}) == []
        assert machine.allowed_triggers("A", {"qty": 2}) == ["go"]

    def test_history_is_read_and_left_alone(self) -> None:
        machine = StateMachine.from_yaml_string(
            """
meta: {machine_name: hist}
states:
  - {name: OFF, type: initial}
  - {name: ON, initial_child: LOW}
  - {name: LOW, parent: ON}
  - {name: HIGH, parent: ON}
  - {name: H, type: history, parent: ON}
transitions:
  - {trigger: up, source: LOW, dest: HIGH}
  - {trigger: off, source: ON, dest: OFF}
  - {trigger: resume, source: OFF, dest: H}
  - {auto: true, source: HIGH, dest: OFF, guards: [{expr: "overheat"}]}
"""
        )
        memory = {"H": ("HIGH",)}
        kept = copy.deepcopy(memory)
        # Resuming into HIGH takes the eventless HIGH -> OFF when overheating: still a move.
        assert machine.allowed_triggers("OFF", {"overheat": True}, history=memory) == ["resume"]
        assert machine.allowed_triggers("LOW", {}, history=memory) == ["up", "off"]
        assert memory == kept

    def test_done_and_delayed_triggers_are_not_offered(self) -> None:
        machine = StateMachine.from_yaml_string(
            """
meta: {machine_name: timers}
states:
  - {name: A, type: initial}
  - {name: C, initial_child: C1}
  - {name: C1, parent: C}
  - {name: CF, parent: C, type: terminal}
  - {name: B}
transitions:
  - {trigger: ping, source: A, dest: B, after: 5s}
  - {trigger: go, source: A, dest: C}
  - {trigger: fin, source: C1, dest: CF}
  - {trigger: done.state.C, source: C, dest: B}
"""
        )
        assert machine.allowed_triggers("A") == ["go"]
        assert machine.allowed_triggers("C1") == ["fin"]  # fin, then done.state.C: one step
        session = machine.create()
        assert session.can("ping") is False
        assert session.can("done.state.C") is False

    def test_nothing_runs_and_no_hook_is_told(self) -> None:
        machine = guarded()
        ran: list[str] = []
        machine.action("noted")(lambda ctx: ran.append("noted"))
        hook = Recorder()
        machine.add_hook(hook)
        ctx = {"ready": True, "qty": 20}
        before = copy.deepcopy(ctx)
        assert machine.allowed_triggers("IDLE", ctx) == ["start", "big", "stop"]
        assert machine.can("IDLE", "start", ctx) is True
        assert hook.calls == []
        assert ran == []
        assert ctx == before
        machine.process("IDLE", "start", ctx)  # the hook does see a real step
        assert hook.calls == ["before start", "start", "complete"]


# --------------------------------------------------------------------------- the session's


class TestSessionCan:
    def test_guard_true_false_and_payload_dependent(self) -> None:
        machine = StateMachine.from_dict(ORDER)
        machine.guard("is_full_fill")(lambda ctx: ctx.get("fill_qty", 0) >= ctx["order_qty"])
        order = machine.create(context={"order_qty": 10}, initial_state="OPEN")
        assert order.can("fill") is False
        assert order.can("fill", fill_qty=5) is False
        assert order.can("fill", fill_qty=10) is True
        assert order.can("cancel") is True
        assert order.allowed_triggers == ["cancel"]  # the session's context has no fill_qty
        assert order.context == {"order_qty": 10}
        assert order.current_state == "OPEN"
        assert order.send("fill", fill_qty=10).target_state == "FILLED"

    def test_false_for_undefined_trigger_not_from_here_and_terminal(self) -> None:
        order = StateMachine.from_dict(ORDER).create(context={"order_qty": 1})
        assert order.can("nope") is False
        assert order.can("fill") is False  # no transition from PENDING
        order.send("cancel")
        assert order.is_final
        assert order.can("cancel") is False
        assert order.allowed_triggers == []

    def test_true_exactly_when_send_succeeds(self) -> None:
        machine = guarded()
        for state in ("IDLE", "STEP", "BIG"):
            for ctx in ({}, {"ready": True, "qty": 20, "n": 1}):
                for trigger in [*machine.triggers, "nope"]:
                    asked = machine.create(copy.deepcopy(ctx), initial_state=state)
                    answer = asked.can(trigger)
                    sent = machine.create(copy.deepcopy(ctx), initial_state=state)
                    result = sent.send(trigger)
                    assert answer is (result.success and "reason" not in result.metadata)

    def test_lenient_no_op_is_not_a_yes(self) -> None:
        machine = build(
            [{"name": "A", "type": "initial"}, {"name": "B"}],
            [
                {"trigger": "go", "source": "A", "dest": "B"},
                {"trigger": "back", "source": "B", "dest": "A"},
            ],
            strict_mode=False,
        )
        session = machine.create()
        assert session.send("back").success  # send: a successful no-op
        assert session.can("back") is False
        assert session.can("go") is True

    def test_session_allowed_triggers_match_the_machines(self) -> None:
        machine = parallel()
        session = machine.create({"a_ok": True})
        session.send("go")
        assert session.current_state == "P(r1=A1, r2=B1)"
        assert session.allowed_triggers == ["a", "both"]
        assert session.allowed_triggers == machine.allowed_triggers(
            session.current_state, session.context, history=session.history
        )
        assert session.allowed_triggers == [
            t for t in machine.get_triggers(session.current_state) if session.can(t)
        ]

    def test_nothing_changes_no_action_runs_no_hook_is_told(self) -> None:
        machine = StateMachine.from_yaml_string(
            """
meta: {machine_name: acting}
states:
  - {name: A, type: initial, on_exit: [left_a]}
  - {name: B, on_enter: [entered_b]}
  - {name: C, initial_child: C1}
  - {name: C1, parent: C}
  - {name: CH, type: history, parent: C}
transitions:
  - {trigger: go, source: A, dest: B, actions: [moving], assign: {count: "count + 1"}}
  - {trigger: back, source: B, dest: A}
  - {trigger: into, source: A, dest: C}
"""
        )
        ran: list[str] = []
        for name in ("left_a", "entered_b", "moving"):
            machine.action(name)(lambda ctx, name=name: ran.append(name))
        hook = Recorder()
        machine.add_hook(hook)
        session = machine.create({"count": 0, "items": [1]})
        context = session.context
        history = dict(session.history)
        snapshot = session.snapshot()

        assert session.can("go") is True
        assert session.can("back") is False
        assert session.allowed_triggers == ["go", "into"]
        assert asyncio.run(session.acan("go")) is True
        assert asyncio.run(session.aallowed_triggers()) == ["go", "into"]

        assert ran == []
        assert hook.calls == []
        assert session.current_state == "A"
        assert session.context is context
        assert context == {"count": 0, "items": [1]}
        assert dict(session.history) == history
        assert session.snapshot() == snapshot
        session.send("go")  # and the real thing still works
        assert ran == ["left_a", "moving", "entered_b"]
        assert session.context["count"] == 1

    def test_unregistered_guard_raises_as_send_does(self) -> None:
        machine = StateMachine.from_dict(ORDER)
        order = machine.create(initial_state="OPEN")
        with pytest.raises(GuardNotFoundError):
            order.can("fill")
        with pytest.raises(GuardNotFoundError):
            order.send("fill")

    def test_a_guard_that_raises_is_a_no(self) -> None:
        machine = StateMachine.from_dict(ORDER)
        machine.guard("is_full_fill")(lambda ctx: ctx["fill_qty"] > 0)  # KeyError without it
        order = machine.create(initial_state="OPEN")
        assert order.can("fill") is False
        assert order.can("fill", fill_qty=1) is True
        assert order.allowed_triggers == ["cancel"]
        with pytest.raises(KeyError):
            order.send("fill")
        assert order.current_state == "OPEN"


class TestTypedPayloads:
    YAML = """
meta: {machine_name: typed}
events:
  fill:
    fields:
      qty: {type: integer, required: true, minimum: 1}
states:
  - {name: OPEN, type: initial}
  - {name: FILLED, type: terminal}
transitions:
  - {trigger: fill, source: OPEN, dest: FILLED, guards: [{expr: "qty >= 5"}]}
  - {trigger: note, source: OPEN, dest: OPEN, guards: [{expr: "ok"}]}
  - {trigger: close, source: OPEN, dest: FILLED}
"""

    def test_can_validates_the_payload_it_is_given(self) -> None:
        session = StateMachine.from_yaml_string(self.YAML).create()
        assert session.can("fill", qty=0) is False  # payload_validation
        assert session.send("fill", qty=0).metadata["reason"] == "payload_validation"
        assert session.can("fill", qty="many") is False
        assert session.can("fill") is False  # qty is required
        assert session.can("fill", qty=4) is False  # the guard says no
        assert session.can("fill", qty=7) is True
        assert session.can("fill", qty="7") is False  # strict integers, as send checks them
        assert session.send("fill", qty="7").metadata["reason"] == "payload_validation"
        assert session.current_state == "OPEN"
        assert session.context == {}

    def test_allowed_triggers_evaluate_guards_on_the_context_alone(self) -> None:
        machine = StateMachine.from_yaml_string(self.YAML)
        # No payload: no payload check; the guard reads qty from the context.
        assert machine.allowed_triggers("OPEN", {"ok": True}) == ["note", "close"]
        assert machine.allowed_triggers("OPEN", {"qty": 9}) == ["fill", "close"]
        # process would refuse it (qty 0 breaks the declared payload): the question skips the
        # payload check, and the guard says no anyway.
        assert machine.allowed_triggers("OPEN", {"qty": 0}) == ["close"]
        assert machine.process("OPEN", "fill", {}).metadata["reason"] == "payload_validation"
        assert machine.allowed_triggers("OPEN", {"qty": 5}) == ["fill", "close"]
        session = machine.create({"qty": 6})
        assert session.allowed_triggers == ["fill", "close"]

    def test_machine_can_reads_the_payload_from_the_context_as_process_does(self) -> None:
        machine = StateMachine.from_yaml_string(self.YAML)
        assert machine.can("OPEN", "fill", {"qty": 6}) is True
        assert machine.can("OPEN", "fill", {}) is False
        assert machine.can("OPEN", "fill", {}, payload={"qty": 6}) is True

    def test_context_model(self) -> None:
        class Ctx(BaseModel):
            limit: int = 3
            count: int = 0

        machine = StateMachine.from_yaml_string(
            """
meta: {machine_name: counted}
states: [{name: A, type: initial}, {name: B}]
transitions:
  - trigger: inc
    source: A
    dest: A
    guards: [{expr: "count < limit"}]
    assign: {count: "count + 1"}
  - {trigger: jump, source: A, dest: B, guards: [{expr: "extra > 1"}]}
""",
            context_model=Ctx,
        )
        session = machine.create({"count": 2})
        before = session.context
        assert session.allowed_triggers == ["inc"]
        assert session.can("jump", extra=2) is True  # extra joins the view for the step only
        assert session.can("jump", extra=0) is False
        assert session.context is before
        assert before.count == 2
        session.send("inc")
        assert session.allowed_triggers == []


class TestAsyncGuards:
    def machine(self) -> StateMachine:
        machine = guarded()

        async def ready(ctx: Any) -> bool:
            await asyncio.sleep(0)
            return bool(ctx.get("ready"))

        machine.guard("ready")(ready)
        return machine

    def test_sync_questions_refuse_an_async_guard_and_name_the_async_twin(self) -> None:
        machine = self.machine()
        with pytest.raises(GuardEvaluationError, match="acan"):
            machine.allowed_triggers("IDLE", {"ready": True})
        with pytest.raises(GuardEvaluationError, match="aallowed_triggers"):
            machine.create({"ready": True}).can("start")

    def test_async_twins(self) -> None:
        machine = self.machine()
        answer = asyncio.run(machine.aallowed_triggers("IDLE", {"ready": True, "qty": 1}))
        assert answer == ["start", "stop"]
        assert asyncio.run(machine.aallowed_triggers("IDLE", {})) == ["stop"]
        assert asyncio.run(machine.acan("IDLE", "start", {"ready": True})) is True
        session = machine.create({"ready": False})
        assert asyncio.run(session.acan("start")) is False
        assert asyncio.run(session.acan("start", ready=True)) is True
        assert asyncio.run(session.aallowed_triggers()) == ["stop"]
        assert session.current_state == "IDLE"
        assert session.context == {"ready": False}

    def test_an_async_guard_that_raises_is_a_no(self) -> None:
        machine = guarded()

        async def ready(ctx: Any) -> bool:
            raise RuntimeError("down")

        machine.guard("ready")(ready)
        assert asyncio.run(machine.aallowed_triggers("IDLE", {})) == ["stop"]
        assert asyncio.run(machine.create().acan("start")) is False


class TestClassMachines:
    def test_typed_sessions_have_can(self) -> None:
        class Door(Machine):
            CLOSED = State(initial=True)
            OPENED = State()
            LOCKED = State(terminal=True)

            open = CLOSED.to(OPENED)
            close = OPENED.to(CLOSED)
            lock = CLOSED.to(LOCKED, guards=["has_key"])

            def has_key(self, ctx: dict[str, Any]) -> bool:
                return ctx.get("key") == "brass"

        door = Door.create()
        assert door.can("lock") is False
        assert door.can("lock", key="brass") is True
        assert door.allowed_triggers == ["open"]
        assert asyncio.run(door.acan("lock", key="brass")) is True
        assert door.is_closed
        assert door.context == {}


@pytest.mark.slow
def test_the_questions_are_typed_on_class_machine_sessions(tmp_path: Path) -> None:
    """mypy (with the ``pystator.mypy`` plugin) knows ``can`` and its siblings as real
    members of a class machine's session, and still rejects a misspelt name."""
    case = CASES / "questions.py"
    assert run_mypy(case, tmp_path) == expected(case)
