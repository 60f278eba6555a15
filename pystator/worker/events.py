"""Events through a durable queue: ``submit_event``, the job that applies them, dead letters.

An event submitted with ``submit_event`` is an arq job in Redis until a worker applies it
through the orchestrator of its machine. Every event carries an idempotency key (yours, or
one made up at submission), so a job that runs twice (a worker died after the commit, a
retry) applies the event once; submitting again with the same key while the first job is
queued is refused by arq (same job id), and afterwards returns the earlier outcome.

A job that raises is retried with exponential backoff (``WorkerApp.retry_delay``,
``max_tries``). An event that still fails is kept as a *dead letter* (a Redis hash, with the
error and the number of tries) and can be listed (``list_dead_letters``) and replayed
(``replay_dead_letter``, or ``pystator worker replay``). An event the machine rejects (guard,
invalid transition) is an outcome, not a failure: it is not retried.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pystator.errors import IdempotencyConflictError
from pystator.scheduler.arq_scheduler import DEFAULT_QUEUE_NAME, import_arq, worker_pool
from pystator.stores.availability import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    check_timeout,
)
from pystator.worker.app import DEAD_LETTER_PREFIX, WorkerApp, default_redis_url

logger = logging.getLogger("pystator.worker")

PROCESS_EVENT_JOB = "pystator_process_event"
"""The arq function name of event jobs."""
CTX_APP = "pystator_worker_app"


class DeadLetter(BaseModel):
    """An event that kept failing, kept for inspection and replay."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    job_id: str
    machine_name: str
    entity_id: str
    trigger: str
    context: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str
    attempts: int
    error: str
    failed_at: float
    submitted_at: float


@dataclass(frozen=True, slots=True)
class Submission:
    """What ``submit_event`` did: the job id, the event's idempotency key, and whether a new
    job was queued (``False``: a job with this key is queued or ran recently)."""

    job_id: str
    idempotency_key: str
    enqueued: bool


def event_job_id(machine_name: str, entity_id: str, idempotency_key: str) -> str:
    return f"pystator:event:{machine_name}:{idempotency_key}|{entity_id}"


class EventQueue:
    """A connection to the event queue and its dead letters (``async with EventQueue():``).

    The module functions (``submit_event`` and the others) open one per call; keep one
    around when submitting many events. Its connections time out (``connect_timeout``,
    ``read_timeout``, in seconds; ``None``: no limit): ``submit`` then raises
    ``StoreUnavailableError`` / ``StoreTimeoutError``, to be retried with the same key.
    """

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        queue_name: str = DEFAULT_QUEUE_NAME,
        dead_letter_prefix: str = DEAD_LETTER_PREFIX,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float | None = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self._arq = import_arq("pystator.worker")
        self.redis_url = redis_url or default_redis_url()
        self.queue_name = queue_name
        self.dead_letter_prefix = dead_letter_prefix
        self.connect_timeout = check_timeout("connect_timeout", connect_timeout)
        self.read_timeout = check_timeout("read_timeout", read_timeout)
        self._pool: Any = None

    async def __aenter__(self) -> EventQueue:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _client(self) -> Any:
        if self._pool is None:
            self._pool = worker_pool(
                self._arq, self.redis_url, self.queue_name, self.connect_timeout, self.read_timeout
            )
        return self._pool

    async def aclose(self) -> None:
        """Close the connections (a later call opens them again)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.aclose(close_connection_pool=True)

    async def submit(
        self,
        machine_name: str,
        entity_id: str,
        trigger: str,
        context: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        delay: float | None = None,
        job_id: str | None = None,
    ) -> Submission:
        """Queue one event; see ``submit_event``."""
        if not machine_name or not entity_id or not trigger:
            raise ValueError("machine_name, entity_id and trigger must be non-empty")
        if delay is not None and delay < 0:
            raise ValueError("delay must be >= 0")
        key = idempotency_key or f"submit:{uuid.uuid4().hex}"
        job_id = job_id or event_job_id(machine_name, entity_id, key)
        from pystator.stores.redis_faults import REDIS_DOWN, RedisFaults

        client = self._client()
        try:
            job = await client.enqueue_job(
                PROCESS_EVENT_JOB,
                machine_name,
                entity_id,
                trigger,
                dict(context or {}),
                key,
                time.time(),
                _job_id=job_id,
                _queue_name=self.queue_name,
                _defer_by=timedelta(seconds=delay) if delay else None,
            )
        except REDIS_DOWN as exc:
            # The same key makes the same job id: submitting again never queues it twice.
            raise RedisFaults.of_client(client).fail(exc, write=True) from exc
        return Submission(job_id=job_id, idempotency_key=key, enqueued=job is not None)

    # ------------------------------------------------------------------ dead letters
    @property
    def _items(self) -> str:
        return self.dead_letter_prefix + "items"

    @property
    def _index(self) -> str:
        return self.dead_letter_prefix + "index"

    async def add_dead_letter(self, letter: DeadLetter) -> None:
        async with self._client().pipeline(transaction=True) as pipe:
            pipe.hset(self._items, letter.id, letter.model_dump_json())
            pipe.zadd(self._index, {letter.id: letter.failed_at})
            await pipe.execute()

    async def dead_letters(self, *, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        """Dead letters, oldest first."""
        client = self._client()
        ids = await client.zrange(self._index, offset, offset + limit - 1)
        if not ids:
            return []
        raw = await client.hmget(self._items, ids)
        return [DeadLetter.model_validate_json(item) for item in raw if item is not None]

    async def count_dead_letters(self) -> int:
        return int(await self._client().zcard(self._index))

    async def get_dead_letter(self, letter_id: str) -> DeadLetter | None:
        raw = await self._client().hget(self._items, letter_id)
        return None if raw is None else DeadLetter.model_validate_json(raw)

    async def delete_dead_letter(self, letter_id: str) -> bool:
        async with self._client().pipeline(transaction=True) as pipe:
            pipe.hdel(self._items, letter_id)
            pipe.zrem(self._index, letter_id)
            removed, _ = await pipe.execute()
        return bool(removed)

    async def replay(self, letter_id: str) -> Submission:
        """Queue a dead letter's event again (same idempotency key: applied at most once)
        and forget the dead letter."""
        letter = await self.get_dead_letter(letter_id)
        if letter is None:
            raise KeyError(f"no dead letter {letter_id!r}")
        submission = await self.submit(
            letter.machine_name,
            letter.entity_id,
            letter.trigger,
            letter.context,
            idempotency_key=letter.idempotency_key,
            job_id=f"{letter.job_id}:replay:{uuid.uuid4().hex[:12]}",
        )
        await self.delete_dead_letter(letter_id)
        return submission


# ---------------------------------------------------------------------- module functions
async def submit_event(
    machine_name: str,
    entity_id: str,
    trigger: str,
    context: Mapping[str, Any] | None = None,
    *,
    idempotency_key: str | None = None,
    delay: float | None = None,
    redis_url: str | None = None,
    queue_name: str = DEFAULT_QUEUE_NAME,
) -> Submission:
    """Queue an event for ``pystator worker``: applied once, retried with backoff, kept as
    a dead letter if it keeps failing.

    Args:
        machine_name: the machine the worker's app maps to an orchestrator.
        entity_id: the entity.
        trigger: the event.
        context: the event's payload (JSON-ready).
        idempotency_key: applies the event at most once however often it is submitted
            (default: a new key, so this submission is applied once).
        delay: seconds to wait before applying it.
        redis_url: the Redis server (default ``$PYSTATOR_REDIS_URL`` or local).
        queue_name: the worker's queue.
    """
    async with EventQueue(redis_url, queue_name=queue_name) as queue:
        return await queue.submit(
            machine_name,
            entity_id,
            trigger,
            context,
            idempotency_key=idempotency_key,
            delay=delay,
        )


def submit_event_sync(
    machine_name: str,
    entity_id: str,
    trigger: str,
    context: Mapping[str, Any] | None = None,
    *,
    idempotency_key: str | None = None,
    delay: float | None = None,
    redis_url: str | None = None,
    queue_name: str = DEFAULT_QUEUE_NAME,
) -> Submission:
    """``submit_event`` for code without an event loop."""
    return asyncio.run(
        submit_event(
            machine_name,
            entity_id,
            trigger,
            context,
            idempotency_key=idempotency_key,
            delay=delay,
            redis_url=redis_url,
            queue_name=queue_name,
        )
    )


async def list_dead_letters(
    *,
    redis_url: str | None = None,
    limit: int = 100,
    offset: int = 0,
    dead_letter_prefix: str = DEAD_LETTER_PREFIX,
) -> list[DeadLetter]:
    """Events that kept failing, oldest first."""
    async with EventQueue(redis_url, dead_letter_prefix=dead_letter_prefix) as queue:
        return await queue.dead_letters(limit=limit, offset=offset)


async def replay_dead_letter(
    letter_id: str,
    *,
    redis_url: str | None = None,
    queue_name: str = DEFAULT_QUEUE_NAME,
    dead_letter_prefix: str = DEAD_LETTER_PREFIX,
) -> Submission:
    """Queue a dead letter's event again and remove it from the dead letters."""
    async with EventQueue(
        redis_url, queue_name=queue_name, dead_letter_prefix=dead_letter_prefix
    ) as queue:
        return await queue.replay(letter_id)


# ---------------------------------------------------------------------- the job
async def process_event_job(
    ctx: dict[Any, Any],
    machine_name: str,
    entity_id: str,
    trigger: str,
    context: dict[str, Any],
    idempotency_key: str,
    submitted_at: float,
) -> dict[str, Any]:
    """The arq job of an event: apply it through its machine's orchestrator.

    Returns the result as JSON without its context (``Orchestrator.result_json``), or
    ``{"dead_letter": id}``; raises arq's ``Retry`` to be tried again after a backoff.
    """
    app: WorkerApp = ctx[CTX_APP]
    queue: EventQueue = ctx[CTX_APP + ":queue"]
    job_try = int(ctx.get("job_try", 1))
    orchestrator = app.orchestrators.get(machine_name)
    permanent = False
    try:
        if orchestrator is None:
            raise LookupError(f"this worker has no orchestrator for machine {machine_name!r}")
        # Shorter than arq's own timeout, whose expiry would drop the job without a retry.
        result = await asyncio.wait_for(
            orchestrator.aprocess_event(
                entity_id, trigger, context, idempotency_key=idempotency_key
            ),
            timeout=max(0.5, app.job_timeout * 0.8),
        )
    except IdempotencyConflictError as exc:
        permanent, error = True, f"{type(exc).__name__}: {exc.message}"
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    else:
        if not result.success:
            logger.info(
                "event %s of %s/%s rejected: %s",
                trigger,
                machine_name,
                entity_id,
                result.metadata.get("reason"),
            )
        # Without the context: the job result (kept in Redis) never copies the entity's data.
        return orchestrator.result_json(result)
    if not permanent and job_try < app.max_tries:
        delay = app.retry_delay_for(job_try)
        logger.warning(
            "event %s of %s/%s failed (try %d of %d, again in %.2fs): %s",
            trigger,
            machine_name,
            entity_id,
            job_try,
            app.max_tries,
            delay,
            error,
        )
        arq = import_arq("pystator.worker")
        raise arq.worker.Retry(defer=delay)
    letter = DeadLetter(
        id=uuid.uuid4().hex,
        job_id=str(ctx.get("job_id", "")),
        machine_name=machine_name,
        entity_id=entity_id,
        trigger=trigger,
        context=context,
        idempotency_key=idempotency_key,
        attempts=job_try,
        error=error,
        failed_at=time.time(),
        submitted_at=submitted_at,
    )
    await queue.add_dead_letter(letter)
    logger.error(
        "event %s of %s/%s failed %d time(s); dead letter %s: %s",
        trigger,
        machine_name,
        entity_id,
        job_try,
        letter.id,
        error,
    )
    return {"dead_letter": letter.id}


__all__ = [
    "CTX_APP",
    "PROCESS_EVENT_JOB",
    "DeadLetter",
    "EventQueue",
    "Submission",
    "event_job_id",
    "list_dead_letters",
    "process_event_job",
    "replay_dead_letter",
    "submit_event",
    "submit_event_sync",
]
