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
import logging
import random
from collections.abc import Sequence
from typing import Any

from pystator.models.snapshot import TimerSnapshot
from pystator.runtime.clock import Clock
from pystator.scheduler.redis_timers import (
    CLAIM_LUA,
    DEFAULT_REDIS_URL,
    RETRY_LUA,
    TimerRecord,
    score,
)
from pystator.scheduler.targets import (
    NOT_DUE,
    BackgroundTask,
    RedisTimerScheduler,
    result_reason,
)
from pystator.stores.availability import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT

logger = logging.getLogger("pystator.scheduler")


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
        autostart: start the polling loop on the first ``aschedule`` made in a running event
            loop (a replica that only fires calls ``start()``).
        concurrency: timers fired at once by this replica; the polling loop claims only as
            many as it has free slots, so claimed timers start firing at once.
        max_attempts: a timer whose firing raised this many times is moved to the dead
            hash (``dead_timers()``) and logged.
        retry_delay: seconds before a failed timer is tried again (doubled per attempt).
        connect_timeout: seconds to wait for a connection to Redis (``None``: no limit).
        read_timeout: seconds to wait for Redis to answer a command (``None``: no limit).
            Past either, ``schedule`` and ``aschedule`` raise ``StoreTimeoutError`` and the
            polling loop logs one line and tries again.
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
        self._polling = BackgroundTask("pystator-redis-scheduler")
        self._inflight: set[asyncio.Task[None]] = set()
        self._acks: dict[str, list[str]] = {}
        self.failed = 0
        """Firings that raised (retried later, or buried after ``max_attempts``)."""

    # ------------------------------------------------------------------ clients
    def _new_async_client(self) -> Any:
        from pystator.stores.redis_faults import client_options

        return self._redis.asyncio.Redis.from_url(
            self.url,
            decode_responses=True,
            **client_options(self.connect_timeout, self.read_timeout, asyncio=True),
        )

    def _async_lua(self) -> dict[str, str]:
        return {**super()._async_lua(), "claim": CLAIM_LUA, "retry": RETRY_LUA}

    # ------------------------------------------------------------------ arming
    def schedule(
        self,
        machine_name: str,
        entity_id: str,
        arm: Sequence[TimerSnapshot],
        cancel: Sequence[str],
    ) -> None:
        """Arm ``arm`` and cancel ``cancel`` (timer ids) for one entity, atomically, from sync
        code, with a blocking client (any thread)."""
        if not (arm or cancel):
            return
        with self.translating():
            self._write_records_sync(machine_name, entity_id, arm, cancel)

    async def aschedule(
        self,
        machine_name: str,
        entity_id: str,
        arm: Sequence[TimerSnapshot],
        cancel: Sequence[str],
    ) -> None:
        """``schedule`` in the event loop (starts the polling loop with ``autostart``)."""
        if arm or cancel:
            with self.translating():
                await self._write_records(machine_name, entity_id, arm, cancel)
        if self.autostart:
            self._ensure_task()

    schedule_sync = schedule
    """The old name of ``schedule``, kept for one release."""

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
            result = await target.afire_timer(record.entity_id, record.timer_id)
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
        if failed.attempts >= self.max_attempts:
            await self._bury(failed)
            return
        delay = self.backoff(failed.attempts)
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
        if not self._polling.running:
            self._polling.start(self._run())

    async def start(self) -> None:
        """Start the polling loop now (it also starts on the first ``aschedule``)."""
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

    # ------------------------------------------------------------------ shutdown
    def close(self) -> None:
        """Stop the polling loop from sync code (its task is cancelled on its loop) and close
        the blocking client; timers stay in Redis."""
        self._polling.cancel_threadsafe()
        self.close_blocking_client()

    async def aclose(self) -> None:
        """Stop the polling loop, wait for it, and close the connections; timers stay in
        Redis."""
        await self._polling.stop()
        # Firings still running are cancelled; their claims go back when the lease runs out.
        inflight, self._inflight = list(self._inflight), set()
        for running in inflight:
            running.cancel()
        await asyncio.gather(*inflight, return_exceptions=True)
        if self._aclient is not None and self._aclient_loop is asyncio.get_running_loop():
            await self._flush_acks()
        await self._close_async_client()
        self.close()

    close_sync = close
    """The old name of ``close``, kept for one release."""


__all__ = ["RedisScheduler", "result_reason"]
