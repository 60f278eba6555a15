"""Lifecycle hooks: logging, metrics and your own, attached to a machine or an orchestrator.

A hook implements any of the four methods of ``TransitionHook``; the ``TransitionObserver``
calls each hook in the order they were added and isolates failures: a hook that raises is
logged and never changes the outcome of an event.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pystator.models.result import TransitionResult

if TYPE_CHECKING:
    import logging

_INFO = 20  # logging.INFO: logging is imported on first use, not with pystator


def _logger() -> logging.Logger:
    """The ``pystator`` logger (``logging`` is imported on first use: it costs about 2 ms of
    ``import pystator``)."""
    import logging

    return logging.getLogger("pystator")


@runtime_checkable
class TransitionHook(Protocol):
    """What a hook may implement; every method is optional for the observer."""

    def on_before_process(self, state: str, trigger: str, context: Mapping[str, Any]) -> None:
        """Called for every event, before validation and guards."""

    def on_transition_start(self, result: TransitionResult) -> None:
        """Called when a transition was selected, before anything is persisted or run."""

    def on_transition_complete(self, result: TransitionResult, duration_ms: float) -> None:
        """Called with every result, successful or failed, and how long processing took."""

    def on_transition_error(
        self, state: str, trigger: str, error: BaseException, duration_ms: float
    ) -> None:
        """Called when processing raised instead of returning a result."""


class TransitionObserver:
    """Fans lifecycle events out to hooks; a failing hook is logged and skipped."""

    def __init__(self, hooks: list[Any] | None = None) -> None:
        self._hooks: list[Any] = []
        for hook in hooks or ():
            self.add_hook(hook)

    @property
    def hooks(self) -> tuple[Any, ...]:
        return tuple(self._hooks)

    def add_hook(self, hook: Any) -> None:
        """Attach ``hook``; it needs at least one of ``TransitionHook``'s methods."""
        names = (
            "on_before_process",
            "on_transition_start",
            "on_transition_complete",
            "on_transition_error",
        )
        if not any(callable(getattr(hook, n, None)) for n in names):
            raise TypeError(
                f"{type(hook).__name__} is not a hook: implement at least one of {', '.join(names)}"
            )
        self._hooks.append(hook)

    def remove_hook(self, hook: Any) -> None:
        self._hooks.remove(hook)

    def __bool__(self) -> bool:
        return bool(self._hooks)

    def _emit(self, method: str, *args: Any) -> None:
        for hook in self._hooks:
            fn = getattr(hook, method, None)
            if fn is None:
                continue
            try:
                fn(*args)
            except Exception:
                _logger().exception("hook %s.%s failed", type(hook).__name__, method)

    def before_process(self, state: str, trigger: str, context: Mapping[str, Any]) -> None:
        self._emit("on_before_process", state, trigger, context)

    def transition_start(self, result: TransitionResult) -> None:
        self._emit("on_transition_start", result)

    def transition_complete(self, result: TransitionResult, duration_ms: float) -> None:
        self._emit("on_transition_complete", result, duration_ms)

    def transition_error(
        self, state: str, trigger: str, error: BaseException, duration_ms: float
    ) -> None:
        self._emit("on_transition_error", state, trigger, error, duration_ms)


class LoggingHook:
    """Logs every event to the ``pystator`` logger (or the one given)."""

    def __init__(self, logger_: logging.Logger | None = None, level: int = _INFO) -> None:
        self.logger = logger_ or _logger()
        self.level = level

    def on_before_process(self, state: str, trigger: str, context: Mapping[str, Any]) -> None:
        """Nothing to do before processing."""

    def on_transition_start(self, result: TransitionResult) -> None:
        """Nothing to do when a transition is selected."""

    def on_transition_complete(self, result: TransitionResult, duration_ms: float) -> None:
        if result.success and result.internal_events:
            # Without them, "IDLE --start--> DONE" would not say how the step got there.
            self.logger.log(
                self.level,
                "%s --%s--> %s via internal events %s (%.3f ms)",
                result.source_state,
                result.trigger,
                result.target_state,
                ", ".join(result.internal_events),
                duration_ms,
            )
        elif result.success:
            self.logger.log(
                self.level,
                "%s --%s--> %s (%.3f ms)",
                result.source_state,
                result.trigger,
                result.target_state,
                duration_ms,
            )
        else:
            self.logger.log(
                self.level,
                "%s --%s--> rejected: %s (%.3f ms)",
                result.source_state,
                result.trigger,
                result.metadata.get("reason"),
                duration_ms,
            )

    def on_transition_error(
        self, state: str, trigger: str, error: BaseException, duration_ms: float
    ) -> None:
        self.logger.error("%s --%s--> error: %s", state, trigger, error)


class MetricsCollector:
    """Counts events and keeps a bounded window of durations for percentiles.

    Memory is bounded: only the last ``window`` durations are kept for ``p95_ms``; the
    counters, minimum and mean cover every event.
    """

    def __init__(self, window: int = 10_000) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self._lock = threading.Lock()
        self._window = window
        self.reset()

    def reset(self) -> None:
        """Forget everything recorded so far."""
        with self._lock:
            self._durations: deque[float] = deque(maxlen=self._window)
            self.total = 0
            self.successes = 0
            self.errors = 0
            self._sum_ms = 0.0
            self._min_ms = math.inf
            self._max_ms = 0.0
            self.by_reason: dict[str, int] = {}

    def _record(self, duration_ms: float) -> None:
        self._durations.append(duration_ms)
        self._sum_ms += duration_ms
        self._min_ms = min(self._min_ms, duration_ms)
        self._max_ms = max(self._max_ms, duration_ms)

    def on_before_process(self, state: str, trigger: str, context: Mapping[str, Any]) -> None:
        """Nothing to do before processing."""

    def on_transition_start(self, result: TransitionResult) -> None:
        """Nothing to do when a transition is selected."""

    def on_transition_complete(self, result: TransitionResult, duration_ms: float) -> None:
        with self._lock:
            self.total += 1
            if result.success:
                self.successes += 1
            reason = result.metadata.get("reason")
            if isinstance(reason, str):
                self.by_reason[reason] = self.by_reason.get(reason, 0) + 1
            self._record(duration_ms)

    def on_transition_error(
        self, state: str, trigger: str, error: BaseException, duration_ms: float
    ) -> None:
        with self._lock:
            self.total += 1
            self.errors += 1
            self._record(duration_ms)

    def get_summary(self) -> dict[str, Any]:
        """``{"total_transitions", "successful", "failed", "errors", "success_rate",
        "by_reason", "duration": {"min_ms", "avg_ms", "p95_ms", "max_ms"}}``."""
        with self._lock:
            ordered = sorted(self._durations)
            if ordered:
                rank = max(0, math.ceil(0.95 * len(ordered)) - 1)
                duration = {
                    "min_ms": self._min_ms,
                    "avg_ms": self._sum_ms / self.total,
                    "p95_ms": ordered[rank],
                    "max_ms": self._max_ms,
                }
            else:
                duration = {"min_ms": 0.0, "avg_ms": 0.0, "p95_ms": 0.0, "max_ms": 0.0}
            return {
                "total_transitions": self.total,
                "successful": self.successes,
                "failed": self.total - self.successes,
                "errors": self.errors,
                "success_rate": (self.successes / self.total) if self.total else 0.0,
                "by_reason": dict(self.by_reason),
                "duration": duration,
            }
