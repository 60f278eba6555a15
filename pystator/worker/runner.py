"""Run the arq worker of a ``WorkerApp``: timer jobs, event jobs, and maintenance.

At start-up the worker resolves the app, lets every ``ArqScheduler`` of its orchestrators
fire timer jobs in this process, starts the polling loop of every ``RedisScheduler`` (so one
``pystator worker`` serves both), and runs ``recover()`` of every orchestrator (actions a
crashed process left in the outbox) and ``reconcile()`` of every ``ArqScheduler``; both run
again every ``maintenance_interval`` seconds. With ``rearm_on_start`` it first hands the
timers recorded on the entities back to the schedulers (``rearm_from_store``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from pystator.scheduler.arq_scheduler import (
    FIRE_TIMER_JOB,
    ArqScheduler,
    fire_timer_job,
    import_arq,
    worker_pool,
)
from pystator.scheduler.rearm import rearm_from_store
from pystator.worker.app import WorkerApp, WorkerAppError, call_hook, resolve_app
from pystator.worker.events import CTX_APP, PROCESS_EVENT_JOB, EventQueue, process_event_job

logger = logging.getLogger("pystator.worker")


async def maintain(app: WorkerApp) -> None:
    """One maintenance pass: ``recover()`` every orchestrator, ``reconcile()`` every
    ``ArqScheduler``; errors are logged, never raised."""
    for name, orchestrator in app.orchestrators.items():
        try:
            ran = await orchestrator.arecover()
            if ran:
                logger.info("recovered %d pending action(s) of %s", ran, name)
        except Exception:
            logger.exception("recover() of %s failed", name)
    for scheduler in app.schedulers():
        if isinstance(scheduler, ArqScheduler):
            try:
                await scheduler.reconcile()
            except Exception:
                logger.exception("reconcile() of the timers failed")


async def _maintenance_loop(app: WorkerApp) -> None:
    while True:
        await asyncio.sleep(app.maintenance_interval)
        await maintain(app)


def _check_queues(app: WorkerApp) -> None:
    for name, orchestrator in app.orchestrators.items():
        scheduler = orchestrator.scheduler
        if isinstance(scheduler, ArqScheduler) and scheduler.queue_name != app.queue_name:
            raise WorkerAppError(
                f"the ArqScheduler of machine {name!r} uses queue {scheduler.queue_name!r} "
                f"but the worker listens on {app.queue_name!r}"
            )


def _connection_settings(arq: Any, app: WorkerApp, overrides: dict[str, Any]) -> dict[str, Any]:
    """How the worker connects to its queue's Redis: our own pool, with the app's connect and
    read timeouts (arq's, from ``redis_settings``, has a connect timeout only), unless the
    caller passes ``redis_settings``."""
    if "redis_settings" in overrides:
        return {}
    pool = worker_pool(arq, app.redis_url, app.queue_name, app.connect_timeout, app.read_timeout)
    return {"redis_pool": pool}


def build_worker(
    app: WorkerApp,
    *,
    burst: bool = False,
    handle_signals: bool = True,
    **overrides: Any,
) -> Any:
    """An ``arq.worker.Worker`` that runs ``app`` (call ``.run()`` or ``await .async_run()``).

    ``overrides`` go to ``arq.worker.Worker`` as they are.
    """
    arq = import_arq("pystator worker")
    _check_queues(app)
    timeout = app.job_timeout
    arq_schedulers = [s for s in app.schedulers() if isinstance(s, ArqScheduler)]
    timer_function = (
        arq_schedulers[0].arq_function()
        if arq_schedulers
        else arq.worker.func(
            fire_timer_job, name=FIRE_TIMER_JOB, timeout=timeout, keep_result=0, max_tries=20
        )
    )
    event_function = arq.worker.func(
        process_event_job,
        name=PROCESS_EVENT_JOB,
        timeout=timeout,
        keep_result=app.keep_result,
        # Our own limit (max_tries) turns a failing event into a dead letter; arq's must not
        # drop the job first, and a crashed worker's try counts too.
        max_tries=app.max_tries + 10,
    )
    state: dict[str, Any] = {}

    async def on_startup(ctx: dict[Any, Any]) -> None:
        ctx[CTX_APP] = app
        ctx[CTX_APP + ":queue"] = EventQueue(
            app.redis_url,
            queue_name=app.queue_name,
            dead_letter_prefix=app.dead_letter_prefix,
            connect_timeout=app.connect_timeout,
            read_timeout=app.read_timeout,
        )
        await call_hook(app.on_startup)
        for scheduler in app.schedulers():
            if isinstance(scheduler, ArqScheduler):
                scheduler.install(ctx)
            elif hasattr(scheduler, "start"):
                await scheduler.start()
        if app.rearm_on_start:
            for name, orchestrator in app.orchestrators.items():
                if orchestrator.scheduler is not None:
                    count = await rearm_from_store(orchestrator.scheduler, orchestrator)
                    logger.info("re-armed %d timer(s) of %s from its store", count, name)
        await maintain(app)
        state["maintenance"] = asyncio.get_running_loop().create_task(
            _maintenance_loop(app), name="pystator-worker-maintenance"
        )
        logger.info(
            "pystator worker: machines %s, queue %s", ", ".join(app.orchestrators), app.queue_name
        )

    async def on_shutdown(ctx: dict[Any, Any]) -> None:
        task = state.pop("maintenance", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        queue = ctx.get(CTX_APP + ":queue")
        if queue is not None:
            await queue.aclose()
        closed: set[int] = set()
        for orchestrator in app.orchestrators.values():
            for part in (orchestrator.scheduler, orchestrator.store):
                if part is None or id(part) in closed:
                    continue
                closed.add(id(part))
                with contextlib.suppress(Exception):
                    await part.aclose()
        await call_hook(app.on_shutdown)

    settings: dict[str, Any] = {
        "functions": [timer_function, event_function],
        "queue_name": app.queue_name,
        **_connection_settings(arq, app, overrides),
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "job_timeout": timeout,
        "keep_result": 0,
        "poll_delay": app.poll_delay,
        "max_jobs": app.max_jobs,
        "max_tries": app.max_tries + 10,
        "health_check_interval": 30,
        "burst": burst,
        "handle_signals": handle_signals,
        "log_results": False,
    }
    settings.update(overrides)
    return arq.worker.Worker(**settings)


def run_worker(
    target: Any, *, redis_url: str | None = None, burst: bool = False, rearm: bool = False
) -> None:
    """Run a worker until it is stopped (SIGINT, SIGTERM) or, with ``burst``, until the
    queue is empty. ``target``: a ``WorkerApp``, or what ``--app`` accepts (a
    ``module:name`` string, a mapping, a factory)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        app = loop.run_until_complete(resolve_app(target))
        if redis_url:
            app.redis_url = redis_url
        if rearm:
            app.rearm_on_start = True
        worker = build_worker(app, burst=burst)
        worker.run()
    finally:
        asyncio.set_event_loop(None)
        loop.close()


__all__ = ["build_worker", "maintain", "run_worker"]
