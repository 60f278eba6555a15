"""The spec's outcome table, raised errors, and what a ``TransitionResult`` promises."""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import traceback
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
from pystator.engine.caches import MAX_FAILURES
from pystator.engine.expr import compile_expression
from pystator.engine.outcomes import build_no_transition, build_rejection
from pystator.models.result import with_context
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


# --------------------------------------------------------------------------- shared failures
# A failed result is built once per (state, trigger, guard, candidates, detail), or per
# (state, trigger) when no candidate applies, and shared. These tests hold the shared results
# to the plain builders (the code that built every failed result before), field for field,
# and check that nothing of one call reaches another.


def expr_order(on_missing: str = "false") -> StateMachine:
    data = copy.deepcopy(ORDER)
    data["meta"]["expr_on_missing"] = on_missing
    data["transitions"][1]["guards"] = [{"expr": "fill_qty >= order_qty"}]
    return StateMachine.from_dict(data)


def fill_guard(m: StateMachine) -> Any:
    return m.index.guards[1][0]  # the guard of transition 1, 'fill'


def assert_same_result(fast: TransitionResult, slow: TransitionResult) -> None:
    """Equal field for field, error included (type, code, message, args, attributes), and
    the same JSON. The builders carry no context: ``fast``'s (the call's) is set aside."""
    fast = with_context(fast, slow.context)
    for name in TransitionResult.model_fields:
        if name != "error":
            assert getattr(fast, name) == getattr(slow, name), name
    assert dict(fast.metadata) == dict(slow.metadata)
    assert type(fast.error) is type(slow.error)
    if slow.error is not None:
        assert fast.error is not None
        assert fast.error.code is slow.error.code
        assert fast.error.message == slow.error.message
        assert fast.error.args == slow.error.args
        assert str(fast.error) == str(slow.error)
        assert vars(fast.error) == vars(slow.error)
        assert fast.error.to_dict() == slow.error.to_dict()
    assert fast == slow
    assert fast.model_dump() == slow.model_dump()
    assert fast.model_dump_json() == slow.model_dump_json()


REJECTED = {"fill_qty": 1, "order_qty": 100}


def failure_cases() -> list[tuple[str, StateMachine, str, str, dict[str, Any], Any, str]]:
    """(id, machine, state, trigger, context, plain builder, the message it carries today)."""
    named, lenient, expr = order(), order(strict=False), expr_order()
    expr_label = "expr: fill_qty >= order_qty"
    return [
        (
            "named guard rejected",
            named,
            "OPEN",
            "fill",
            REJECTED,
            lambda: build_rejection(named.index, "OPEN", "fill", fill_guard(named), 1),
            "guard 'is_full_fill' rejected trigger 'fill' in state 'OPEN'",
        ),
        (
            "expr guard rejected",
            expr,
            "OPEN",
            "fill",
            REJECTED,
            lambda: build_rejection(
                expr.index, "OPEN", "fill", fill_guard(expr), 1, "the expression is false"
            ),
            f"guard '{expr_label}' rejected trigger 'fill' in state 'OPEN': "
            "the expression is false",
        ),
        (
            "expr guard rejected, key missing",
            expr,
            "OPEN",
            "fill",
            {"order_qty": 100},
            lambda: build_rejection(
                expr.index,
                "OPEN",
                "fill",
                fill_guard(expr),
                1,
                "context key 'fill_qty' is missing",
            ),
            f"guard '{expr_label}' rejected trigger 'fill' in state 'OPEN': "
            "context key 'fill_qty' is missing",
        ),
        (
            "undefined trigger",
            named,
            "OPEN",
            "fil",
            {},
            lambda: build_no_transition(named.index, "OPEN", "fil"),
            "trigger 'fil' is not defined in machine 'order_management'; did you mean 'fill'?",
        ),
        (
            "invalid transition",
            named,
            "PENDING",
            "fill",
            {},
            lambda: build_no_transition(named.index, "PENDING", "fill"),
            "trigger 'fill' is not allowed in state 'PENDING' (allowed: exchange_ack, cancel)",
        ),
        (
            "terminal state",
            named,
            "FILLED",
            "fill",
            {},
            lambda: build_no_transition(named.index, "FILLED", "fill"),
            "state 'FILLED' is terminal: trigger 'fill' cannot leave it",
        ),
        (
            "lenient no-op",
            lenient,
            "PENDING",
            "fill",
            {},
            lambda: build_no_transition(lenient.index, "PENDING", "fill"),
            "",
        ),
    ]


CASE_IDS = [case[0] for case in failure_cases()]


class TestSharedFailures:
    @pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
    def test_shared_result_equals_the_plain_builders(self, index: int) -> None:
        _, m, state, trigger, ctx, plain, message = failure_cases()[index]
        first = m.process(state, trigger, ctx)
        assert_same_result(first, plain())
        if message:
            assert first.error is not None
            assert first.error.message == message
        else:
            assert first.error is None
        # Built once: the second call hands out the same object.
        assert m.process(state, trigger, ctx) is first
        again = m.process(state, trigger, dict(ctx))
        assert again.context == ctx
        assert again.error is first.error  # the same shared result, with this call's context

    @pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
    def test_every_driver_gives_the_same_failure(self, index: int) -> None:
        _, m, state, trigger, ctx, plain, _ = failure_cases()[index]
        expected = plain()
        assert_same_result(asyncio.run(m.aprocess(state, trigger, ctx)), expected)
        assert_same_result(m.process(state, trigger, ctx), expected)
        assert_same_result(m.create(ctx, initial_state=state).send(trigger), expected)
        # The general engine (the path of parallel configurations and history) agrees.
        from pystator.engine import DataModel, macrostep
        from pystator.runtime.guard_drivers import drive

        data = DataModel(ctx, ctx)
        general = drive(m, macrostep(m.index, state, trigger, None, data=data), data)
        assert_same_result(general, expected)

    def test_a_rejection_never_answers_for_another_context(self) -> None:
        m = expr_order()
        checked = compile_expression("fill_qty >= order_qty").explain
        contexts: list[dict[str, Any]] = [
            {},
            {"fill_qty": 1, "order_qty": 100},
            {"fill_qty": 100, "order_qty": 100},
            {"fill_qty": "1", "order_qty": 100},
            {"fill_qty": 1.5, "order_qty": float("nan")},
            {"order_qty": 100},
        ]
        for _ in range(3):
            for ctx in contexts:
                r = m.process("OPEN", "fill", ctx)
                detail = checked(MappingProxyType(ctx))
                if detail is None:
                    assert r.success
                    assert r.target_state == "FILLED"
                    continue
                expected = build_rejection(m.index, "OPEN", "fill", fill_guard(m), 1, detail)
                assert_same_result(r, expected)
                assert r.metadata["guard_detail"] == detail

    def test_threads_sharing_a_machine_get_their_own_answers(self) -> None:
        m = expr_order()
        calls: list[tuple[str, str, dict[str, Any], str | None]] = [
            ("OPEN", "fill", {}, "context key 'fill_qty' is missing"),
            ("OPEN", "fill", {"fill_qty": 1, "order_qty": 2}, "the expression is false"),
            ("OPEN", "fill", {"fill_qty": 2, "order_qty": 2}, None),
            ("PENDING", "fill", {}, "invalid_transition"),
            ("OPEN", "explode", {}, "undefined_trigger"),
        ]
        wrong: list[str] = []

        def work(offset: int) -> None:
            for i in range(400):
                state, trigger, ctx, expected = calls[(i + offset) % len(calls)]
                r = m.process(state, trigger, ctx)
                got = r.metadata.get("guard_detail") or r.metadata.get("reason")
                if r.source_state != state or got != expected:
                    wrong.append(f"{state} {trigger} {ctx}: {got!r}")

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert wrong == []

    def test_a_rejection_never_answers_for_another_state(self) -> None:
        m = build(
            [{"name": "A"}, {"name": "B"}, {"name": "C"}],
            [{"trigger": "go", "source": ["A", "B"], "dest": "C", "guards": ["open"]}],
        )
        m.guard("open")(lambda ctx: bool(ctx.get("open")))
        for _ in range(2):
            for state in ("A", "B"):
                r = m.process(state, "go")
                assert r.source_state == state
                assert r.error is not None
                assert getattr(r.error, "current_state", None) == state
                assert r.error.message == f"guard 'open' rejected trigger 'go' in state '{state}'"
                assert m.process(state, "go", {"open": True}).target_state == "C"

    def test_the_rejecting_guard_and_candidate_count_are_part_of_the_key(self) -> None:
        m = build(
            [{"name": "A"}, {"name": "B"}, {"name": "C"}],
            [
                {"trigger": "go", "source": "A", "dest": "B", "guards": ["first", "second"]},
                {"trigger": "go", "source": "A", "dest": "C", "guards": ["second"]},
            ],
        )
        m.guard("first")(lambda ctx: bool(ctx.get("first")))
        m.guard("second")(lambda ctx: False)
        for _ in range(2):
            by_first = m.process("A", "go", {})
            by_second = m.process("A", "go", {"first": True})
            assert by_first.metadata["guard_name"] == "first"
            assert by_second.metadata["guard_name"] == "second"
            assert by_first.metadata["candidates"] == by_second.metadata["candidates"] == 2
            assert by_first.error is not None
            assert by_second.error is not None
            assert by_first.error.message.endswith(
                "(and 1 other candidate transition(s) were rejected too)"
            )
            assert "guard 'second'" in by_second.error.message

    def test_machines_do_not_share_failures(self) -> None:
        one, two = order(), order()
        r1, r2 = one.process("OPEN", "fill", REJECTED), two.process("OPEN", "fill", REJECTED)
        assert r1 == r2
        assert r1 is not r2
        assert r1.error is not r2.error

    def test_strict_and_lenient_machines_answer_their_own_way(self) -> None:
        strict, lenient = order(), order(strict=False)
        for _ in range(2):
            assert strict.process("PENDING", "fill").metadata["reason"] == "invalid_transition"
            no_op = lenient.process("PENDING", "fill")
            assert no_op.success
            assert no_op.metadata["reason"] == "no_transition"

    def test_parallel_rejections_keep_the_callers_spelling(self) -> None:
        m = build(
            [
                {"name": "OUT", "type": "initial"},
                {
                    "name": "P",
                    "type": "parallel",
                    "regions": [
                        {"name": "r1", "states": ["A1", "A2"]},
                        {"name": "r2", "states": ["B1", "B2"]},
                    ],
                },
            ],
            [{"trigger": "flip", "source": "B1", "dest": "B2", "guards": ["ok"]}],
        )
        m.guard("ok")(lambda ctx: bool(ctx.get("ok")))
        guard = m.index.guards[0][0]
        for spelling in ("P(r1=A1, r2=B1)", "P(r1=A1,r2=B1)"):
            r = m.process(spelling, "flip")
            assert_same_result(r, build_rejection(m.index, spelling, "flip", guard, 1))
            assert m.process(spelling, "flip") is r
            assert m.process(spelling, "explode").source_state == spelling
            assert m.process(spelling, "flip", {"ok": True}).success

    def test_an_undefined_state_still_raises_after_failures_were_shared(self) -> None:
        m = order()
        m.process("OPEN", "explode")
        with pytest.raises(UndefinedStateError):
            m.process("OPNE", "explode")
        with pytest.raises(UndefinedStateError):
            asyncio.run(m.aprocess("OPNE", "explode"))

    def test_the_shared_failures_are_bounded(self) -> None:
        m = order()
        for i in range(MAX_FAILURES + 50):
            assert not m.process("OPEN", f"unknown_{i}")
        assert 0 < len(m.index.caches.failures) <= MAX_FAILURES
        # A result handed out before the cache was cleared stays as it was.
        r = m.process("OPEN", "explode")
        for i in range(MAX_FAILURES + 1):
            m.process("OPEN", f"other_{i}")
        assert r.error is not None
        assert r.error.message.startswith("trigger 'explode' is not defined")


class TestSharedErrors:
    """A shared result's error is shared too: raising it must not leak between calls."""

    @pytest.mark.parametrize("index", range(len(CASE_IDS) - 1), ids=CASE_IDS[:-1])
    def test_raise_for_error_raises_a_fresh_equal_copy(self, index: int) -> None:
        _, m, state, trigger, ctx, plain, _ = failure_cases()[index]
        r = m.process(state, trigger, ctx)
        assert r.error is not None
        depths = []
        for _ in range(3):
            try:
                raise KeyError("an unrelated error being handled")
            except KeyError:
                with pytest.raises(type(r.error)) as info:
                    r.raise_for_error()
            raised = info.value
            assert raised == r.error
            assert raised is not r.error
            assert raised.args == r.error.args
            assert vars(raised) == vars(r.error)
            assert isinstance(raised.__context__, KeyError)
            depths.append(len(traceback.extract_tb(raised.__traceback__)))
        assert len(set(depths)) == 1  # no traceback grows from one raise to the next
        # The shared error took nothing from those raises, and is still handed out.
        assert r.error.__traceback__ is None
        assert r.error.__context__ is None
        assert m.process(state, trigger, ctx) is r
        assert_same_result(r, plain())

    @pytest.mark.parametrize("index", range(len(CASE_IDS) - 1), ids=CASE_IDS[:-1])
    def test_an_error_raised_directly_is_not_handed_out_again(self, index: int) -> None:
        _, m, state, trigger, ctx, plain, _ = failure_cases()[index]
        r = m.process(state, trigger, ctx)
        assert r.error is not None
        with pytest.raises(FSMError):
            raise r.error
        assert r.error.__traceback__ is not None
        for run in (
            lambda: m.process(state, trigger, ctx),
            lambda: asyncio.run(m.aprocess(state, trigger, ctx)),
        ):
            again = run()
            assert again is not r
            assert again.error is not None
            assert again.error.__traceback__ is None
            assert_same_result(again, plain())
            assert run() is again
            with pytest.raises(FSMError):
                raise again.error

    def test_a_rejection_with_a_raised_error_is_rebuilt_on_the_general_path(self) -> None:
        m = build(
            [
                {"name": "P", "type": "parallel", "regions": [{"name": "r", "states": ["A"]}]},
                {"name": "B"},
            ],
            [{"trigger": "go", "source": "A", "dest": "B", "guards": ["no"]}],
        )
        m.guard("no")(lambda ctx: False)
        r = m.process("P(r=A)", "go")
        assert r.error is not None
        with pytest.raises(GuardRejectedError):
            raise r.error
        again = m.process("P(r=A)", "go")
        assert again == r
        assert again is not r
        assert again.error is not None
        assert again.error.__traceback__ is None


class TestFastExpressionDriver:
    """The sync driver asks an ``expr`` guard why not (one call), instead of whether and
    then why; both give the same answers."""

    @pytest.mark.parametrize("on_missing", ["false", "error"])
    def test_why_not_agrees_with_evaluate_and_explain(self, on_missing: str) -> None:
        m = expr_order(on_missing)
        guard = fill_guard(m)
        assert guard.why_not is not None
        contexts: list[Any] = [
            {"fill_qty": 1, "order_qty": 2},
            {"fill_qty": 2, "order_qty": 2},
            {"fill_qty": "a", "order_qty": "b"},
            {"fill_qty": 1, "order_qty": 1.0},
            {"fill_qty": True, "order_qty": 1},
            {"fill_qty": float("inf"), "order_qty": 1.0},
            MappingProxyType({"fill_qty": 1, "order_qty": 2}),
            {"order_qty": 2},
        ]
        for ctx in contexts:
            if on_missing == "error" and "fill_qty" not in ctx:
                with pytest.raises(GuardEvaluationError) as raised:
                    guard.evaluate(ctx)
                with pytest.raises(GuardEvaluationError) as info:
                    guard.why_not(ctx)
                assert info.value == raised.value
                continue
            holds = bool(guard.evaluate(ctx))
            why = guard.why_not(ctx)
            assert (why is None) is holds
            assert why == guard.evaluate.explain(ctx)

    def test_a_named_guard_has_no_why_not(self) -> None:
        assert fill_guard(order()).why_not is None

    def test_missing_key_raises_in_error_mode_on_every_path(self) -> None:
        m = expr_order("error")
        with pytest.raises(GuardEvaluationError, match="fill_qty"):
            m.process("OPEN", "fill", {"order_qty": 1})
        with pytest.raises(GuardEvaluationError, match="fill_qty"):
            asyncio.run(m.aprocess("OPEN", "fill", {"order_qty": 1}))
        r = m.process("OPEN", "fill", REJECTED)
        assert r.metadata["guard_detail"] == "the expression is false"
