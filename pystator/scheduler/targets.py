"""What every scheduler shares: the orchestrators it fires timers through, by machine name."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from pystator.errors import StoreUnavailableError
from pystator.models.snapshot import TimerSnapshot
from pystator.runtime.clock import SYSTEM_CLOCK, Clock
from pystator.runtime.ports import TimerTarget
from pystator.stores.availability import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    check_timeout,
)


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


class RedisTimerScheduler(TargetRegistry):
    """What the Redis-backed schedulers share: the timer records in Redis (a ``TimerBook``),
    the clock due times are read from, the retry policy of firings that raise, a blocking
    client for sync callers, and the connect and read timeouts of every client they make
    (a Redis that is down or does not answer in time is a ``StoreUnavailableError`` or
    ``StoreTimeoutError`` from ``schedule``, not a hang).
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
        self._sscripts: dict[str, Any] = {}
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
        if self._sclient is None:
            from pystator.scheduler.redis_timers import ARM_LUA

            self._sclient = self._redis.Redis.from_url(
                self.url, decode_responses=self.decode_responses, **self.client_options()
            )
            self._sscripts = {"arm": self._sclient.register_script(ARM_LUA)}
        return self._sclient

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
