"""What a Redis that is down, slow or frozen becomes for the Redis store and schedulers.

redis-py waits forever by default: a stopped (``SIGSTOP``) server holds every caller for as
long as it is stopped. Every client made here gets a connect and a read timeout
(``socket_connect_timeout``, ``socket_timeout``; defaults in ``pystator.stores.availability``)
and no automatic retry of a command (a retried write could apply twice). redis-py's
``ConnectionError`` and ``TimeoutError`` become ``StoreUnavailableError`` and
``StoreTimeoutError`` with a one-line reason, reported to the server's ``Availability`` (one
log line per outage).

No retry is said explicitly (``retry=Retry(NoBackoff(), 0)``), because redis-py's default
changed: from 6.0 a client made with ``Redis(host=...)`` retries a command that lost its
connection or timed out, with exponential backoff (3 times in 6.x and 7.x, 10 in 8.x), where
5.3 never retries. Clients made with ``from_url`` or over a ``ConnectionPool`` do not retry
in any of them, unless the URL says ``retry_on_timeout``. An explicit ``Retry`` with no
retries means the same in every version, whatever the URL says and however the client is
made (``tests/integration/test_redis_no_retry.py`` counts the commands a server receives).
"""

from __future__ import annotations

from typing import Any

from redis.backoff import NoBackoff
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from pystator.errors import StoreTimeoutError, StoreUnavailableError
from pystator.stores.availability import Availability, availability, seconds

REDIS_DOWN: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)
"""The redis-py errors that mean the server cannot be reached or did not answer."""


def client_options(
    connect_timeout: float | None, read_timeout: float | None, *, asyncio: bool = False
) -> dict[str, Any]:
    """Keyword arguments of a redis-py client (or connection pool) with these timeouts and no
    retry of a command. ``asyncio``: for a client or pool of ``redis.asyncio``, which takes
    the retry policy of ``redis.asyncio.retry`` (redis-py 7 and later warn about, and
    convert, a synchronous one)."""
    if asyncio:
        from redis.asyncio.retry import Retry as AsyncRetry

        retry: Any = AsyncRetry(NoBackoff(), 0)
    else:
        from redis.retry import Retry

        retry = Retry(NoBackoff(), 0)
    return {
        "socket_connect_timeout": connect_timeout,
        "socket_timeout": read_timeout,
        "retry": retry,
    }


def target_of(connection_kwargs: dict[str, Any]) -> str:
    """The server as messages name it, without credentials: ``Redis at host:port``."""
    path = connection_kwargs.get("path")
    if path:
        return f"Redis at {path}"
    host = connection_kwargs.get("host", "localhost")
    return f"Redis at {host}:{connection_kwargs.get('port', 6379)}"


class RedisFaults:
    """The timeouts of one Redis server and the translation of redis-py's errors."""

    def __init__(
        self, target: str, *, connect_timeout: float | None, read_timeout: float | None
    ) -> None:
        self.target = target
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.availability: Availability = availability(target)

    @classmethod
    def of_client(cls, client: Any) -> RedisFaults:
        """The faults of a redis-py client (sync or asyncio), with the timeouts it has."""
        kwargs = dict(client.connection_pool.connection_kwargs)
        return cls(
            target_of(kwargs),
            connect_timeout=kwargs.get("socket_connect_timeout"),
            read_timeout=kwargs.get("socket_timeout"),
        )

    def translate(self, exc: BaseException, *, write: bool = False) -> StoreUnavailableError:
        """The ``StoreUnavailableError`` a redis-py ``ConnectionError`` or ``TimeoutError``
        stands for. ``write``: ``exc`` interrupted a write after it was sent."""
        text = str(exc)
        connecting = "connecting to" in text
        unknown = write and not connecting
        if isinstance(exc, RedisTimeoutError):
            if connecting:
                waited = f" within {seconds(self.connect_timeout)}" if self.connect_timeout else ""
                return StoreTimeoutError(
                    target=self.target, reason=f"did not accept a connection{waited}"
                )
            waited = f" within {seconds(self.read_timeout)}" if self.read_timeout else ""
            return StoreTimeoutError(
                target=self.target, reason=f"did not answer{waited}", outcome_unknown=unknown
            )
        if isinstance(exc, BusyLoadingError):
            return StoreUnavailableError(target=self.target, reason="is loading its data set")
        if "refused" in text.lower():
            return StoreUnavailableError(target=self.target, reason="refused the connection")
        if connecting:
            first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
            return StoreUnavailableError(target=self.target, reason=f"failed: {first[:200]}")
        return StoreUnavailableError(
            target=self.target, reason="closed the connection", outcome_unknown=unknown
        )

    def fail(self, exc: BaseException, *, write: bool = False) -> StoreUnavailableError:
        """``translate`` and report to the server's ``Availability``; returns the error to
        raise (``raise faults.fail(exc) from exc``)."""
        error = self.translate(exc, write=write)
        self.availability.failed(error)
        return error


__all__ = ["REDIS_DOWN", "RedisFaults", "client_options", "target_of"]
