"""``AsyncioScheduler``: timers held in this process, fired by an asyncio task.

For a single process and for tests. Timers are lost when the process exits; use
``RedisScheduler`` or ``ArqScheduler`` when they must survive restarts or be fired by any
replica. With an injected clock (``ManualClock``) and ``autostart=False``, tests move time
by hand and call ``run_due()``; nothing sleeps. Each timer is held as a ``TimerRecord``, the
record type the Redis schedulers store; ``ScheduledTimer`` (its alias) is re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import threading
from collections.abc import Sequence
from dataclasses import replace

from pystator.models.snapshot import TimerSnapshot
from pystator.runtime.clock import SYSTEM_CLOCK, Clock
from pystator.scheduler.targets import NOT_DUE, BackgroundTask, TargetRegistry, result_reason
from pystator.scheduler.timer_record import ScheduledTimer, TimerRecord

logger = logging.getLogger("pystator.scheduler")

_TimerKey = tuple[str, str, str]
"""(machine name, entity id, timer id)."""


class AsyncioScheduler(TargetRegistry):
    """Keeps timers in a heap and fires each one once, when due, through its orchestrator.

    Args:
        clock: where "now" comes from (default: wall clock, the same the orchestrator uses
            to compute due times).
        autostart: start the background task on the first ``aschedule`` (or ``schedule``)
            made inside a running event loop. With ``False``, call ``run_due()`` yourself.
        max_sleep: the longest the background task sleeps between checks, in seconds.
        retry_delay: seconds before a timer the orchestrator found not due yet (its clock
            lags this one by more than its ``timer_skew``) is fired again.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        autostart: bool = True,
        max_sleep: float = 1.0,
        retry_delay: float = 0.5,
    ) -> None:
        self.clock = clock or SYSTEM_CLOCK
        self.retry_delay = retry_delay
        self.autostart = autostart
        self.max_sleep = max_sleep
        super().__init__()
        # Timer ids are unique per entity only ('<key>@<version>'): index by all three.
        self._heap: list[tuple[float, _TimerKey]] = []
        self._timers: dict[_TimerKey, TimerRecord] = {}
        self._lock = threading.Lock()
        self._firing = BackgroundTask("pystator-asyncio-scheduler")
        self._wakeup: asyncio.Event | None = None

    @property
    def pending(self) -> list[TimerRecord]:
        """Timers not fired yet, soonest first."""
        with self._lock:
            return sorted(self._timers.values(), key=lambda t: (t.due, t.timer_id))

    def _add(
        self,
        machine_name: str,
        entity_id: str,
        arm: Sequence[TimerSnapshot],
        cancel: Sequence[str],
    ) -> None:
        with self._lock:
            for timer_id in cancel:
                # Lazy deletion: the heap entry stays and is skipped when popped.
                self._timers.pop((machine_name, entity_id, timer_id), None)
            for timer in arm:
                key = (machine_name, entity_id, timer.id)
                self._timers[key] = TimerRecord.armed(machine_name, entity_id, timer)
                heapq.heappush(self._heap, (timer.due, key))

    def schedule(
        self,
        machine_name: str,
        entity_id: str,
        arm: Sequence[TimerSnapshot],
        cancel: Sequence[str],
    ) -> None:
        """Arm ``arm`` and cancel ``cancel`` for one entity, from sync code (any thread); the
        loop picks the timers up."""
        self._add(machine_name, entity_id, arm, cancel)
        loop = self._firing.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._poke)
        elif self.autostart:
            with contextlib.suppress(RuntimeError):  # no running loop: start() will pick up
                asyncio.get_running_loop()
                self._ensure_task()

    async def aschedule(
        self,
        machine_name: str,
        entity_id: str,
        arm: Sequence[TimerSnapshot],
        cancel: Sequence[str],
    ) -> None:
        """``schedule`` in the event loop (starts the background task with ``autostart``)."""
        self._add(machine_name, entity_id, arm, cancel)
        if self.autostart:
            self._ensure_task()
        self._poke()

    schedule_sync = schedule
    """The old name of ``schedule``, kept for one release."""

    def _poke(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def _ensure_task(self) -> None:
        if not self._firing.running:
            self._wakeup = asyncio.Event()
            self._firing.start(self._run())

    async def start(self) -> None:
        """Start the background task now (it also starts on the first ``aschedule``)."""
        self._ensure_task()

    def _pop_due(self, now: float) -> TimerRecord | None:
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                _, key = heapq.heappop(self._heap)
                timer = self._timers.get(key)
                if timer is not None and timer.due <= now:
                    del self._timers[key]
                    return timer
            return None

    def _next_due(self) -> float | None:
        with self._lock:
            while self._heap and self._heap[0][1] not in self._timers:
                heapq.heappop(self._heap)
            return self._heap[0][0] if self._heap else None

    async def run_due(self) -> int:
        """Fire every timer that is due now, soonest first; returns how many fired."""
        count = 0
        while True:
            timer = self._pop_due(self.clock.now())
            if timer is None:
                return count
            await self._fire(timer)
            count += 1

    async def _fire(self, timer: TimerRecord) -> None:
        target = self._targets.get(timer.machine_name)
        if target is None:
            logger.error(
                "timer %s of machine %s has no registered orchestrator; dropped",
                timer.timer_id,
                timer.machine_name,
            )
            return
        try:
            result = await target.afire_timer(timer.entity_id, timer.timer_id)
        except Exception:
            logger.exception("firing timer %s of %s failed", timer.timer_id, timer.entity_id)
            return
        self.fired += 1
        if result_reason(result) == NOT_DUE:
            # The orchestrator's clock is behind ours by more than its timer_skew: keep the
            # timer and try again shortly rather than drop it.
            retry = replace(timer, due=self.clock.now() + self.retry_delay)
            key = (timer.machine_name, timer.entity_id, timer.timer_id)
            with self._lock:
                if key not in self._timers:
                    self._timers[key] = retry
                    heapq.heappush(self._heap, (retry.due, key))

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            await self.run_due()
            due = self._next_due()
            delay = self.max_sleep if due is None else max(0.0, due - self.clock.now())
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), min(delay, self.max_sleep))

    def close(self) -> None:
        """Stop the background task, from sync code (it is cancelled on its loop); timers not
        fired yet are dropped."""
        self._firing.cancel_threadsafe()

    async def aclose(self) -> None:
        """Stop the background task and wait for it; timers not fired yet are dropped."""
        await self._firing.stop()
        self._firing.loop = None

    close_sync = close
    """The old name of ``close``, kept for one release."""


__all__ = ["AsyncioScheduler", "ScheduledTimer"]
