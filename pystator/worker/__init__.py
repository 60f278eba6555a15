"""``pystator worker``: an arq worker that fires timers and applies queued events.

    pystator worker --app myproject.worker:app

``app`` names the machines the worker serves (see ``WorkerApp``): their orchestrators, with
their stores, schedulers, guards and actions. Events reach the worker through
``submit_event``; timers armed through an ``ArqScheduler`` are arq jobs of the same queue;
the polling loop of a ``RedisScheduler`` runs in the worker too. Events that keep failing
are dead letters: ``list_dead_letters``, ``replay_dead_letter`` (and ``pystator worker
dead-letters`` / ``pystator worker replay``).

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
