"""What every scheduler shares: the orchestrators it fires timers through, by machine name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pystator.models.snapshot import TimerSnapshot
from pystator.runtime.clock import SYSTEM_CLOCK, Clock
from pystator.runtime.ports import TimerTarget


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
    the clock due times are read from, the retry policy of firings that raise, and a blocking
    client for sync callers.
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
    ) -> None:
        from pystator.scheduler.redis_timers import TimerBook, import_redis

        self._redis = import_redis(feature)
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

    @property
    def prefix(self) -> str:
        return self.book.prefix

    def _sync_client(self) -> Any:
        if self._sclient is None:
            from pystator.scheduler.redis_timers import ARM_LUA

            self._sclient = self._redis.Redis.from_url(
                self.url, decode_responses=self.decode_responses
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
