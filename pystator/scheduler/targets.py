"""What the schedulers share: the orchestrators they fire timers through (by machine name),
the background task of the in-process ones, and the Redis side of the Redis-backed ones."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pystator.errors import StoreUnavailableError
from pystator.models.snapshot import TimerSnapshot
from pystator.runtime.clock import SYSTEM_CLOCK, Clock
from pystator.runtime.ports import TimerTarget
from pystator.stores.availability import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    check_timeout,
)

if TYPE_CHECKING:
    from pystator.scheduler.timer_record import TimerRecord

logger = logging.getLogger("pystator.scheduler")

NOT_DUE = "timer_not_due"
"""The ``reason`` of a fired timer's result when the orchestrator found it not due yet (its
clock lags the scheduler's by more than its ``timer_skew``): the timer is tried again."""

MAX_RETRY_DELAY = 300.0
"""The longest wait, in seconds, before a failed firing is tried again."""


def result_reason(result: Any) -> str | None:
    """``metadata["reason"]`` of a fired timer's result, if any."""
    metadata = getattr(result, "metadata", None)
    if isinstance(metadata, Mapping):
        reason = metadata.get("reason")
        return reason if isinstance(reason, str) else None
    return None


class TargetRegistry:
    """Maps machine names to the orchestrators (``TimerTarget``) that fire their timers.

    A replica fires any stored timer of a machine it registered, including timers another
    replica armed.
    """

    def __init__(self) -> None:
        self._targets: dict[str, TimerTarget] = {}
        self.fired = 0
        """Timers this scheduler fired (the orchestrator returned, whatever the result)."""

    def register(self, target: TimerTarget) -> None:
        """Fire timers of ``target.machine_name`` through ``target`` (an orchestrator)."""
        self._targets[target.machine_name] = target

    @property
    def machines(self) -> list[str]:
        """Machine names this scheduler fires timers for."""
        return sorted(self._targets)


class BackgroundTask:
    """The asyncio task in which a scheduler fires its timers (``AsyncioScheduler``'s timer
    loop, ``RedisScheduler``'s polling loop): started in the running event loop, stopped from
    sync code in any thread (``cancel_threadsafe``) or from that loop (``stop``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.task: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        """The event loop the task was last started in."""

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(self, run: Coroutine[Any, Any, None]) -> None:
        """Run ``run`` as the task, in the running event loop."""
        self.loop = asyncio.get_running_loop()
        self.task = self.loop.create_task(run, name=self.name)

    def cancel_threadsafe(self) -> None:
        """Cancel the task on its loop, from any thread, without waiting for it."""
        task, loop = self.task, self.loop
        self.task = None
        if task is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)

    async def stop(self) -> None:
        """Cancel the task and wait for it (in its own event loop)."""
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class RedisTimerScheduler(TargetRegistry):
    """What the Redis-backed schedulers share: the timer records in Redis (a ``TimerBook``),
    the clock due times are read from, the retry policy of firings that raise, a blocking
    client for sync callers, and the connect and read timeouts of every client they make
    (a Redis that is down or does not answer in time is a ``StoreUnavailableError`` or
    ``StoreTimeoutError`` from ``schedule`` and ``aschedule``, not a hang).
    """

    decode_responses = True

    def __init__(
        self,
        feature: str,
        url: str,
        prefix: str,
        clock: Clock | None,
        max_attempts: int,
        retry_delay: float,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float | None = DEFAULT_READ_TIMEOUT,
    ) -> None:
        from pystator.scheduler.redis_timers import TimerBook, import_redis

        self._redis = import_redis(feature)
        self.connect_timeout = check_timeout("connect_timeout", connect_timeout)
        self.read_timeout = check_timeout("read_timeout", read_timeout)
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if retry_delay < 0:
            raise ValueError("retry_delay must be >= 0")
        super().__init__()
        self.url = url
        self.book = TimerBook(prefix)
        self.clock = clock or SYSTEM_CLOCK
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self._sclient: Any = None
        self._sclient_lock = threading.Lock()
        self._sscripts: dict[str, Any] = {}
        self._aclient: Any = None
        self._aclient_loop: asyncio.AbstractEventLoop | None = None
        self._ascripts: dict[str, Any] = {}
        self._faults: Any = None

    def client_options(self) -> dict[str, Any]:
        """The timeouts of every redis-py client or pool this scheduler makes."""
        from pystator.stores.redis_faults import client_options

        return client_options(self.connect_timeout, self.read_timeout)

    def unavailable(self, exc: BaseException) -> StoreUnavailableError | None:
        """``exc`` as ``StoreUnavailableError`` if it says Redis is down or did not answer in
        time (reported once per outage), else ``None``."""
        from pystator.stores.redis_faults import REDIS_DOWN, RedisFaults

        if not isinstance(exc, REDIS_DOWN):
            return None
        if self._faults is None:
            self._faults = RedisFaults.of_client(
                self._redis.Redis.from_url(self.url, **self.client_options())
            )
        error: StoreUnavailableError = self._faults.fail(exc)
        return error

    def answered(self) -> None:
        """A call to Redis succeeded: the end of an outage, if there was one."""
        if self._faults is not None:
            self._faults.availability.answered()

    @contextlib.contextmanager
    def translating(self) -> Iterator[None]:
        """Redis calls (sync or awaited) whose connection errors and timeouts come out as
        ``StoreUnavailableError`` / ``StoreTimeoutError``."""
        try:
            yield
        except Exception as exc:
            error = self.unavailable(exc)
            if error is None:
                raise
            raise error from exc
        self.answered()

    @property
    def prefix(self) -> str:
        return self.book.prefix

    def _sync_client(self) -> Any:
        """The sync client, made once: API requests arm timers from several threads at once,
        so it is built under a lock and published after its scripts."""
        if self._sclient is None:
            with self._sclient_lock:
                if self._sclient is None:
                    from pystator.scheduler.redis_timers import ARM_LUA

                    client = self._redis.Redis.from_url(
                        self.url, decode_responses=self.decode_responses, **self.client_options()
                    )
                    self._sscripts = {"arm": client.register_script(ARM_LUA)}
                    self._sclient = client
        return self._sclient

    def _new_async_client(self) -> Any:
        """A new asyncio client (it connects on first use, in the loop that uses it)."""
        raise NotImplementedError

    def _async_lua(self) -> dict[str, str]:
        """The Lua scripts, by name, registered on each asyncio client (``_ascripts``)."""
        from pystator.scheduler.redis_timers import ARM_LUA, BURY_LUA

        return {"arm": ARM_LUA, "bury": BURY_LUA}

    def _async_client(self) -> Any:
        """The asyncio client of the running event loop, its scripts in ``_ascripts``: made
        on first use in each loop, as a client belongs to the loop that made its
        connections."""
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aclient_loop is not loop:
            self._aclient = self._new_async_client()
            self._aclient_loop = loop
            self._ascripts = {
                name: self._aclient.register_script(lua) for name, lua in self._async_lua().items()
            }
        return self._aclient

    async def _close_async_client(self) -> None:
        """Close the asyncio client if it belongs to the running loop; forget it anyway."""
        client, self._aclient = self._aclient, None
        if client is not None and self._aclient_loop is asyncio.get_running_loop():
            await client.aclose(close_connection_pool=True)
        self._aclient_loop = None

    def close_blocking_client(self) -> None:
        """Close the blocking client of sync callers (made again on next use)."""
        client, self._sclient = self._sclient, None
        if client is not None:
            client.close()

    def _write_records_sync(
        self,
        machine_name: str,
        entity_id: str,
        arm: Sequence[TimerSnapshot],
        cancel: Sequence[str],
    ) -> Any:
        """Write the armed records and drop the cancelled ones, atomically; returns the
        blocking client."""
        client = self._sync_client()
        self._sscripts["arm"](
            keys=self.book.keys(machine_name).main,
            args=self.book.arm_args(machine_name, entity_id, arm, cancel),
        )
        return client

    async def _write_records(
        self,
        machine_name: str,
        entity_id: str,
        arm: Sequence[TimerSnapshot],
        cancel: Sequence[str],
    ) -> Any:
        """``_write_records_sync`` in the event loop; returns the asyncio client."""
        client = self._async_client()
        await self._ascripts["arm"](
            keys=self.book.keys(machine_name).main,
            args=self.book.arm_args(machine_name, entity_id, arm, cancel),
        )
        return client

    # ------------------------------------------------------------------ failed firings
    def backoff(self, attempts: int) -> float:
        """Seconds before a firing that failed ``attempts`` times is tried again:
        ``retry_delay``, doubled per further attempt, at most ``MAX_RETRY_DELAY``."""
        return min(MAX_RETRY_DELAY, self.retry_delay * 2.0 ** (attempts - 1))

    async def _bury(self, dead: TimerRecord) -> None:
        """Move a timer whose firing failed ``dead.attempts`` times to the dead hash (with
        ``dead.error``), and log it."""
        self._async_client()
        k = self.book.keys(dead.machine_name)
        logger.error(
            "timer %s of %s/%s failed %d times; moved to %s: %s",
            dead.timer_id,
            dead.machine_name,
            dead.entity_id,
            dead.attempts,
            k.dead,
            dead.error,
        )
        await self._ascripts["bury"](
            keys=[k.due, k.claimed, k.records, k.dead], args=[dead.member, dead.to_json()]
        )

    # ------------------------------------------------------------------ inspection
    async def pending(self, machine_name: str) -> dict[str, int]:
        """Counts of this machine's timer records: ``due`` (armed, not fired yet),
        ``claimed``, ``records``, ``dead``."""
        return await self.book.pending(self._async_client(), machine_name)

    async def timers(self, machine_name: str) -> list[TimerRecord]:
        """Every armed timer of a machine, soonest first."""
        return await self.book.load(self._async_client(), machine_name)

    async def dead_timers(self, machine_name: str) -> list[TimerRecord]:
        """Timers that kept failing, with their last error."""
        return await self.book.dead(self._async_client(), machine_name)

    async def clear(self, machine_name: str) -> None:
        """Forget every timer record of a machine (tests, or after deleting its entities)."""
        k = self.book.keys(machine_name)
        await self._async_client().delete(k.due, k.claimed, k.records, k.dead)
