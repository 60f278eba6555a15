"""Run the actions of a result, after the caller has persisted the state change.

Actions run in the order of ``result.action_specs()``: exit actions innermost first, then the
transition's, then entry actions outermost first. Each is called as ``fn(context, **params)``.
A failing action is recorded in the ``ExecutionReport`` and, unless ``stop_on_error`` is set,
does not stop the others. A failed result runs nothing.

What to run and how the report is built is written once, in ``_plan``: a generator that yields
each action to run and receives its ``ActionOutcome``. ``ActionExecutor.execute`` drives it
with ``run_one`` and ``ActionExecutor.aexecute`` with ``await arun_one`` (the engine's guard
requests are driven the same way, see ``pystator.runtime.guard_drivers.drive``). What differs
between the two is only how one action runs: ``arun_one`` awaits async actions, under the
``timeout``.
``aexecute_parallel`` starts every action at once, so it has no plan to step through.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Generator, Mapping
from types import MappingProxyType
from typing import Any

from pystator.errors import ActionNotFoundError, ActionTimeoutError, FSMError
from pystator.models.definition import ActionSpec
from pystator.models.result import EMPTY_MAPPING, ActionOutcome, ExecutionReport, TransitionResult
from pystator.runtime.registry import ActionRegistry

_TAKES_ACTION_ID: dict[Any, bool] = {}
_NOTHING: list[ExecutionReport] = []


def _nothing_ran() -> ExecutionReport:
    """The report of a result with no action (one shared, immutable instance)."""
    if not _NOTHING:
        _NOTHING.append(ExecutionReport(success=True))
    return _NOTHING[0]


def _takes_action_id(fn: Any) -> bool:
    """Whether ``fn`` declares an ``action_id`` parameter (checked once per function)."""
    known = _TAKES_ACTION_ID.get(fn)
    if known is None:
        try:
            known = "action_id" in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            known = False
        if len(_TAKES_ACTION_ID) < 10_000:
            _TAKES_ACTION_ID[fn] = known
    return known


def _outcome(
    spec: ActionSpec, started: float, error: BaseException | None = None, message: str = ""
) -> ActionOutcome:
    duration = (time.perf_counter() - started) * 1000.0
    params = MappingProxyType(spec.params) if spec.params else EMPTY_MAPPING
    if error is None:
        return ActionOutcome.model_construct(
            name=spec.name, params=params, success=True, duration_ms=duration
        )
    code = error.code.value if isinstance(error, FSMError) else None
    text = message or f"{type(error).__name__}: {error}"
    return ActionOutcome.model_construct(
        name=spec.name,
        params=params,
        success=False,
        error=text,
        error_code=code,
        duration_ms=duration,
    )


def _to_run(result: TransitionResult) -> tuple[ActionSpec, ...]:
    """The actions of ``result`` in execution order; none for a failed result."""
    return result.action_specs() if result.success else ()


def _plan(
    result: TransitionResult, stop_on_error: bool
) -> Generator[ActionSpec, ActionOutcome, ExecutionReport]:
    """Yield each action of ``result`` to run, in order, receive how it went, and return the
    report; after the first failure with ``stop_on_error``, the rest are listed as skipped."""
    specs = _to_run(result)
    if not specs:
        return _nothing_ran()
    outcomes: list[ActionOutcome] = []
    skipped: list[str] = []
    for position, spec in enumerate(specs):
        outcome = yield spec
        outcomes.append(outcome)
        if stop_on_error and not outcome.success:
            skipped = [s.name for s in specs[position + 1 :]]
            break
    return ExecutionReport(
        success=all(o.success for o in outcomes) and not skipped,
        outcomes=tuple(outcomes),
        skipped=tuple(skipped),
    )


class ActionExecutor:
    """Runs a result's actions from an ``ActionRegistry`` and reports how each went.

    Args:
        registry: where action names are looked up (at run time, so late registrations count).
        stop_on_error: skip the remaining actions after the first failure.
        timeout: seconds an async action may take before it counts as failed
            (``ErrorCode.TIMEOUT``); ``None`` for no limit.
    """

    def __init__(
        self,
        registry: ActionRegistry | None = None,
        *,
        stop_on_error: bool = False,
        timeout: float | None = None,
    ) -> None:
        self.registry = registry if registry is not None else ActionRegistry()
        self.stop_on_error = stop_on_error
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive (seconds) or None")
        self.timeout = timeout

    def _lookup(self, spec: ActionSpec) -> Any:
        fn = self.registry.get(spec.name)
        if fn is None:
            return ActionNotFoundError(
                f"action '{spec.name}' is not registered; register it with "
                f"@machine.action('{spec.name}') or an ActionRegistry"
            )
        return fn

    def execute(
        self, result: TransitionResult, context: Mapping[str, Any] | None = None
    ) -> ExecutionReport:
        """Run every action of ``result`` synchronously; async actions are reported as errors."""
        ctx: Any = {} if context is None else context
        plan = _plan(result, self.stop_on_error)
        try:
            spec = next(plan)
            while True:
                spec = plan.send(self.run_one(spec, ctx))
        except StopIteration as done:
            report: ExecutionReport = done.value
            return report

    async def aexecute(
        self, result: TransitionResult, context: Mapping[str, Any] | None = None
    ) -> ExecutionReport:
        """Run the actions one after another, awaiting async ones (``execute``'s async twin)."""
        ctx: Any = {} if context is None else context
        plan = _plan(result, self.stop_on_error)
        try:
            spec = next(plan)
            while True:
                spec = plan.send(await self.arun_one(spec, ctx))
        except StopIteration as done:
            report: ExecutionReport = done.value
            return report

    async def aexecute_parallel(
        self, result: TransitionResult, context: Mapping[str, Any] | None = None
    ) -> ExecutionReport:
        """Start every action at once and wait for all; outcomes keep the declared order.

        ``stop_on_error`` does not apply: every action has started before any has failed.
        """
        specs = _to_run(result)
        if not specs:
            return _nothing_ran()
        ctx: Any = {} if context is None else context
        import asyncio  # lazily, as in arun_one

        outcomes = await asyncio.gather(*(self.arun_one(spec, ctx) for spec in specs))
        return ExecutionReport(success=all(o.success for o in outcomes), outcomes=tuple(outcomes))

    # The old names, as the same function objects (docs/api.md, "Naming: sync and async").
    # ``async_execute_parallel`` is the seed's (its README awaits it), so it stays for good;
    # ``async_execute`` stays for one release.
    async_execute = aexecute
    async_execute_parallel = aexecute_parallel

    def _call(self, fn: Any, spec: ActionSpec, ctx: Any, action_id: str | None) -> Any:
        if action_id is not None and _takes_action_id(fn):
            return fn(ctx, action_id=action_id, **spec.params)
        return fn(ctx, **spec.params)

    def run_one(self, spec: ActionSpec, ctx: Any, action_id: str | None = None) -> ActionOutcome:
        """Run one action synchronously and report how it went (never raises for it).

        ``action_id`` is passed as the keyword ``action_id`` to actions that declare it, so
        they can deduplicate when the orchestrator runs them again after a crash.
        """
        started = time.perf_counter()
        fn = self._lookup(spec)
        if isinstance(fn, ActionNotFoundError):
            return _outcome(spec, started, fn)
        try:
            value = self._call(fn, spec, ctx, action_id)
            if inspect.isawaitable(value):
                if inspect.iscoroutine(value):
                    value.close()
                raise TypeError(
                    f"action '{spec.name}' is async: run it with aexecute, "
                    "or use asend()/aprocess with an async executor"
                )
            return _outcome(spec, started)
        except Exception as exc:
            return _outcome(spec, started, exc)

    async def arun_one(
        self, spec: ActionSpec, ctx: Any, action_id: str | None = None
    ) -> ActionOutcome:
        """Run one action, awaiting it if it is async (with the executor's ``timeout``)."""
        started = time.perf_counter()
        fn = self._lookup(spec)
        if isinstance(fn, ActionNotFoundError):
            return _outcome(spec, started, fn)
        try:
            value = self._call(fn, spec, ctx, action_id)
            if inspect.isawaitable(value):
                if self.timeout is None:
                    await value
                else:
                    import asyncio  # lazily: asyncio (and ssl, socket) add ~15 ms to import

                    try:
                        await asyncio.wait_for(value, self.timeout)
                    except TimeoutError:
                        error = ActionTimeoutError(
                            f"action '{spec.name}' took longer than {self.timeout} s"
                        )
                        return _outcome(spec, started, error)
            return _outcome(spec, started)
        except Exception as exc:
            return _outcome(spec, started, exc)
