"""Hooks: the observer, ``LoggingHook``, ``MetricsCollector`` and ``machine.add_hook``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import pytest

from pystator import (
    LoggingHook,
    MetricsCollector,
    StateMachine,
    TransitionHook,
    TransitionObserver,
    TransitionResult,
    UndefinedStateError,
)
from tests.unit.conftest import ORDER


class Recorder:
    """A hook with all four methods; records what it saw."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def on_before_process(self, state: str, trigger: str, context: Mapping[str, Any]) -> None:
        self.events.append(("before", state, trigger, dict(context)))

    def on_transition_start(self, result: TransitionResult) -> None:
        self.events.append(("start", result.source_state, result.target_state))

    def on_transition_complete(self, result: TransitionResult, duration_ms: float) -> None:
        assert duration_ms >= 0
        self.events.append(("complete", result.success, result.metadata.get("reason")))

    def on_transition_error(
        self, state: str, trigger: str, error: BaseException, duration_ms: float
    ) -> None:
        self.events.append(("error", state, trigger, type(error).__name__))


def order(strict: bool = True) -> StateMachine:
    data = {**ORDER, "meta": {**ORDER["meta"], "strict_mode": strict}}
    m = StateMachine.from_dict(data)
    m.guard_registry.register("is_full_fill", lambda ctx: ctx.get("fill_qty", 0) >= 10)
    return m


class TestObserver:
    def test_refuses_an_object_that_is_not_a_hook(self) -> None:
        with pytest.raises(TypeError, match="is not a hook"):
            TransitionObserver().add_hook(object())

    def test_hooks_in_order_and_removal(self) -> None:
        a, b = Recorder(), Recorder()
        observer = TransitionObserver([a])
        observer.add_hook(b)
        assert observer.hooks == (a, b)
        observer.remove_hook(a)
        assert observer.hooks == (b,)
        assert observer
        observer.remove_hook(b)
        assert not observer

    def test_partial_hooks_are_fine(self) -> None:
        class OnlyComplete:
            def __init__(self) -> None:
                self.count = 0

            def on_transition_complete(self, result: TransitionResult, duration_ms: float) -> None:
                self.count += 1

        hook = OnlyComplete()
        m = order()
        m.add_hook(hook)
        m.process("PENDING", "exchange_ack")
        with pytest.raises(UndefinedStateError):
            m.process("NOPE", "x")
        assert hook.count == 1

    def test_full_hook_matches_the_protocol(self) -> None:
        assert isinstance(Recorder(), TransitionHook)
        assert not isinstance(object(), TransitionHook)


class TestMachineHooks:
    def test_add_hook_sees_every_process_call(self) -> None:
        m = order()
        rec = Recorder()
        m.add_hook(rec)
        m.process("PENDING", "exchange_ack", {"a": 1})
        m.process("OPEN", "fill", {"fill_qty": 1})
        m.process("FILLED", "fill")
        assert rec.events == [
            ("before", "PENDING", "exchange_ack", {"a": 1}),
            ("start", "PENDING", "OPEN"),
            ("complete", True, None),
            ("before", "OPEN", "fill", {"fill_qty": 1}),
            ("complete", False, "guard_rejected"),
            ("before", "FILLED", "fill", {}),
            ("complete", False, "terminal_state"),
        ]

    def test_lenient_no_op_is_complete_but_not_started(self) -> None:
        m = order(strict=False)
        rec = Recorder()
        m.add_hook(rec)
        m.process("PENDING", "fill")
        assert rec.events[1:] == [("complete", True, "no_transition")]

    def test_errors_are_reported_and_still_raised(self) -> None:
        m = order()
        rec = Recorder()
        m.add_hook(rec)
        with pytest.raises(UndefinedStateError):
            m.process("NOPE", "fill")
        assert rec.events[-1] == ("error", "NOPE", "fill", "UndefinedStateError")

    def test_aprocess_is_observed(self) -> None:
        m = order()
        rec = Recorder()
        m.add_hook(rec)
        asyncio.run(m.aprocess("PENDING", "exchange_ack"))
        with pytest.raises(UndefinedStateError):
            asyncio.run(m.aprocess("NOPE", "x"))
        assert [e[0] for e in rec.events] == ["before", "start", "complete", "before", "error"]

    def test_session_send_and_asend_are_observed(self) -> None:
        m = order()
        rec = Recorder()
        m.add_hook(rec)
        session = m.create()
        session.send("exchange_ack", note="x")
        asyncio.run(session.asend("fill", fill_qty=10))
        starts = [e for e in rec.events if e[0] == "start"]
        assert starts == [("start", "PENDING", "OPEN"), ("start", "OPEN", "FILLED")]
        assert ("before", "PENDING", "exchange_ack", {"note": "x"}) in rec.events

    def test_hook_added_after_sessions_exist_sees_them(self) -> None:
        m = order()
        session = m.create()
        rec = Recorder()
        m.add_hook(rec)
        session.send("exchange_ack")
        assert ("start", "PENDING", "OPEN") in rec.events

    def test_a_raising_hook_does_not_break_processing(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        class Broken:
            def on_before_process(self, *args: Any) -> None:
                raise RuntimeError("hook down")

            def on_transition_complete(self, *args: Any) -> None:
                raise ValueError("also down")

        m = order()
        m.add_hook(Broken())
        rec = Recorder()
        m.add_hook(rec)
        with caplog.at_level(logging.ERROR, logger="pystator"):
            r = m.process("PENDING", "exchange_ack")
        assert r.success
        assert r.target_state == "OPEN"
        # The next hook still ran.
        assert ("start", "PENDING", "OPEN") in rec.events
        messages = [rec_.getMessage() for rec_ in caplog.records]
        assert "hook Broken.on_before_process failed" in messages
        assert "hook Broken.on_transition_complete failed" in messages

    def test_seed_metrics_example_with_add_hook(self) -> None:
        machine = StateMachine.from_dict(ORDER)
        metrics = MetricsCollector()
        machine.add_hook(LoggingHook())
        machine.add_hook(metrics)
        machine.process("PENDING", "exchange_ack", {})
        summary = metrics.get_summary()
        assert summary["total_transitions"] == 1
        assert summary["success_rate"] == 1.0
        assert set(summary["duration"]) >= {"min_ms", "avg_ms", "p95_ms"}

    def test_observer_property_is_the_one_used(self) -> None:
        m = order()
        rec = Recorder()
        m.observer.add_hook(rec)
        m.process("PENDING", "exchange_ack")
        assert rec.events


class TestLoggingHook:
    def test_logs_success_and_rejection(self, caplog: pytest.LogCaptureFixture) -> None:
        m = order()
        m.add_hook(LoggingHook())
        with caplog.at_level(logging.INFO, logger="pystator"):
            m.process("PENDING", "exchange_ack")
            m.process("OPEN", "fill", {"fill_qty": 0})
        messages = [r.getMessage() for r in caplog.records]
        assert len(messages) == 2
        assert messages[0].startswith("PENDING --exchange_ack--> OPEN (")
        assert messages[0].endswith(" ms)")
        assert messages[1].startswith("OPEN --fill--> rejected: guard_rejected (")
        assert all(r.levelno == logging.INFO for r in caplog.records)

    def test_logs_errors_at_error_level(self, caplog: pytest.LogCaptureFixture) -> None:
        m = order()
        m.add_hook(LoggingHook())
        with caplog.at_level(logging.INFO, logger="pystator"), pytest.raises(UndefinedStateError):
            m.process("NOPE", "fill")
        (record,) = caplog.records
        assert record.levelno == logging.ERROR
        assert record.getMessage().startswith("NOPE --fill--> error: state 'NOPE' is not defined")

    def test_custom_logger_and_level(self, caplog: pytest.LogCaptureFixture) -> None:
        mine = logging.getLogger("tests.pystator.custom")
        m = order()
        m.add_hook(LoggingHook(mine, level=logging.DEBUG))
        with caplog.at_level(logging.DEBUG, logger="tests.pystator.custom"):
            m.process("PENDING", "exchange_ack")
        (record,) = caplog.records
        assert record.name == "tests.pystator.custom"
        assert record.levelno == logging.DEBUG


def fake_result(success: bool, reason: str | None = None) -> TransitionResult:
    return TransitionResult(
        success=success,
        source_state="A",
        target_state="B" if success else None,
        trigger="t",
        metadata={"reason": reason} if reason else {},
    )


class TestMetricsCollector:
    def test_summary_keys_and_values(self) -> None:
        metrics = MetricsCollector()
        for i in range(1, 21):
            metrics.on_transition_complete(
                fake_result(i % 4 != 0, None if i % 4 else "guard_rejected"), float(i)
            )
        summary = metrics.get_summary()
        assert summary["total_transitions"] == 20
        assert summary["successful"] == 15
        assert summary["failed"] == 5
        assert summary["success_rate"] == 0.75
        assert summary["by_reason"] == {"guard_rejected": 5}
        duration = summary["duration"]
        assert duration["min_ms"] == 1.0
        assert duration["avg_ms"] == pytest.approx(10.5)
        assert duration["p95_ms"] == 19.0
        assert duration["max_ms"] == 20.0

    def test_empty_summary(self) -> None:
        summary = MetricsCollector().get_summary()
        assert summary["total_transitions"] == 0
        assert summary["success_rate"] == 0.0
        assert summary["duration"] == {"min_ms": 0.0, "avg_ms": 0.0, "p95_ms": 0.0, "max_ms": 0.0}

    def test_errors_count_as_events(self) -> None:
        metrics = MetricsCollector()
        metrics.on_transition_complete(fake_result(True), 1.0)
        metrics.on_transition_error("A", "t", RuntimeError("x"), 3.0)
        summary = metrics.get_summary()
        assert summary["total_transitions"] == 2
        assert summary["errors"] == 1
        assert summary["success_rate"] == 0.5
        assert summary["duration"]["avg_ms"] == 2.0

    def test_memory_is_bounded_by_the_window(self) -> None:
        metrics = MetricsCollector(window=10)
        for i in range(1000):
            metrics.on_transition_complete(fake_result(True), float(i))
        assert len(metrics._durations) == 10
        summary = metrics.get_summary()
        assert summary["total_transitions"] == 1000
        # Counters and min/mean cover every event; the percentile covers the window.
        assert summary["duration"]["min_ms"] == 0.0
        assert summary["duration"]["avg_ms"] == pytest.approx(499.5)
        assert summary["duration"]["p95_ms"] == 999.0
        assert summary["duration"]["max_ms"] == 999.0

    def test_window_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="window"):
            MetricsCollector(window=0)

    def test_reset(self) -> None:
        metrics = MetricsCollector()
        metrics.on_transition_complete(fake_result(True), 1.0)
        metrics.reset()
        assert metrics.get_summary()["total_transitions"] == 0

    def test_attached_to_a_machine(self) -> None:
        m = order()
        metrics = MetricsCollector()
        m.add_hook(metrics)
        m.process("PENDING", "exchange_ack")
        m.process("OPEN", "fill", {"fill_qty": 1})
        m.process("OPEN", "explode")
        summary = metrics.get_summary()
        assert summary["total_transitions"] == 3
        assert summary["success_rate"] == pytest.approx(1 / 3)
        assert summary["by_reason"] == {"guard_rejected": 1, "undefined_trigger": 1}
        assert 0 <= summary["duration"]["min_ms"] <= summary["duration"]["avg_ms"]
        assert summary["duration"]["avg_ms"] <= summary["duration"]["max_ms"]


def test_shipped_hooks_satisfy_the_protocol() -> None:
    from pystator import LoggingHook, MetricsCollector, TransitionHook

    assert isinstance(MetricsCollector(), TransitionHook)
    assert isinstance(LoggingHook(), TransitionHook)
    assert not isinstance(object(), TransitionHook)
