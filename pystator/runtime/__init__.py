"""The imperative shell around the engine: machine facade, sessions, actions, hooks."""

from pystator.runtime.clock import Clock, ManualClock, SystemClock
from pystator.runtime.executor import ActionExecutor
from pystator.runtime.hooks import LoggingHook, MetricsCollector, TransitionHook, TransitionObserver
from pystator.runtime.machine import StateMachine
from pystator.runtime.orchestrator import ContextValidatorFn, Orchestrator, RetryPolicy
from pystator.runtime.ports import StateStore
from pystator.runtime.registry import ActionRegistry, GuardRegistry
from pystator.runtime.session import EntitySession, PendingTimer

__all__ = [
    "ActionExecutor",
    "ActionRegistry",
    "Clock",
    "ContextValidatorFn",
    "EntitySession",
    "GuardRegistry",
    "LoggingHook",
    "ManualClock",
    "MetricsCollector",
    "Orchestrator",
    "PendingTimer",
    "RetryPolicy",
    "StateMachine",
    "StateStore",
    "SystemClock",
    "TransitionHook",
    "TransitionObserver",
]
