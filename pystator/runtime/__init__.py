"""The imperative shell around the engine: machine facade, sessions, actions, hooks.

The orchestrator and the store port load on first use, so ``import pystator`` stays light for
users who only compute transitions.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pystator.runtime.clock import Clock, ManualClock, SystemClock
from pystator.runtime.executor import ActionExecutor
from pystator.runtime.hooks import LoggingHook, MetricsCollector, TransitionHook, TransitionObserver
from pystator.runtime.machine import StateMachine
from pystator.runtime.registry import ActionRegistry, GuardRegistry
from pystator.runtime.session import EntitySession, PendingTimer

if TYPE_CHECKING:
    from pystator.runtime.orchestrator import ContextValidatorFn, Orchestrator, RetryPolicy
    from pystator.runtime.ports import StateStore

LAZY: dict[str, str] = {
    "ContextValidatorFn": "pystator.runtime.orchestrator",
    "Orchestrator": "pystator.runtime.orchestrator",
    "RetryPolicy": "pystator.runtime.orchestrator",
    "StateStore": "pystator.runtime.ports",
}

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


def __getattr__(name: str) -> Any:
    module = LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pystator.runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
