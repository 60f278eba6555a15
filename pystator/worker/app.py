"""``WorkerApp``: the machines a worker serves, and how ``--app module:name`` finds them.

The object named by ``pystator worker --app module:name`` may be:

* a ``WorkerApp`` (orchestrators plus worker settings);
* a mapping of machine names to ``Orchestrator``\\ s, or an iterable of ``Orchestrator``\\ s;
* a callable without arguments (sync or async) returning one of the above. The worker calls
  it in its own event loop, which is where connections to stores and Redis should be made.

Guards and actions are whatever the orchestrators' machines have bound: the module is plain
Python, so it imports the registries it needs.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from pystator.runtime.orchestrator import Orchestrator
from pystator.runtime.ports import Scheduler
from pystator.scheduler.arq_scheduler import DEFAULT_QUEUE_NAME
from pystator.scheduler.redis_timers import DEFAULT_REDIS_URL
from pystator.stores.availability import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    check_timeout,
)

DEAD_LETTER_PREFIX = "pystator:dead-letters:"
REDIS_URL_ENV = "PYSTATOR_REDIS_URL"

Hook = Callable[[], Awaitable[None] | None]


class WorkerAppError(Exception):
    """The ``--app`` object cannot be loaded or is not a worker app."""


def default_redis_url() -> str:
    """``$PYSTATOR_REDIS_URL``, or the local server."""
    return os.environ.get(REDIS_URL_ENV) or DEFAULT_REDIS_URL


class WorkerApp:
    """Orchestrators by machine name, and how the worker runs them.

    Args:
        orchestrators: a mapping ``{machine name: Orchestrator}`` or an iterable of
            orchestrators (keyed by their machine's name).
        redis_url: the Redis server of the queue and the dead letters (default: the URL of
            the first ``ArqScheduler`` found, else ``$PYSTATOR_REDIS_URL``, else local).
        queue_name: the arq queue (default: the queue of the first ``ArqScheduler`` found,
            else ``pystator:queue``, which ``ArqScheduler`` and ``submit_event`` use too).
        max_tries: tries of an event before it becomes a dead letter.
        retry_delay: seconds before the second try of an event; doubled for each further
            try, up to ``max_retry_delay``.
        job_timeout: seconds a job may run. A job of a worker that died is run again
            ``job_timeout + 10`` seconds later (arq's in-progress key).
        maintenance_interval: seconds between runs of ``recover()`` of every orchestrator
            and ``reconcile()`` of every ``ArqScheduler``.
        max_jobs: jobs run at once by one worker process.
        poll_delay: seconds between polls of the queue (how late a due timer may start).
        keep_result: seconds arq keeps an event's result (and refuses the same job id).
        dead_letter_prefix: prefix of the dead-letter keys.
        rearm_on_start: at start-up, hand every timer recorded on the entities in the
            stores back to the schedulers (``rearm_from_store``), e.g. after Redis restarted
            without persistence while the entities live in SQL.
        on_startup, on_shutdown: called (and awaited if async) when the worker starts and
            stops, e.g. to open and close connections.
        connect_timeout: seconds the worker waits for a connection to the Redis of its
            queue (``None``: no limit).
        read_timeout: seconds the worker waits for that Redis to answer a command (``None``:
            no limit); a frozen Redis stops the worker with a timeout error instead of
            holding it forever. The stores and schedulers of the orchestrators have their
            own timeouts (their constructors' ``connect_timeout`` and ``read_timeout``).
    """

    def __init__(
        self,
        orchestrators: Mapping[str, Orchestrator] | Iterable[Orchestrator],
        *,
        redis_url: str | None = None,
        queue_name: str | None = None,
        max_tries: int = 5,
        retry_delay: float = 0.5,
        max_retry_delay: float = 60.0,
        job_timeout: float = 10.0,
        maintenance_interval: float = 5.0,
        max_jobs: int = 50,
        poll_delay: float = 0.1,
        keep_result: float = 300.0,
        dead_letter_prefix: str = DEAD_LETTER_PREFIX,
        rearm_on_start: bool = False,
        on_startup: Hook | None = None,
        on_shutdown: Hook | None = None,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float | None = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self.orchestrators = _by_machine(orchestrators)
        self.connect_timeout = check_timeout("connect_timeout", connect_timeout)
        self.read_timeout = check_timeout("read_timeout", read_timeout)
        if max_tries < 1:
            raise ValueError("max_tries must be at least 1")
        if job_timeout <= 0 or maintenance_interval <= 0 or poll_delay <= 0:
            raise ValueError("job_timeout, maintenance_interval and poll_delay must be > 0")
        self.redis_url = redis_url or self._scheduler_url() or default_redis_url()
        self.queue_name = queue_name or self._scheduler_queue() or DEFAULT_QUEUE_NAME
        self.max_tries = max_tries
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.job_timeout = job_timeout
        self.maintenance_interval = maintenance_interval
        self.max_jobs = max_jobs
        self.poll_delay = poll_delay
        self.keep_result = keep_result
        self.dead_letter_prefix = dead_letter_prefix
        self.rearm_on_start = rearm_on_start
        self.on_startup = on_startup
        self.on_shutdown = on_shutdown

    def _scheduler_url(self) -> str | None:
        for orchestrator in self.orchestrators.values():
            url = getattr(orchestrator.scheduler, "url", None)
            if isinstance(url, str):
                return url
        return None

    def _scheduler_queue(self) -> str | None:
        for orchestrator in self.orchestrators.values():
            queue = getattr(orchestrator.scheduler, "queue_name", None)
            if isinstance(queue, str):
                return queue
        return None

    def retry_delay_for(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        return float(min(self.max_retry_delay, self.retry_delay * 2 ** (attempt - 1)))

    def schedulers(self) -> list[Scheduler]:
        """The distinct schedulers of the orchestrators (shared ones once)."""
        seen: dict[int, Scheduler] = {}
        for orchestrator in self.orchestrators.values():
            if orchestrator.scheduler is not None:
                seen.setdefault(id(orchestrator.scheduler), orchestrator.scheduler)
        return list(seen.values())

    def __repr__(self) -> str:
        return f"WorkerApp(machines={sorted(self.orchestrators)}, queue={self.queue_name!r})"


def _by_machine(
    orchestrators: Mapping[str, Orchestrator] | Iterable[Orchestrator],
) -> dict[str, Orchestrator]:
    if isinstance(orchestrators, Mapping):
        items = list(orchestrators.items())
    else:
        items = [(getattr(o, "machine_name", None), o) for o in orchestrators]
    table: dict[str, Orchestrator] = {}
    for name, orchestrator in items:
        if not isinstance(orchestrator, Orchestrator):
            raise WorkerAppError(
                f"expected Orchestrator objects, got {type(orchestrator).__name__}"
            )
        if name != orchestrator.machine_name:
            raise WorkerAppError(
                f"key {name!r} maps to the orchestrator of machine "
                f"{orchestrator.machine_name!r}: use the machine's name"
            )
        if name in table:
            raise WorkerAppError(f"two orchestrators for machine {name!r}")
        table[name] = orchestrator
    if not table:
        raise WorkerAppError("the worker app has no orchestrators")
    return table


def import_target(spec: str) -> Any:
    """The object named ``module:attribute`` (``attribute`` may be dotted).

    The current directory is importable, as when running ``python -m``.
    """
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise WorkerAppError(f"--app expects MODULE:NAME (e.g. myapp.worker:app), got {spec!r}")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise WorkerAppError(f"cannot import module {module_name!r}: {exc}") from exc
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise WorkerAppError(f"module {module_name!r} has no attribute {attribute!r}") from None
    return target


async def resolve_app(target: Any) -> WorkerApp:
    """Turn what ``--app`` names into a ``WorkerApp`` (calling a factory, in this loop)."""
    if isinstance(target, str):
        target = import_target(target)
    if callable(target) and not isinstance(target, (WorkerApp, Orchestrator)):
        target = target()
        if inspect.isawaitable(target):
            target = await target
    if isinstance(target, WorkerApp):
        return target
    if isinstance(target, Orchestrator):
        return WorkerApp([target])
    if isinstance(target, Mapping) or (
        isinstance(target, Iterable) and not isinstance(target, (str, bytes))
    ):
        return WorkerApp(target)
    raise WorkerAppError(
        "the --app object must be a WorkerApp, a mapping of machine names to Orchestrators, "
        f"a list of Orchestrators, or a callable returning one; got {type(target).__name__}"
    )


async def call_hook(hook: Hook | None) -> None:
    if hook is None:
        return
    outcome = hook()
    if inspect.isawaitable(outcome):
        await outcome


__all__ = [
    "DEAD_LETTER_PREFIX",
    "REDIS_URL_ENV",
    "WorkerApp",
    "WorkerAppError",
    "call_hook",
    "default_redis_url",
    "import_target",
    "resolve_app",
]
