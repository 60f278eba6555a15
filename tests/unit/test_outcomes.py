"""The spec's outcome table, raised errors, and what a ``TransitionResult`` promises."""

from __future__ import annotations

import asyncio
import copy
import json
from types import MappingProxyType
from typing import Any

import pytest
from pydantic import ValidationError

from pystator import (
    ErrorCode,
    FSMError,
    GuardEvaluationError,
    GuardNotFoundError,
    GuardRejectedError,
    InvalidTransitionError,
    StateMachine,
    TerminalStateError,
    TransitionResult,
    UndefinedStateError,
    UndefinedTriggerError,
)
from tests.unit.conftest import ORDER, build


def order(strict: bool = True) -> StateMachine:
    data = copy.deepcopy(ORDER)
    data["meta"]["strict_mode"] = strict
    machine = StateMachine.from_dict(data)
    machine.guard_registry.register(
        "is_full_fill", lambda ctx: ctx.get("fill_qty", 0) >= ctx.get("order_qty", 1)
    )
    return machine


class TestOutcomeTable:
    def test_transition_fires(self) -> None:
        r = order().process("PENDING", "exchange_ack", {})
        assert r.success is True
        assert r.error is None
        assert "reason" not in r.metadata

    def test_guard_rejects(self) -> None:
        r = order().process("OPEN", "fill", {"fill_qty": 1, "order_qty": 100})
        assert r.success is False
        assert r.target_state is None
        assert type(r.error) is GuardRejectedError
        assert r.error.guard_name == "is_full_fill"
        assert r.error.current_state == "OPEN"
        assert r.error.code is ErrorCode.GUARD_REJECTED
        assert r.metadata["reason"] == "guard_rejected"
        assert r.metadata["guard_name"] == "is_full_fill"

    def test_guard_rejection_names_the_first_candidates_guard(self) -> None:
        m = build(
            [{"name": "A"}, {"name": "B"}, {"name": "C"}],
            [
                {"trigger": "go", "source": "A", "dest": "B", "guards": ["first"]},
                {"trigger": "go", "source": "A", "dest": "C", "guards": ["second"]},
            ],
        )
        m.guard_registry.register("first", lambda ctx: False)
        m.guard_registry.register("second", lambda ctx: False)
        r = m.process("A", "go")
        assert r.metadata["guard_name"] == "first"
        assert r.error is not None
        assert "first" in r.error.message

    @pytest.mark.parametrize("state", ["PENDING", "OPEN"])
    def test_undefined_trigger_strict(self, state: str) -> None:
        r = order().process(state, "explode", {})
        assert r.success is False
        assert type(r.error) is UndefinedTriggerError
        assert isinstance(r.error, InvalidTransitionError)
        assert r.error.code is ErrorCode.UNDEFINED_TRIGGER
        assert r.metadata["reason"] == "undefined_trigger"
        assert r.target_state is None

    def test_undefined_trigger_suggests_a_name(self) -> None:
        r = order().process("OPEN", "fil", {})
        assert r.error is not None
        assert "did you mean 'fill'?" in r.error.message

    def test_trigger_not_from_this_state_strict(self) -> None:
        r = order().process("PENDING", "fill", {})
        assert r.success is False
        assert type(r.error) is InvalidTransitionError
        assert r.error.code is ErrorCode.INVALID_TRIGGER
        assert r.error.current_state == "PENDING"
        assert r.error.trigger == "fill"
        assert r.metadata["reason"] == "invalid_transition"
        assert "allowed: exchange_ack, cancel" in r.error.message

    @pytest.mark.parametrize(("state", "trigger"), [("PENDING", "explode"), ("PENDING", "fill")])
    def test_lenient_no_transition_is_a_successful_no_op(self, state: str, trigger: str) -> None:
        r = order(strict=False).process(state, trigger, {})
        assert r.success is True
        assert r.error is None
        assert r.target_state == state
        assert r.state_changed is False
        assert r.metadata["reason"] == "no_transition"
        assert r.all_actions == ()

    @pytest.mark.parametrize("strict", [True, False])
    def test_terminal_state(self, strict: bool) -> None:
        for trigger in ("fill", "cancel", "explode"):
            r = order(strict).process("FILLED", trigger, {})
            assert r.success is False
            assert type(r.error) is TerminalStateError
            assert r.error.code is ErrorCode.TERMINAL_STATE
            assert r.metadata["reason"] == "terminal_state"

    @pytest.mark.parametrize("strict", [True, False])
    def test_lenient_mode_still_reports_guard_rejection(self, strict: bool) -> None:
        r = order(strict).process("OPEN", "fill", {"fill_qty": 0})
        assert r.success is False
        assert r.metadata["reason"] == "guard_rejected"

    def test_context_validation_result(self) -> None:
        # No shell validates contexts yet in this issue; the engine's result for it is fixed.
        from pystator.engine import context_invalid

        r = context_invalid("OPEN", "fill", ["fill_qty is required"])
        assert r.success is False
        assert isinstance(r.error, FSMError)
        assert r.error.code is ErrorCode.VALIDATION_FAILED
        assert r.metadata["reason"] == "context_validation"
        assert r.error.to_dict()["code"] == "VALIDATION_FAILED"


class TestRaised:
    @pytest.mark.parametrize("strict", [True, False])
    def test_undefined_current_state_raises(self, strict: bool) -> None:
        with pytest.raises(UndefinedStateError, match="state 'OPNE' is not defined") as info:
            order(strict).process("OPNE", "fill", {})
        assert "did you mean 'OPEN'?" in str(info.value)
        assert info.value.code is ErrorCode.UNDEFINED_STATE

    def test_unregistered_guard_raises_in_strict_mode(self) -> None:
        m = StateMachine.from_dict(ORDER)
        with pytest.raises(GuardNotFoundError, match="is_full_fill") as info:
            m.process("OPEN", "fill", {})
        assert info.value.code is ErrorCode.GUARD_NOT_FOUND

    def test_unregistered_guard_rejects_in_lenient_mode(self) -> None:
        data = copy.deepcopy(ORDER)
        data["meta"]["strict_mode"] = False
        r = StateMachine.from_dict(data).process("OPEN", "fill", {})
        assert r.success is False
        assert r.metadata["reason"] == "guard_rejected"
        assert r.metadata["guard_name"] == "is_full_fill"

    def test_unregistered_guard_is_only_a_problem_when_reached(self) -> None:
        m = StateMachine.from_dict(ORDER)
        assert m.process("PENDING", "exchange_ack").success


class TestAsyncGuards:
    def machine(self) -> StateMachine:
        m = build(
            [{"name": "A"}, {"name": "B"}, {"name": "C"}],
            [
                {"trigger": "go", "source": "A", "dest": "B", "guards": ["remote"]},
                {"trigger": "go", "source": "A", "dest": "C"},
            ],
        )

        @m.guard("remote")
        async def remote(ctx: Any) -> bool:
            await asyncio.sleep(0)
            return bool(ctx.get("ok"))

        return m

    def test_aprocess_awaits_async_guards(self) -> None:
        m = self.machine()
        assert asyncio.run(m.aprocess("A", "go", {"ok": True})).target_state == "B"
        # A rejecting async guard is really "no", not a truthy coroutine.
        assert asyncio.run(m.aprocess("A", "go", {"ok": False})).target_state == "C"

    def test_sync_process_refuses_an_async_guard(self) -> None:
        # The coroutine must not count as true (B) nor be skipped (C); it is closed, so no
        # "never awaited" warning escapes either (filterwarnings = error).
        m = self.machine()
        with pytest.raises(GuardEvaluationError, match="aprocess") as info:
            m.process("A", "go", {"ok": False})
        assert info.value.code is ErrorCode.GUARD_ERROR

    def test_aprocess_with_sync_guards_and_outcomes(self) -> None:
        m = order()
        r = asyncio.run(m.aprocess("OPEN", "fill", {"fill_qty": 1, "order_qty": 5}))
        assert r == m.process("OPEN", "fill", {"fill_qty": 1, "order_qty": 5})
        assert asyncio.run(m.aprocess("FILLED", "fill")).metadata["reason"] == "terminal_state"
        with pytest.raises(UndefinedStateError):
            asyncio.run(m.aprocess("NOPE", "fill"))

    def test_aprocess_guard_not_found(self) -> None:
        m = StateMachine.from_dict(ORDER)
        with pytest.raises(GuardNotFoundError):
            asyncio.run(m.aprocess("OPEN", "fill", {}))

    def test_async_guard_params(self) -> None:
        m = build(
            [{"name": "A"}, {"name": "B"}],
            [
                {
                    "trigger": "go",
                    "source": "A",
                    "dest": "B",
                    "guards": [{"name": "at_least", "params": {"n": 3}}],
                },
            ],
        )

        @m.guard("at_least")
        async def at_least(ctx: Any, n: int) -> bool:
            return bool(ctx["x"] >= n)

        assert asyncio.run(m.aprocess("A", "go", {"x": 3})).success
        assert not asyncio.run(m.aprocess("A", "go", {"x": 2})).success


class TestContextIsNotMutated:
    def test_process_leaves_the_context_alone(self) -> None:
        m = order()
        ctx = {"fill_qty": 100, "order_qty": 100, "nested": {"a": [1, 2]}}
        before = copy.deepcopy(ctx)
        for state, trigger in [("OPEN", "fill"), ("PENDING", "fill"), ("FILLED", "x")]:
            m.process(state, trigger, ctx)
        assert ctx == before

    def test_read_only_context_is_accepted(self) -> None:
        m = order()
        ctx = MappingProxyType({"fill_qty": 5, "order_qty": 5})
        assert m.process("OPEN", "fill", ctx).success


def results() -> list[TransitionResult]:
    m = order()
    m2 = order(strict=False)
    return [
        m.process("PENDING", "exchange_ack"),
        m.process("OPEN", "fill", {"fill_qty": 0}),
        m.process("OPEN", "explode"),
        m.process("PENDING", "fill"),
        m.process("FILLED", "fill"),
        m2.process("PENDING", "fill"),
    ]


class TestTransitionResult:
    @pytest.mark.parametrize("index", range(6))
    def test_json_serialisable(self, index: int) -> None:
        r = results()[index]
        data = json.loads(r.model_dump_json())
        assert data["success"] is r.success
        assert data["source_state"] == r.source_state
        assert data["target_state"] == r.target_state
        assert data["trigger"] == r.trigger
        assert data["metadata"] == dict(r.metadata)
        assert data["all_actions"] == list(r.all_actions)
        assert data["state_changed"] is r.state_changed
        if r.error is None:
            assert data["error"] is None
        else:
            assert {k: data["error"][k] for k in ("code", "type", "message")} == {
                "code": r.error.code.value,
                "type": type(r.error).__name__,
                "message": r.error.message,
            }
        assert json.loads(json.dumps(r.model_dump(mode="json"))) == data

    @pytest.mark.parametrize("index", range(6))
    def test_json_form_reads_back_as_an_equal_result(self, index: int) -> None:
        r = results()[index]
        again = TransitionResult.model_validate_json(r.model_dump_json())
        assert again == r
        assert type(again.error) is type(r.error)

    def test_fields_are_frozen(self) -> None:
        r = results()[0]
        with pytest.raises(ValidationError):
            r.target_state = "X"  # type: ignore[misc]
        assert r.target_state == "OPEN"

    def test_metadata_is_read_only(self) -> None:
        r = results()[1]
        with pytest.raises(TypeError):
            r.metadata["reason"] = "other"  # type: ignore[index]
        assert r.metadata["reason"] == "guard_rejected"

    def test_sequences_are_tuples(self) -> None:
        r = results()[0]
        for field in ("on_exit_actions", "actions_to_execute", "on_enter_actions", "all_actions"):
            assert isinstance(getattr(r, field), tuple)

    def test_raise_for_error(self) -> None:
        ok, rejected, undefined, invalid, terminal, no_op = results()
        assert ok.raise_for_error() is ok
        assert no_op.raise_for_error() is no_op
        with pytest.raises(GuardRejectedError) as info:
            rejected.raise_for_error()
        assert info.value.guard_name == "is_full_fill"
        assert info.value.current_state == "OPEN"
        with pytest.raises(UndefinedTriggerError):
            undefined.raise_for_error()
        with pytest.raises(InvalidTransitionError):
            invalid.raise_for_error()
        with pytest.raises(TerminalStateError):
            terminal.raise_for_error()

    def test_seed_style_error_handling(self) -> None:
        caught: list[str] = []
        for r in results():
            try:
                r.raise_for_error()
            except GuardRejectedError as e:
                caught.append(f"guard {e.guard_name} in {e.current_state}")
            except TerminalStateError:
                caught.append("terminal")
            except FSMError as e:
                caught.append(e.code.value)
        assert caught == [
            "guard is_full_fill in OPEN",
            "UNDEFINED_TRIGGER",
            "INVALID_TRIGGER",
            "terminal",
        ]

    def test_bool_is_success(self) -> None:
        ok, rejected, *_ = results()
        assert ok
        assert not rejected

    def test_equal_results_compare_equal(self) -> None:
        assert results() == results()
        assert results()[0] != results()[1]
