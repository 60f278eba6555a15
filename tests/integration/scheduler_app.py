"""The worker app of the scheduler tests: ``pystator worker --app
tests.integration.scheduler_app:app``, configured by environment variables.

* ``SCHED_TEST_REDIS_URL``, ``SCHED_TEST_PREFIX``: the server and this test's key prefix (timer
  records, the arq queue, the dead letters, the store's keys, the delivery log).
* ``SCHED_TEST_KIND``: ``redis`` (``RedisScheduler``) or ``arq`` (``ArqScheduler``).
* ``SCHED_TEST_STORE``: ``redis`` (``RedisStateStore``) or a SQLite file path
  (``SQLStateStore``), shared by every process of a test.
* ``SCHED_TEST_LEASE``, ``SCHED_TEST_JOB_TIMEOUT``, ``SCHED_TEST_RECONCILE_GRACE``: how soon a
  timer that was taken and not fired is taken again (``RedisScheduler``'s lease; arq's
  in-progress key and ``reconcile()``): short for the kill tests, an hour for a test in which
  no timer may need it.
* ``SCHED_TEST_SLOW_FIRE``: seconds each firing sleeps first (to be killed while holding
  timers).
* ``SCHED_TEST_CLOCK_SHIFT``: seconds the worker's clocks run ahead of (or, negative, behind)
  the wall clock: its orchestrator's and scheduler's, and arq's own (``shift_arq_clock``). A
  worker an hour behind sees no timer of a test as due, however slow the machine is.

Every firing is logged twice: to the Redis list ``<prefix>started`` when it starts (pid,
entity, timer id, the worker's time then), before anything can fail or sleep, and to
``<prefix>deliveries`` when it returns (the same and the result's reason). So a test counts
tries (a firing that raised and was tried again is started twice) and deliveries, and
compares firing times with due times.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from pystator import Orchestrator, StateMachine
from pystator.models.result import TransitionResult
from pystator.runtime.clock import Clock
from pystator.worker import WorkerApp

DELAYS = range(1, 10)
"""Timer machine: state ``W<k>`` fires ``after: k s`` to ``DONE``."""
REDIS_CONCURRENCY = 100
"""Timers a ``RedisScheduler`` worker holds at once: claimed, and not done firing."""
MAX_JOBS = 50
"""Jobs an arq worker holds at once: taken from the queue, and not done running."""


def timer_machine() -> StateMachine:
    states: list[dict[str, Any]] = [{"name": "START", "type": "initial"}]
    states += [{"name": f"W{k}"} for k in DELAYS]
    states += [{"name": "DONE", "type": "terminal"}, {"name": "MOVED", "type": "terminal"}]
    transitions: list[dict[str, Any]] = [
        {"after": f"{k}s", "source": f"W{k}", "dest": "DONE"} for k in DELAYS
    ]
    transitions.append({"trigger": "move", "source": "*", "dest": "MOVED"})
    return StateMachine.from_dict(
        {"meta": {"machine_name": "ticker"}, "states": states, "transitions": transitions}
    )


def account_machine() -> StateMachine:
    """``deposit`` adds to ``balance`` (an internal transition), unless the guard raises."""
    return StateMachine.from_dict(
        {
            "meta": {"machine_name": "account"},
            "states": [{"name": "OPEN", "type": "initial"}],
            "transitions": [
                {
                    "trigger": "deposit",
                    "source": "OPEN",
                    "dest": "OPEN",
                    "internal": True,
                    "guards": ["healthy"],
                }
            ],
        }
    )


class Settings:
    def __init__(self, env: dict[str, str] | os._Environ[str] = os.environ) -> None:
        self.redis_url = env.get("SCHED_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
        self.prefix = env.get("SCHED_TEST_PREFIX", "pystator-sched-test:")
        self.kind = env.get("SCHED_TEST_KIND", "redis")
        self.store = env.get("SCHED_TEST_STORE", "redis")
        self.lease = float(env.get("SCHED_TEST_LEASE", "30"))
        self.job_timeout = float(env.get("SCHED_TEST_JOB_TIMEOUT", "10"))
        self.reconcile_grace = float(env.get("SCHED_TEST_RECONCILE_GRACE", "2"))
        self.slow_fire = float(env.get("SCHED_TEST_SLOW_FIRE", "0"))
        self.clock_shift = float(env.get("SCHED_TEST_CLOCK_SHIFT", "0"))

    @property
    def queue_name(self) -> str:
        return self.prefix + "queue"

    @property
    def deliveries(self) -> str:
        return self.prefix + "deliveries"

    @property
    def ready(self) -> str:
        return self.prefix + "ready"

    @property
    def started(self) -> str:
        return self.prefix + "started"

    @property
    def broken_flag(self) -> str:
        return self.prefix + "broken"


class ShiftedClock:
    """The wall clock moved by ``shift`` seconds (a ``Clock``)."""

    def __init__(self, shift: float) -> None:
        self.shift = shift

    def now(self) -> float:
        return time.time() + self.shift


def shift_arq_clock(shift: float) -> None:
    """Make arq, in this process, read the time ``shift`` seconds off the wall clock.

    arq decides which queued jobs are due with ``timestamp_ms()``, which each of its modules
    imported by name; there is no setting for it. Fails loudly if an arq version moved it.
    """
    import arq.connections
    import arq.jobs
    import arq.worker

    def timestamp_ms() -> int:
        return int((time.time() + shift) * 1000)

    name = "timestamp_ms"
    for module in (arq.worker, arq.connections, arq.jobs):
        if not callable(getattr(module, name, None)):
            raise RuntimeError(f"{module.__name__}.{name} is gone: update shift_arq_clock")
        setattr(module, name, timestamp_ms)


def open_store(settings: Settings) -> Any:
    if settings.store == "redis":
        from pystator.stores import RedisStateStore

        return RedisStateStore(settings.redis_url, prefix=settings.prefix + "store:")
    from pystator.stores import SQLStateStore

    return SQLStateStore(f"sqlite:///{settings.store}")


def make_scheduler(
    settings: Settings, *, autostart: bool = True, clock: Clock | None = None
) -> Any:
    if settings.kind == "arq":
        from pystator.scheduler import ArqScheduler

        return ArqScheduler(
            settings.redis_url,
            prefix=settings.prefix + "timers:",
            queue_name=settings.queue_name,
            clock=clock,
            job_timeout=settings.job_timeout,
            reconcile_grace=settings.reconcile_grace,
        )
    from pystator.scheduler import RedisScheduler

    return RedisScheduler(
        settings.redis_url,
        prefix=settings.prefix + "timers:",
        lease=settings.lease,
        poll_interval=0.05,
        concurrency=REDIS_CONCURRENCY,
        clock=clock,
        autostart=autostart,
    )


class LoggedOrchestrator(Orchestrator):
    """Logs every firing to Redis when it starts and before returning its result."""

    settings: Settings
    log_client: Any = None

    async def afire_timer(self, entity_id: str, timer_id: str) -> TransitionResult:
        started = self.clock.now()
        entry: dict[str, Any] = {
            "pid": os.getpid(),
            "entity": entity_id,
            "timer": timer_id,
            "at": started,
        }
        await self.log_client.rpush(self.settings.started, json.dumps(entry))
        if self.settings.slow_fire:
            await asyncio.sleep(self.settings.slow_fire)
        result = await super().afire_timer(entity_id, timer_id)
        entry["reason"] = result.metadata.get("reason")
        await self.log_client.rpush(self.settings.deliveries, json.dumps(entry))
        return result


async def app() -> WorkerApp:
    import redis.asyncio

    settings = Settings()
    clock: Clock | None = None
    if settings.clock_shift:
        clock = ShiftedClock(settings.clock_shift)
        shift_arq_clock(settings.clock_shift)
    store = open_store(settings)
    scheduler = make_scheduler(settings, clock=clock)
    log_client = redis.asyncio.Redis.from_url(settings.redis_url, decode_responses=True)

    ticker = LoggedOrchestrator(timer_machine(), store, scheduler=scheduler, clock=clock)
    ticker.settings = settings
    ticker.log_client = log_client

    account = account_machine()

    @account.guard("healthy")
    async def healthy(ctx: dict[str, Any]) -> bool:
        if await log_client.exists(settings.broken_flag):
            raise RuntimeError("the account service is down")
        return True

    accounts = Orchestrator(account, store)

    async def started() -> None:
        await log_client.rpush(settings.ready, os.getpid())

    async def close_log() -> None:
        await log_client.aclose()

    return WorkerApp(
        [ticker, accounts],
        redis_url=settings.redis_url,
        queue_name=settings.queue_name,
        dead_letter_prefix=settings.prefix + "dead:",
        max_tries=3,
        retry_delay=0.1,
        job_timeout=settings.job_timeout,
        max_jobs=MAX_JOBS,
        maintenance_interval=1.0,
        poll_delay=0.05,
        on_startup=started,
        on_shutdown=close_log,
    )
