"""The imperative shell around the pure engine: machines, sessions, actions, hooks, the
orchestrator and the ports its adapters implement.

What lives here, by concept:

* the machine: ``machine`` (``StateMachine``, the facade over the compiled index), with its
  methods by concept in ``fast_select`` (the sync fast path, a fenced speed trick beside its
  plain twin), ``guard_drivers`` (answering the engine's guard requests: ``drive``,
  ``adrive``), ``observed`` (hooks around a step), ``context_frames`` (contexts, contracts,
  declared payloads), ``entry_and_timers`` (``start``, ``fire_timer`` and their async
  twins), ``configurations`` (active states, queries, the parallel API) and ``bindings``
  (``guard``, ``action``, ``bind_guards``, ``bind_actions``);
* machines written as classes: ``classes`` (``Machine``), ``class_parts`` (``State``,
  ``Region``, ...), ``class_definition`` (a class turned into its ``MachineDefinition``);
* contexts: ``contract`` (the context contract, ``ModelView``), ``context_limit`` (the cap
  on a stored context), ``validation`` (``check_machine``, the checks every way in runs);
* one entity in memory: ``session`` (``EntitySession``), with ``timers``, the one timer
  rule (ids and due times) that the orchestrator follows too, and ``clock``;
* actions and hooks: ``registry`` (``GuardRegistry``, ``ActionRegistry``), ``executor``
  (``ActionExecutor``), ``hooks`` (``TransitionHook``, ``TransitionObserver``, logging and
  metrics);
* entities in a store: ``orchestrator`` (``Orchestrator``, the facade) and its procedures in
  ``orchestration``; ``ports`` (``StateStore`` and its sync and async halves,
  ``ThreadedAsyncStore``, ``Scheduler``), the protocols ``pystator.stores`` and
  ``pystator.scheduler`` implement.

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
