"""``ArqScheduler``: every timer is an arq job deferred to its due time, backed by a record.

Arming a timer does two things: it writes the timer's record in Redis (the same records as
``RedisScheduler``: machine, entity, timer id, trigger, absolute due time) and enqueues an arq
job whose id is derived from the timer (``<prefix><machine>:job:<timer id>|<entity id>``), with
``_defer_until`` set to the due time. An arq worker (``pystator worker``) runs the job, which
fires the timer through the orchestrator registered for its machine and then deletes the
record. Cancelling deletes the record and the queued job.

The record is what makes a timer durable beyond arq: ``reconcile()`` (run periodically by
``pystator worker``) looks at records overdue by more than ``reconcile_grace`` seconds and
re-enqueues those whose arq job is gone (expired, failed past its tries, lost). A job that
runs twice is harmless: the orchestrator applies a timer only while its id is armed on the
entity.

arq's own delays after a crash, and how this module sets them (see ``worker_settings()``):

* a job whose worker died stays in arq's queue but is locked by its *in-progress key* until
  that key expires: ``job_timeout + 10`` seconds (arq adds 10). ``job_timeout`` defaults to 10
  seconds here (arq: 300), so a timer held by a killed worker fires about 20 seconds late;
* a firing that raised is retried after ``retry_delay`` seconds, doubling per attempt (arq's
  ``Retry``), up to ``max_attempts``; then the record moves to the dead hash;
* results are not kept (``keep_result=0``; arq keeps them an hour and refuses to enqueue a job
  id while its result exists), so a reconciled timer can be enqueued again at once;
* jobs expire (arq's ``_expires``) a day after their due time, as arq does by default; the
  record outlives them and ``reconcile()`` re-enqueues.

Needs the ``redis`` extra: ``pip install 'pystator[redis]'``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pystator.models.snapshot import TimerSnapshot
from pystator.runtime.clock import Clock
from pystator.scheduler.redis_timers import (
    DEFAULT_REDIS_URL,
    REDIS_EXTRA,
    TimerRecord,
    import_redis,
    member_of,
)
from pystator.scheduler.targets import NOT_DUE, RedisTimerScheduler, result_reason
from pystator.stores.availability import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT

logger = logging.getLogger("pystator.scheduler")

DEFAULT_QUEUE_NAME = "pystator:queue"
FIRE_TIMER_JOB = "pystator_fire_timer"
"""The arq function name of timer jobs."""
CTX_SCHEDULERS = "pystator_timer_schedulers"
"""Key of the arq worker context holding ``{machine name: ArqScheduler}``."""

# arq's key layout (arq.constants); used to cancel queued jobs and to enqueue from sync code.
_ARQ_JOB = "arq:job:"
_ARQ_IN_PROGRESS = "arq:in-progress:"
_ARQ_RESULT = "arq:result:"
_ARQ_EXPIRES_EXTRA_MS = 86_400_000


def worker_pool(
    arq: Any,
    url: str,
    queue_name: str,
    connect_timeout: float | None,
    read_timeout: float | None,
) -> Any:
    """A new ``ArqRedis`` client with both timeouts, for a worker or a scheduler: arq's own
    pool, made from ``redis_settings``, has a connect timeout only and waits forever on a
    Redis that stopped answering. It connects on first use, in the event loop that uses it;
    its user closes it."""
    import redis.asyncio

    from pystator.stores.redis_faults import client_options

    connections = redis.asyncio.ConnectionPool.from_url(
        url, **client_options(connect_timeout, read_timeout, asyncio=True)
    )
    return arq.connections.ArqRedis(connections, default_queue_name=queue_name)


def import_arq(feature: str) -> Any:
    """``import arq``, or an ImportError that names the extra to install."""
    import_redis(feature)
    try:
        import arq
        import arq.connections
        import arq.jobs
        import arq.worker
    except ImportError as exc:
        raise ImportError(f"{feature} needs the 'redis' extra (arq): {REDIS_EXTRA}") from exc
    return arq


class ArqScheduler(RedisTimerScheduler):
    """Timers as arq jobs (job id from the timer id, deferred to the due time), with their
    records in Redis so that ``reconcile()`` re-enqueues jobs that were lost or expired.

    Args:
        url: the Redis server arq and the records use.
        prefix: prefix of the timer records (and of the job ids).
        queue_name: the arq queue (``pystator worker`` listens on it).
        clock: where "now" comes from (default: wall clock).
        job_timeout: seconds a timer job may run; a killed worker's job is run again
            ``job_timeout + 10`` seconds later (arq's in-progress key).
        max_attempts: tries of a firing that raises before its record is moved to the dead
            hash.
        retry_delay: seconds before the second try, doubled for each further try.
        reconcile_grace: how overdue a record must be before ``reconcile()`` checks its job.
        connect_timeout: seconds to wait for a connection to Redis (``None``: no limit).
        read_timeout: seconds to wait for Redis to answer a command (``None``: no limit).
            Past either, ``schedule`` and ``aschedule`` raise ``StoreTimeoutError``.
    """

    decode_responses = False

    def __init__(
        self,
        url: str = DEFAULT_REDIS_URL,
        *,
        prefix: str = "pystator:timers:",
        queue_name: str = DEFAULT_QUEUE_NAME,
        clock: Clock | None = None,
        job_timeout: float = 10.0,
        max_attempts: int = 10,
        retry_delay: float = 1.0,
        reconcile_grace: float = 10.0,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float | None = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self._arq = import_arq("ArqScheduler")
        if job_timeout <= 0 or retry_delay < 0 or reconcile_grace < 0:
            raise ValueError("job_timeout must be > 0; retry_delay, reconcile_grace >= 0")
        super().__init__(
            "ArqScheduler",
            url,
            prefix,
            clock,
            max_attempts,
            retry_delay,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self.queue_name = queue_name
        self.job_timeout = job_timeout
        self.reconcile_grace = reconcile_grace

    def job_id(self, machine_name: str, entity_id: str, timer_id: str) -> str:
        """The arq job id of a timer: unique per machine, entity and arming."""
        return f"{self.prefix}{machine_name}:job:{member_of(entity_id, timer_id)}"

    # ------------------------------------------------------------------ clients
    def _new_async_client(self) -> Any:
        return self._worker_pool()

    def pool(self) -> Any:
        """The ``ArqRedis`` client of the running event loop (created on first use)."""
        return self._async_client()

    # ------------------------------------------------------------------ arming
    def schedule(
        self,
        machine_name: str,
        entity_id: str,
        arm: Sequence[TimerSnapshot],
        cancel: Sequence[str],
    ) -> None:
        """Write the records, drop cancelled jobs, enqueue a deferred job per armed timer,
        from sync code (any thread), with a blocking client.

        arq enqueues only from asyncio, so this writes each job as ``enqueue_job`` does (the
        job key, unless it or its result exists, and the queue entry) in a transaction.
        """
        if not (arm or cancel):
            return
        with self.translating():
            client = self._write_records_sync(machine_name, entity_id, arm, cancel)
            if cancel:
                with client.pipeline(transaction=False) as pipe:
                    self._drop_jobs(pipe, machine_name, entity_id, cancel)
                    pipe.execute()
            for timer in arm:
                self._enqueue_sync(client, machine_name, entity_id, timer.id, timer.due)

    async def aschedule(
        self,
        machine_name: str,
        entity_id: str,
        arm: Sequence[TimerSnapshot],
        cancel: Sequence[str],
    ) -> None:
        """``schedule`` in the event loop, with arq's own ``enqueue_job``."""
        if not (arm or cancel):
            return
        with self.translating():
            pool = await self._write_records(machine_name, entity_id, arm, cancel)
            if cancel:
                async with pool.pipeline(transaction=False) as pipe:
                    self._drop_jobs(pipe, machine_name, entity_id, cancel)
                    await pipe.execute()
            for timer in arm:
                await self._enqueue(pool, machine_name, entity_id, timer.id, timer.due)

    schedule_sync = schedule
    """The old name of ``schedule``, kept for one release."""

    def _drop_jobs(
        self, pipe: Any, machine_name: str, entity_id: str, cancel: Sequence[str]
    ) -> None:
        """Queue on ``pipe`` (a blocking or an asyncio pipeline: queueing is the same) the
        commands that drop the queued jobs of the cancelled timers."""
        for timer_id in cancel:
            job_id = self.job_id(machine_name, entity_id, timer_id)
            pipe.zrem(self.queue_name, job_id)
            pipe.delete(_ARQ_JOB + job_id)

    async def _enqueue(
        self, pool: Any, machine_name: str, entity_id: str, timer_id: str, due: float
    ) -> bool:
        job = await pool.enqueue_job(
            FIRE_TIMER_JOB,
            machine_name,
            entity_id,
            timer_id,
            _job_id=self.job_id(machine_name, entity_id, timer_id),
            _queue_name=self.queue_name,
            _defer_until=datetime.fromtimestamp(due, UTC),
        )
        return job is not None

    def _enqueue_sync(
        self, client: Any, machine_name: str, entity_id: str, timer_id: str, due: float
    ) -> None:
        job_id = self.job_id(machine_name, entity_id, timer_id)
        job_key = _ARQ_JOB + job_id
        now_ms = round(self.clock.now() * 1000)
        due_ms = round(due * 1000)
        payload = self._arq.jobs.serialize_job(
            FIRE_TIMER_JOB, (machine_name, entity_id, timer_id), {}, None, now_ms
        )
        with client.pipeline(transaction=True) as pipe:
            pipe.watch(job_key)
            if pipe.exists(job_key, _ARQ_RESULT + job_id):
                pipe.reset()
                return
            pipe.multi()
            pipe.psetex(job_key, max(1, due_ms - now_ms) + _ARQ_EXPIRES_EXTRA_MS, payload)
            pipe.zadd(self.queue_name, {job_id: due_ms})
            with contextlib.suppress(self._redis.WatchError):
                pipe.execute()

    # ------------------------------------------------------------------ firing (in a worker)
    def install(self, ctx: dict[Any, Any]) -> None:
        """Make an arq worker context fire this scheduler's machines (``on_startup``)."""
        table = ctx.setdefault(CTX_SCHEDULERS, {})
        for machine_name in self._targets:
            table[machine_name] = self

    async def fire(self, machine_name: str, entity_id: str, timer_id: str, job_try: int) -> str:
        """Fire one timer from its job; returns what happened (``fired``, a result reason,
        or ``dead``). Raises arq's ``Retry`` to be tried again later."""
        target = self._targets[machine_name]
        member = member_of(entity_id, timer_id)
        try:
            result = await target.afire_timer(entity_id, timer_id)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if job_try >= self.max_attempts:
                await self._bury_job(machine_name, entity_id, timer_id, job_try, error)
                return "dead"
            delay = self.backoff(job_try)
            logger.warning(
                "firing timer %s of %s/%s failed (try %d, again in %.1fs): %s",
                timer_id,
                machine_name,
                entity_id,
                job_try,
                delay,
                error,
            )
            raise self._arq.worker.Retry(defer=delay) from exc
        self.fired += 1
        reason = result_reason(result)
        if reason == NOT_DUE:  # the orchestrator's clock is behind the worker's
            raise self._arq.worker.Retry(defer=0.5)
        await self.book.ack(self.pool(), machine_name, [member])
        return reason or "fired"

    async def _bury_job(
        self, machine_name: str, entity_id: str, timer_id: str, attempts: int, error: str
    ) -> None:
        records = self.book.keys(machine_name).records
        raw = await self.pool().hget(records, member_of(entity_id, timer_id))
        if raw is not None:
            record = TimerRecord.from_json(raw)
            await self._bury(replace(record, attempts=attempts, error=error))

    # ------------------------------------------------------------------ reconciling
    async def reconcile(self, *, limit: int = 1000) -> int:
        """Re-enqueue overdue timers whose arq job is gone; returns how many.

        A record overdue by more than ``reconcile_grace`` seconds should have a job that is
        queued or running. When the job key is missing (expired, failed past its tries, or
        lost with a Redis restart) the job is enqueued again, due now; when the key exists but
        the queue lost its entry, the entry is put back.
        """
        pool = self.pool()
        cutoff = self.clock.now() - self.reconcile_grace
        now_ms = round(self.clock.now() * 1000)
        requeued = 0
        for machine_name in list(self._targets):
            k = self.book.keys(machine_name)
            members = await pool.zrangebyscore(k.due, "-inf", cutoff, start=0, num=limit)
            if not members:
                continue
            raw = await pool.hmget(k.records, members)
            records = self.book.records(raw)
            async with pool.pipeline(transaction=False) as pipe:
                for record in records:
                    job_id = self.job_id(machine_name, record.entity_id, record.timer_id)
                    pipe.exists(_ARQ_JOB + job_id)
                    pipe.exists(_ARQ_IN_PROGRESS + job_id)
                    pipe.zscore(self.queue_name, job_id)
                states = await pipe.execute()
            for i, record in enumerate(records):
                has_job, running, queued = states[3 * i : 3 * i + 3]
                job_id = self.job_id(machine_name, record.entity_id, record.timer_id)
                if not has_job:
                    if await self._enqueue(
                        pool, machine_name, record.entity_id, record.timer_id, record.due
                    ):
                        requeued += 1
                        logger.warning("timer job %s was gone; enqueued again", job_id)
                elif queued is None and not running:
                    await pool.zadd(self.queue_name, {job_id: now_ms})
                    requeued += 1
                    logger.warning("timer job %s was not queued; queued again", job_id)
        return requeued

    # ------------------------------------------------------------------ worker set-up
    def arq_function(self) -> Any:
        """The arq function that runs timer jobs, with this scheduler's timeout and tries."""
        return self._arq.worker.func(
            fire_timer_job,
            name=FIRE_TIMER_JOB,
            timeout=self.job_timeout,
            keep_result=0,
            # Our own limit (max_attempts) buries the record; arq's must not drop the job
            # first, and crashes count as tries too.
            max_tries=self.max_attempts + 10,
        )

    def worker_settings(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for ``arq.worker.Worker`` that fire this scheduler's timers,
        for running your own arq worker (``pystator worker`` does this for you), or as the
        ``WorkerSettings`` of arq's command line.

        The worker's Redis client (``redis_pool``) has this scheduler's connect and read
        timeouts: arq's own pool, made from ``redis_settings``, has a connect timeout only and
        waits forever on a Redis that stopped answering. Pass ``redis_settings`` (or
        ``redis_pool``) in ``overrides`` to connect your own way instead.
        """

        async def on_startup(ctx: dict[Any, Any]) -> None:
            self.install(ctx)

        settings: dict[str, Any] = {
            "functions": [self.arq_function()],
            "queue_name": self.queue_name,
            "on_startup": on_startup,
            "job_timeout": self.job_timeout,
            "keep_result": 0,
            "poll_delay": 0.1,
            "max_jobs": 50,
        }
        if "redis_settings" not in overrides and "redis_pool" not in overrides:
            settings["redis_pool"] = self._worker_pool()
        settings.update(overrides)
        return settings

    def _worker_pool(self) -> Any:
        return worker_pool(
            self._arq, self.url, self.queue_name, self.connect_timeout, self.read_timeout
        )

    # ------------------------------------------------------------------ inspection
    async def clear(self, machine_name: str) -> None:
        """Forget every timer record of a machine and its queued jobs."""
        pool = self.pool()
        for record in await self.book.load(pool, machine_name):
            job_id = self.job_id(machine_name, record.entity_id, record.timer_id)
            await pool.zrem(self.queue_name, job_id)
            await pool.delete(_ARQ_JOB + job_id)
        await super().clear(machine_name)

    def close(self) -> None:
        """Close the blocking client, from sync code; timers stay in Redis. (The arq pool
        belongs to its event loop: ``aclose`` closes it.)"""
        self.close_blocking_client()

    async def aclose(self) -> None:
        """Close the connections; timers stay in Redis."""
        await self._close_async_client()
        self.close()

    close_sync = close
    """The old name of ``close``, kept for one release."""


async def fire_timer_job(
    ctx: dict[Any, Any], machine_name: str, entity_id: str, timer_id: str
) -> str:
    """The arq job of a timer: fire it through the scheduler installed for its machine."""
    schedulers: dict[str, ArqScheduler] = ctx.get(CTX_SCHEDULERS, {})
    scheduler = schedulers.get(machine_name)
    if scheduler is None:
        # This worker does not know the machine; another one may (rolling deploys).
        logger.warning(
            "no orchestrator for machine %s here; timer %s retried", machine_name, timer_id
        )
        arq = import_arq("ArqScheduler")
        raise arq.worker.Retry(defer=5.0)
    return await scheduler.fire(machine_name, entity_id, timer_id, int(ctx.get("job_try", 1)))


__all__ = [
    "CTX_SCHEDULERS",
    "DEFAULT_QUEUE_NAME",
    "FIRE_TIMER_JOB",
    "ArqScheduler",
    "fire_timer_job",
    "import_arq",
]
