"""``RedisScheduler``: timers kept in Redis and fired by a polling loop in every replica.

Arming a timer writes its record (machine, entity, timer id, trigger, absolute due time) and
its due time in one Lua script; nothing is held only in process memory, so timers survive a
restart of the process that armed them. Every replica runs a polling loop that claims due
timers atomically (one Lua script moves them from ``due`` to ``claimed`` with a lease
deadline), fires each through the orchestrator registered for its machine, and acknowledges
it. A replica that dies after claiming loses nothing: when the lease runs out, the next claim
puts the timer back. A replica claims only timers of machines it registered, and fires timers
it did not arm. Firing twice (a lease that ran out while the first replica was slow) is
harmless: the orchestrator applies a timer only while its id is armed on the entity.

Needs the ``redis`` extra: ``pip install 'pystator[redis]'``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping, Sequence
from typing import Any

from pystator.models.snapshot import TimerSnapshot
from pystator.runtime.clock import Clock
from pystator.scheduler.redis_timers import (
    ARM_LUA,
    BURY_LUA,
    CLAIM_LUA,
    DEFAULT_REDIS_URL,
    RETRY_LUA,
    TimerRecord,
    score,
)
from pystator.scheduler.targets import RedisTimerScheduler
from pystator.stores.availability import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT

logger = logging.getLogger("pystator.scheduler")

NOT_DUE = "timer_not_due"


def result_reason(result: Any) -> str | None:
    """``metadata["reason"]`` of a fired timer's result, if any."""
    metadata = getattr(result, "metadata", None)
    if isinstance(metadata, Mapping):
        reason = metadata.get("reason")
        return reason if isinstance(reason, str) else None
    return None


class RedisScheduler(RedisTimerScheduler):
    """Keeps timers in Redis; every replica's polling loop claims and fires due ones.

    Args:
        url: the Redis server (``redis://host:port/db``).
        prefix: prefix of every key (one per deployment or test).
        poll_interval: seconds between polls when nothing is due; bounds how late a timer
            fires on an idle replica.
        lease: seconds a replica holds a claimed timer before another may take it; longer
            than one firing takes, shorter than the lateness you accept after a crash.
        batch: the most timers claimed per poll and machine.
        clock: where "now" comes from (default: wall clock, as the orchestrator's due times).
        autostart: start the polling loop on the first ``schedule`` made in a running event
            loop (a replica that only fires calls ``start()``).
        concurrency: timers fired at once by this replica; the polling loop claims only as
            many as it has free slots, so claimed timers start firing at once.
        max_attempts: a timer whose firing raised this many times is moved to the dead
            hash (``dead_timers()``) and logged.
        retry_delay: seconds before a failed timer is tried again (doubled per attempt).
        connect_timeout: seconds to wait for a connection to Redis (``None``: no limit).
        read_timeout: seconds to wait for Redis to answer a command (``None``: no limit).
            Past either, ``schedule`` raises ``StoreTimeoutError`` and the polling loop logs
            one line and tries again.
    """

    def __init__(
        self,
        url: str = DEFAULT_REDIS_URL,
        *,
        prefix: str = "pystator:timers:",
        poll_interval: float = 0.1,
        lease: float = 30.0,
        batch: int = 100,
        clock: Clock | None = None,
        autostart: bool = True,
        concurrency: int = 100,
        max_attempts: int = 10,
        retry_delay: float = 1.0,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float | None = DEFAULT_READ_TIMEOUT,
    ) -> None:
        if poll_interval <= 0 or lease <= 0 or batch < 1 or concurrency < 1:
            raise ValueError("poll_interval and lease must be > 0, batch and concurrency >= 1")
        super().__init__(
            "RedisScheduler",
            url,
            prefix,
            clock,
            max_attempts,
            retry_delay,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self.poll_interval = poll_interval
        self.lease = lease
        self.batch = batch
        self.autostart = autostart
        self.concurrency = concurrency
        self._aclient: Any = None
        self._aclient_loop: asyncio.AbstractEventLoop | None = None
        self._ascripts: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._acks: dict[str, list[str]] = {}
        self.failed = 0
        """Firings that raised (retried later, or buried after ``max_attempts``)."""

    # ------------------------------------------------------------------ clients
    def _async_client(self) -> Any:
        # A redis.asyncio client belongs to the loop that created its connections.
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aclient_loop is not loop:
            self._aclient = self._redis.asyncio.Redis.from_url(
                self.url, decode_responses=True, **self.client_options()
            )
            self._aclient_loop = loop
            self._ascripts = {
                name: self._aclient.register_script(lua)
                for name, lua in (
                    ("arm", ARM_LUA),
                    ("claim", CLAIM_LUA),
                    ("retry", RETRY_LUA),
                    ("bury", BURY_LUA),
                )
            }
        return self._aclient

    # ------------------------------------------------------------------ arming
    async def schedule(
        self,
        machine_name: str,
        entity_id: str,
        arm: Sequence[TimerSnapshot],
        cancel: Sequence[str],
    ) -> None:
        """Arm ``arm`` and cancel ``cancel`` (timer ids) for one entity, atomically."""
        if arm or cancel:
            self._async_client()
            with self.translating():
                await self._ascripts["arm"](
                    keys=self.book.keys(machine_name).main,
                    args=self.book.arm_args(machine_name, entity_id, arm, cancel),
                )
        if self.autostart:
            self._ensure_task()

    def schedule_sync(
        self,
        machine_name: str,
        entity_id: str,
        arm: Sequence[TimerSnapshot],
        cancel: Sequence[str],
    ) -> None:
        """``schedule`` for sync callers, with a blocking client (any thread)."""
        if not (arm or cancel):
            return
        with self.translating():
            self._write_records_sync(machine_name, entity_id, arm, cancel)

    # ------------------------------------------------------------------ firing
    async def run_due(self) -> int:
        """Claim the timers due now (every registered machine), fire them and wait for the
        firings; returns how many were claimed. For tests and manual driving: the polling
        loop fires without waiting, so one slow firing does not hold up the others."""
        claimed = 0
        for machine_name in list(self._targets):
            records = await self._claim(machine_name, self.batch)
            claimed += len(records)
            await self._fire_all(records)
        await self._flush_acks()
        return claimed

    async def _claim(self, machine_name: str, limit: int) -> list[TimerRecord]:
        self._async_client()
        now = self.clock.now()
        raw = await self._ascripts["claim"](
            keys=self.book.keys(machine_name).main,
            args=[score(now), score(now + self.lease), str(limit)],
        )
        return self.book.records(raw)

    async def _fire_all(self, records: list[TimerRecord]) -> None:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(record: TimerRecord) -> None:
            async with gate:
                await self._fire_and_note(record)

        await asyncio.gather(*(one(r) for r in records))

    async def _fire_and_note(self, record: TimerRecord) -> None:
        try:
            member = await self._fire(record)
        except Exception:
            # Redis failed while putting the timer back: the claim stays, and its lease
            # hands the timer to a replica again (a second firing is a no-op).
            logger.exception("re-queueing timer %s of %s failed", record.timer_id, record.entity_id)
            return
        if member is not None:
            # Acknowledged in batches by the next poll: a crash in between only means
            # one more (no-op) firing after the lease.
            self._acks.setdefault(record.machine_name, []).append(member)

    async def _flush_acks(self) -> None:
        acks, self._acks = self._acks, {}
        client = self._async_client()
        for machine_name, members in acks.items():
            try:
                await self.book.ack(client, machine_name, members)
            except Exception:
                logger.exception("acknowledging %d timers of %s failed", len(members), machine_name)

    async def _fire(self, record: TimerRecord) -> str | None:
        """Fire one claimed timer; returns its member when it is to be acknowledged."""
        target = self._targets.get(record.machine_name)
        if target is None:  # unregistered meanwhile: let the lease run out for another replica
            return None
        try:
            result = await target.async_fire_timer(record.entity_id, record.timer_id)
        except Exception as exc:
            self.failed += 1
            await self._failed(record, exc)
            return None
        self.fired += 1
        if result_reason(result) == NOT_DUE:
            # The orchestrator's clock is behind ours by more than its timer_skew: try
            # again shortly instead of dropping the timer.
            await self._requeue(record, self.clock.now() + max(self.poll_interval, 0.5))
            return None
        return record.member

    async def _failed(self, record: TimerRecord, exc: Exception) -> None:
        failed = record.failed(f"{type(exc).__name__}: {exc}")
        k = self.book.keys(record.machine_name)
        if failed.attempts >= self.max_attempts:
            logger.error(
                "timer %s of %s/%s failed %d times; moved to %s: %s",
                record.timer_id,
                record.machine_name,
                record.entity_id,
                failed.attempts,
                k.dead,
                failed.error,
            )
            await self._ascripts["bury"](
                keys=[k.due, k.claimed, k.records, k.dead], args=[record.member, failed.to_json()]
            )
            return
        delay = min(300.0, self.retry_delay * 2 ** (failed.attempts - 1))
        logger.warning(
            "firing timer %s of %s/%s failed (attempt %d, again in %.1fs): %s",
            record.timer_id,
            record.machine_name,
            record.entity_id,
            failed.attempts,
            delay,
            failed.error,
        )
        await self._requeue(failed, self.clock.now() + delay)

    async def _requeue(self, record: TimerRecord, at: float) -> None:
        await self._ascripts["retry"](
            keys=self.book.keys(record.machine_name).main,
            args=[record.member, score(at), record.to_json()],
        )

    # ------------------------------------------------------------------ loop
    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._run(), name="pystator-redis-scheduler")

    async def start(self) -> None:
        """Start the polling loop now (it also starts on the first ``schedule``)."""
        self._ensure_task()

    async def _poll_once(self) -> tuple[int, int]:
        """Claim as many due timers as there are free firing slots and start firing them;
        returns (claimed, asked for)."""
        loop = asyncio.get_running_loop()
        await self._flush_acks()
        claimed = asked = 0
        for machine_name in list(self._targets):
            free = self.concurrency - len(self._inflight)
            if free <= 0:
                break
            limit = min(free, self.batch)
            asked += limit
            records = await self._claim(machine_name, limit)
            claimed += len(records)
            for record in records:
                task = loop.create_task(self._fire_and_note(record))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
        return claimed, asked

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                claimed, asked = await self._poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                # Redis down or frozen: one line per outage (``unavailable`` logs it).
                if self.unavailable(exc) is None and (failures == 1 or failures % 50 == 0):
                    logger.exception("polling timers in Redis failed (%d in a row)", failures)
                await asyncio.sleep(min(5.0, self.poll_interval * 2 ** min(failures, 6)))
                continue
            if failures:
                self.answered()
            failures = 0
            if len(self._inflight) >= self.concurrency:
                # Every slot is busy: wait for one (claiming more would only hold leases).
                await asyncio.wait(
                    set(self._inflight),
                    timeout=self.poll_interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            elif not asked or claimed < asked:  # a full claim: more may be due, go again
                # Jitter spreads the replicas' polls over the interval.
                await asyncio.sleep(self.poll_interval * random.uniform(0.5, 1.0))

    # ------------------------------------------------------------------ inspection
    async def pending(self, machine_name: str) -> dict[str, int]:
        """Counts of this machine's timers: ``due``, ``claimed``, ``records``, ``dead``."""
        return await self.book.pending(self._async_client(), machine_name)

    async def timers(self, machine_name: str) -> list[TimerRecord]:
        """Every armed timer of a machine, soonest first."""
        return await self.book.load(self._async_client(), machine_name)

    async def dead_timers(self, machine_name: str) -> list[TimerRecord]:
        """Timers that kept failing, with their last error."""
        return await self.book.dead(self._async_client(), machine_name)

    async def clear(self, machine_name: str) -> None:
        """Forget every timer of a machine (tests, or after deleting its entities)."""
        k = self.book.keys(machine_name)
        await self._async_client().delete(k.due, k.claimed, k.records, k.dead)

    # ------------------------------------------------------------------ shutdown
    async def close(self) -> None:
        """Stop the polling loop and close the connections; timers stay in Redis."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Firings still running are cancelled; their claims go back when the lease runs out.
        inflight, self._inflight = list(self._inflight), set()
        for running in inflight:
            running.cancel()
        await asyncio.gather(*inflight, return_exceptions=True)
        if self._aclient is not None and self._aclient_loop is asyncio.get_running_loop():
            await self._flush_acks()
        client, self._aclient = self._aclient, None
        if client is not None and self._aclient_loop is asyncio.get_running_loop():
            await client.aclose()
        self._aclient_loop = None
        self._close_sync_client()

    def close_sync(self) -> None:
        """Stop from sync code (the loop's task is cancelled on its loop)."""
        task, loop = self._task, self._loop
        self._task = None
        if task is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)
        self._close_sync_client()

    def _close_sync_client(self) -> None:
        client, self._sclient = self._sclient, None
        if client is not None:
            client.close()


__all__ = ["RedisScheduler", "result_reason"]
