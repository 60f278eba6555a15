"""``pystator worker``: an arq worker that fires timers and applies queued events.

    pystator worker --app myproject.worker:app

What lives here:

* ``app``: ``WorkerApp``, the machines the worker serves (their orchestrators, with their
  stores, schedulers, guards and actions), and how ``--app module:name`` finds them;
* ``events``: events through a durable queue: ``submit_event`` (and ``submit_event_sync``,
  ``EventQueue``), the job that applies them through the machine's orchestrator
  (``process_event_job``), and dead letters (``list_dead_letters``, ``replay_dead_letter``;
  ``pystator worker dead-letters`` / ``pystator worker replay``);
* ``runner``: ``build_worker`` and ``run_worker``, the arq worker of a ``WorkerApp``: the
  timer jobs of every ``ArqScheduler``, the polling loop of every ``RedisScheduler``, the
  event jobs, and maintenance (``maintain``: ``recover()`` of every orchestrator,
  ``reconcile()`` of every ``ArqScheduler``).

Needs the ``redis`` extra: ``pip install 'pystator[redis]'``. See docs/guides/schedulers.md.
"""

from __future__ import annotations

from pystator.worker.app import (
    DEAD_LETTER_PREFIX,
    WorkerApp,
    WorkerAppError,
    default_redis_url,
    import_target,
    resolve_app,
)
from pystator.worker.events import (
    DeadLetter,
    EventQueue,
    Submission,
    list_dead_letters,
    process_event_job,
    replay_dead_letter,
    submit_event,
    submit_event_sync,
)
from pystator.worker.runner import build_worker, maintain, run_worker

__all__ = [
    "DEAD_LETTER_PREFIX",
    "DeadLetter",
    "EventQueue",
    "Submission",
    "WorkerApp",
    "WorkerAppError",
    "build_worker",
    "default_redis_url",
    "import_target",
    "list_dead_letters",
    "maintain",
    "process_event_job",
    "replay_dead_letter",
    "resolve_app",
    "run_worker",
    "submit_event",
    "submit_event_sync",
]
