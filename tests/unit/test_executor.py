"""``ActionExecutor``: order, params, failures, async runs and timeouts, and the sync and async
drivers of the one plan giving the same reports."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pystator import (
    ActionExecutor,
    ActionOutcome,
    ActionRegistry,
    ActionSpec,
    ErrorCode,
    ExecutionReport,
    TransitionResult,
)
from pystator.actions import ActionExecutor as ActionsModuleExecutor
from tests.unit.conftest import build, traced


def result_with(*actions: Any) -> TransitionResult:
    m = build(
        [traced("A"), traced("B")],
        [
            {"trigger": "go", "source": "A", "dest": "B", "actions": list(actions)},
        ],
    )
    return m.process("A", "go")


def recording(log: list[Any], *names: str) -> ActionRegistry:
    reg = ActionRegistry()
    for name in names:
        reg.register(name, lambda ctx, _n=name, **kw: log.append((_n, kw)))
    return reg


def test_actions_module_exports_the_same_executor() -> None:
    assert ActionsModuleExecutor is ActionExecutor


def test_the_seed_async_names_are_the_same_functions() -> None:
    assert ActionExecutor.async_execute is ActionExecutor.aexecute
    assert ActionExecutor.async_execute_parallel is ActionExecutor.aexecute_parallel


class TestExecute:
    def test_runs_exit_transition_enter_in_order_with_params(self) -> None:
        log: list[Any] = []
        reg = recording(log, "ex_A", "t1", "t2", "en_B")
        r = result_with("t1", {"name": "t2", "params": {"book": "main", "qty": 3}})
        report = ActionExecutor(reg).execute(r, {"k": 1})
        assert report.success
        assert log == [("ex_A", {}), ("t1", {}), ("t2", {"book": "main", "qty": 3}), ("en_B", {})]
        assert [o.name for o in report.outcomes] == ["ex_A", "t1", "t2", "en_B"]
        assert all(o.success and o.error is None for o in report.outcomes)
        assert report.outcomes[2].params == {"book": "main", "qty": 3}

    def test_actions_receive_the_context(self) -> None:
        seen: list[Any] = []
        reg = ActionRegistry()
        for name in ("ex_A", "t", "en_B"):
            reg.register(name, lambda ctx: seen.append(ctx))
        ctx = {"order_id": "123"}
        ActionExecutor(reg).execute(result_with("t"), ctx)
        assert seen == [ctx] * 3
        assert all(s is ctx for s in seen)

    def test_failed_result_runs_nothing(self) -> None:
        log: list[Any] = []
        reg = recording(log, "ex_A", "en_B", "t")
        m = build(
            [traced("A"), traced("B")],
            [
                {"trigger": "go", "source": "A", "dest": "B", "guards": ["no"], "actions": ["t"]},
            ],
        )
        m.guard_registry.register("no", lambda ctx: False)
        failed = m.process("A", "go")
        assert not failed.success
        report = ActionExecutor(reg).execute(failed, {})
        assert report.success
        assert report.outcomes == ()
        assert log == []
        assert asyncio.run(ActionExecutor(reg).aexecute(failed, {})).outcomes == ()
        assert asyncio.run(ActionExecutor(reg).aexecute_parallel(failed, {})).outcomes == ()

    def test_a_raising_action_is_reported_and_others_still_run(self) -> None:
        log: list[Any] = []
        reg = recording(log, "ex_A", "en_B")
        reg.register("boom", lambda ctx: 1 / 0)
        report = ActionExecutor(reg).execute(result_with("boom"), {})
        assert not report.success
        assert [o.name for o in report.outcomes] == ["ex_A", "boom", "en_B"]
        assert [o.success for o in report.outcomes] == [True, False, True]
        assert report.outcomes[1].error == "ZeroDivisionError: division by zero"
        assert [o.name for o in report.failed] == ["boom"]
        assert [n for n, _ in log] == ["ex_A", "en_B"]

    def test_stop_on_error_skips_the_rest(self) -> None:
        log: list[Any] = []
        reg = recording(log, "ex_A", "after", "en_B")
        reg.register("boom", lambda ctx: 1 / 0)
        report = ActionExecutor(reg, stop_on_error=True).execute(result_with("boom", "after"), {})
        assert not report.success
        assert [o.name for o in report.outcomes] == ["ex_A", "boom"]
        assert report.skipped == ("after", "en_B")
        assert [n for n, _ in log] == ["ex_A"]

    def test_unregistered_action(self) -> None:
        log: list[Any] = []
        reg = recording(log, "ex_A", "en_B")
        report = ActionExecutor(reg).execute(result_with("missing"), {})
        assert not report.success
        (failed,) = report.failed
        assert failed.name == "missing"
        assert failed.error_code == ErrorCode.ACTION_NOT_FOUND.value
        assert failed.error is not None
        assert failed.error.startswith("ActionNotFoundError: action 'missing' is not registered")
        assert [n for n, _ in log] == ["ex_A", "en_B"]

    def test_late_registration_counts(self) -> None:
        reg = ActionRegistry()
        executor = ActionExecutor(reg)
        for name in ("ex_A", "t", "en_B"):
            reg.register(name, lambda ctx: None)
        assert executor.execute(result_with("t"), {}).success

    def test_async_action_in_sync_execute_is_an_error_not_a_silent_skip(self) -> None:
        reg = recording([], "ex_A", "en_B")

        async def later(ctx: Any) -> None: ...

        reg.register("later", later)
        report = ActionExecutor(reg).execute(result_with("later"), {})
        assert not report.success
        (failed,) = report.failed
        assert "async" in (failed.error or "")

    def test_result_without_actions(self) -> None:
        m = build([{"name": "A"}, {"name": "B"}], [{"trigger": "go", "source": "A", "dest": "B"}])
        report = ActionExecutor().execute(m.process("A", "go"))
        assert report == ExecutionReport(success=True)

    def test_default_registry_is_empty(self) -> None:
        executor = ActionExecutor()
        assert len(executor.registry) == 0

    @pytest.mark.parametrize("timeout", [0, -1.0])
    def test_timeout_must_be_positive(self, timeout: float) -> None:
        with pytest.raises(ValueError, match="timeout"):
            ActionExecutor(timeout=timeout)


class TestAsync:
    def test_aexecute_runs_in_order_and_awaits(self) -> None:
        log: list[str] = []
        reg = ActionRegistry()

        async def slow(ctx: Any) -> None:
            await asyncio.sleep(0.01)
            log.append("slow")

        reg.register("ex_A", lambda ctx: log.append("ex_A"))
        reg.register("slow", slow)
        reg.register("en_B", lambda ctx: log.append("en_B"))
        report = asyncio.run(ActionExecutor(reg).aexecute(result_with("slow"), {}))
        assert report.success
        assert log == ["ex_A", "slow", "en_B"]

    def test_async_params_are_keywords(self) -> None:
        got: list[Any] = []
        reg = recording([], "ex_A", "en_B")

        async def act(ctx: Any, *, book: str) -> None:
            got.append(book)

        reg.register("act", act)
        report = asyncio.run(
            ActionExecutor(reg).aexecute(result_with({"name": "act", "params": {"book": "x"}}))
        )
        assert report.success
        assert got == ["x"]

    def test_async_failure_does_not_stop_the_rest(self) -> None:
        log: list[str] = []
        reg = ActionRegistry()

        async def boom(ctx: Any) -> None:
            raise RuntimeError("down")

        reg.register("ex_A", lambda ctx: log.append("ex_A"))
        reg.register("boom", boom)
        reg.register("en_B", lambda ctx: log.append("en_B"))
        report = asyncio.run(ActionExecutor(reg).aexecute(result_with("boom"), {}))
        assert not report.success
        assert report.failed[0].error == "RuntimeError: down"
        assert log == ["ex_A", "en_B"]
        stopped = asyncio.run(
            ActionExecutor(reg, stop_on_error=True).aexecute(result_with("boom"), {})
        )
        assert stopped.skipped == ("en_B",)

    def test_timeout_is_reported_with_its_code(self) -> None:
        reg = recording([], "ex_A", "en_B")

        async def hang(ctx: Any) -> None:
            await asyncio.sleep(10)

        reg.register("hang", hang)
        report = asyncio.run(ActionExecutor(reg, timeout=0.01).aexecute(result_with("hang")))
        assert not report.success
        (failed,) = report.failed
        assert failed.name == "hang"
        assert failed.error_code == ErrorCode.TIMEOUT.value == "TIMEOUT"
        assert "ActionTimeoutError" in (failed.error or "")
        assert [o.success for o in report.outcomes] == [True, False, True]

    def test_parallel_starts_everything_and_keeps_declared_order(self) -> None:
        started: list[str] = []
        release = asyncio.Event()

        async def waiter(ctx: Any) -> None:
            started.append("waiter")
            await release.wait()

        async def releaser(ctx: Any) -> None:
            started.append("releaser")
            release.set()

        reg = recording([], "ex_A", "en_B")
        reg.register("waiter", waiter)
        reg.register("releaser", releaser)

        async def run() -> ExecutionReport:
            # Run sequentially, ``waiter`` would wait forever; in parallel ``releaser`` frees it.
            return await asyncio.wait_for(
                ActionExecutor(reg).aexecute_parallel(result_with("waiter", "releaser")), 5
            )

        report = asyncio.run(run())
        assert report.success
        assert [o.name for o in report.outcomes] == ["ex_A", "waiter", "releaser", "en_B"]
        assert started == ["waiter", "releaser"]

    def test_parallel_reports_failures(self) -> None:
        reg = recording([], "ex_A", "en_B")
        reg.register("boom", lambda ctx: 1 / 0)
        report = asyncio.run(ActionExecutor(reg).aexecute_parallel(result_with("boom")))
        assert not report.success
        assert [o.success for o in report.outcomes] == [True, False, True]


def without_durations(report: ExecutionReport) -> ExecutionReport:
    """``report`` with every ``duration_ms`` zeroed: the one field two runs never share."""
    outcomes = tuple(o.model_copy(update={"duration_ms": 0.0}) for o in report.outcomes)
    return report.model_copy(update={"outcomes": outcomes})


class _Recording(ActionExecutor):
    """Runs actions for real (async) and keeps each outcome by action name."""

    def __init__(self, registry: ActionRegistry, **options: Any) -> None:
        super().__init__(registry, **options)
        self.seen: dict[str, ActionOutcome] = {}

    async def arun_one(
        self, spec: ActionSpec, ctx: Any, action_id: str | None = None
    ) -> ActionOutcome:
        outcome = await super().arun_one(spec, ctx, action_id)
        self.seen[spec.name] = outcome
        return outcome


class _Replaying(ActionExecutor):
    """Answers the sync driver with outcomes recorded from an async run."""

    def __init__(self, outcomes: dict[str, ActionOutcome], **options: Any) -> None:
        super().__init__(ActionRegistry(), **options)
        self.outcomes = outcomes

    def run_one(self, spec: ActionSpec, ctx: Any, action_id: str | None = None) -> ActionOutcome:
        return self.outcomes[spec.name]


class TestOnePlanTwoDrivers:
    """``execute`` and ``aexecute`` drive the same plan: from the same outcomes, the same report."""

    @pytest.mark.parametrize("stop_on_error", [False, True])
    def test_sync_actions_give_equal_reports(self, stop_on_error: bool) -> None:
        reg = recording([], "ex_A", "ok", "en_B")
        reg.register("boom", lambda ctx: 1 / 0)
        result = result_with("ok", {"name": "boom", "params": {"n": 1}}, "missing", "ok")
        executor = ActionExecutor(reg, stop_on_error=stop_on_error)
        sync = executor.execute(result, {})
        awaited = asyncio.run(executor.aexecute(result, {}))
        assert without_durations(sync) == without_durations(awaited)
        assert not sync.success
        if stop_on_error:
            assert [o.name for o in sync.outcomes] == ["ex_A", "ok", "boom"]
            assert sync.skipped == ("missing", "ok", "en_B")
        else:
            assert [o.success for o in sync.outcomes] == [True, True, False, False, True, True]
            assert sync.skipped == ()

    @pytest.mark.parametrize("stop_on_error", [False, True])
    def test_a_failure_and_a_timeout_give_equal_reports(self, stop_on_error: bool) -> None:
        reg = recording([], "ex_A", "en_B")

        async def hang(ctx: Any) -> None:
            await asyncio.Event().wait()  # never set: the timeout always fires, whatever its length

        async def boom(ctx: Any) -> None:
            raise RuntimeError("down")

        reg.register("hang", hang)
        reg.register("boom", boom)
        reg.register("after", lambda ctx: None)
        result = result_with("hang", "boom", "after")
        recorded = _Recording(reg, stop_on_error=stop_on_error, timeout=0.01)
        awaited = asyncio.run(recorded.aexecute(result, {}))
        timed_out = recorded.seen["hang"]
        assert timed_out.error_code == ErrorCode.TIMEOUT.value
        sync = _Replaying(recorded.seen, stop_on_error=stop_on_error).execute(result, {})
        assert sync == awaited
        if stop_on_error:
            assert [o.name for o in sync.outcomes] == ["ex_A", "hang"]
            assert sync.skipped == ("boom", "after", "en_B")
        else:
            assert [o.success for o in sync.outcomes] == [True, False, False, True, True]
            assert sync.outcomes[2].error == "RuntimeError: down"
