"""A redis-py client made from ``client_options`` sends a command once, never again by itself.

PyStator promises no automatic retry of a Redis command (a retried write could apply twice:
``pystator.stores.redis_faults``). redis-py's own default changed under ``redis>=5.3``: from
6.0 a client made with ``Redis(host=...)`` retries a command whose connection was lost or
timed out (3 times in 6.x and 7.x, 10 in 8.x), and in every version a URL with
``retry_on_timeout=true`` retries a timed-out command once. ``client_options`` passes an
explicit policy of no retry, in the flavour each client takes (``redis.retry.Retry`` or
``redis.asyncio.retry.Retry``).

The server here is a proxy in front of the test Redis that counts the ``ECHO`` commands it
receives and, for each, either drops the connection or never answers; everything else
passes through. A client that retried would send its ``ECHO`` again.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.retry import Retry

from pystator.stores.redis_faults import client_options

pytestmark = pytest.mark.redis

MARKER = b"pystator-no-retry-probe"
READ_TIMEOUT = 0.3
"""Seconds the clients wait for an answer the proxy never sends."""


class CountingProxy:
    """Forwards to Redis, and counts commands carrying ``MARKER``: for each it drops the
    connection (``mode="drop"``) or swallows the command and never answers (``"hold"``)."""

    def __init__(self, upstream: tuple[str, int], mode: str) -> None:
        self.upstream = upstream
        self.mode = mode
        self.seen = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream, timeout=10)
            server.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, upward: bool) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                self._close(source, target)
                return
            if upward and MARKER in data:
                with self._lock:
                    self.seen += 1
                if self.mode == "drop":
                    self._close(source, target)
                    return
                continue  # "hold": the command never reaches Redis, no answer comes back
            try:
                target.sendall(data)
            except OSError:
                return

    @staticmethod
    def _close(*sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        self._close(*sockets)


@pytest.fixture(params=["drop", "hold"])
def proxy(request: pytest.FixtureRequest, redis_url: str) -> Iterator[CountingProxy]:
    parts = urlsplit(redis_url)
    running = CountingProxy((parts.hostname or "127.0.0.1", parts.port or 6379), request.param)
    try:
        yield running
    finally:
        running.stop()


def options() -> dict[str, Any]:
    return client_options(2.0, READ_TIMEOUT)


def async_options() -> dict[str, Any]:
    return client_options(2.0, READ_TIMEOUT, asyncio=True)


def sync_clients(proxy: CountingProxy) -> dict[str, Callable[[], Any]]:
    """Every way a sync client is made, each with ``client_options``."""
    return {
        # redis-py 6 and later retry a client made like this, unless told not to.
        "Redis(host=...)": lambda: redis.Redis(host="127.0.0.1", port=proxy.port, **options()),
        # Every version retries a timeout once when the URL says so, unless told not to.
        "from_url(retry_on_timeout)": lambda: redis.Redis.from_url(
            f"{proxy.url}?retry_on_timeout=true", **options()
        ),
        "ConnectionPool.from_url": lambda: redis.Redis(
            connection_pool=redis.ConnectionPool.from_url(proxy.url, **options())
        ),
    }


def async_clients(proxy: CountingProxy) -> dict[str, Callable[[], Any]]:
    """The same for ``redis.asyncio``, with ``client_options(..., asyncio=True)``."""
    return {
        "Redis(host=...)": lambda: redis.asyncio.Redis(
            host="127.0.0.1", port=proxy.port, **async_options()
        ),
        "from_url(retry_on_timeout)": lambda: redis.asyncio.Redis.from_url(
            f"{proxy.url}?retry_on_timeout=true", **async_options()
        ),
        "ConnectionPool.from_url": lambda: redis.asyncio.Redis(
            connection_pool=redis.asyncio.ConnectionPool.from_url(proxy.url, **async_options())
        ),
    }


SYNC_WAYS = ["Redis(host=...)", "from_url(retry_on_timeout)", "ConnectionPool.from_url"]


@pytest.mark.parametrize("way", SYNC_WAYS)
def test_a_sync_client_sends_a_failing_command_once(proxy: CountingProxy, way: str) -> None:
    client = sync_clients(proxy)[way]()
    try:
        assert client.ping() is True  # the proxy passes everything else through
        with pytest.raises((redis.ConnectionError, redis.TimeoutError)):
            client.echo(MARKER)
    finally:
        client.close()
    assert proxy.seen == 1, f"{way}: the command was sent {proxy.seen} times"


@pytest.mark.parametrize("way", SYNC_WAYS)
def test_an_asyncio_client_sends_a_failing_command_once(proxy: CountingProxy, way: str) -> None:
    async def scenario() -> None:
        client = async_clients(proxy)[way]()
        try:
            assert await client.ping() is True
            with pytest.raises((redis.ConnectionError, redis.TimeoutError)):
                await client.echo(MARKER)
        finally:
            await client.aclose(close_connection_pool=True)

    asyncio.run(scenario())
    assert proxy.seen == 1, f"{way}: the command was sent {proxy.seen} times"


def test_the_policy_is_of_the_flavour_each_client_takes() -> None:
    """A sync ``Retry`` in an asyncio client is converted with a warning by redis-py 7 and
    later (and its failure handler is not awaited before that): each gets its own."""
    sync_retry, async_retry = options()["retry"], async_options()["retry"]
    assert isinstance(sync_retry, Retry)
    assert isinstance(async_retry, AsyncRetry)
    assert options()["socket_connect_timeout"] == 2.0
    assert options()["socket_timeout"] == READ_TIMEOUT
    # Each call makes its own policy: redis-py copies it per connection, but a caller that
    # changed one must not change another client's.
    assert options()["retry"] is not sync_retry


def test_the_clients_pystator_makes_carry_the_policy(redis_url: str) -> None:
    """The store's client and the schedulers' sync and asyncio clients: no retry."""
    from pystator.scheduler.arq_scheduler import ArqScheduler
    from pystator.scheduler.redis_scheduler import RedisScheduler
    from pystator.stores import RedisStateStore

    store = RedisStateStore(redis_url, prefix="pystator:no-retry:")
    try:
        kwargs = store._redis.connection_pool.connection_kwargs
        assert isinstance(kwargs["retry"], Retry)
    finally:
        store.close()

    async def scheduler_clients() -> list[Any]:
        redis_scheduler = RedisScheduler(redis_url, autostart=False)
        arq_scheduler = ArqScheduler(redis_url)
        try:
            return [
                redis_scheduler._sync_client().connection_pool.connection_kwargs["retry"],
                redis_scheduler._async_client().connection_pool.connection_kwargs["retry"],
                arq_scheduler.pool().connection_pool.connection_kwargs["retry"],
            ]
        finally:
            await redis_scheduler.aclose()
            await arq_scheduler.aclose()

    sync_retry, redis_async, arq_async = asyncio.run(scheduler_clients())
    assert isinstance(sync_retry, Retry)
    assert not isinstance(sync_retry, AsyncRetry)
    assert isinstance(redis_async, AsyncRetry)
    assert isinstance(arq_async, AsyncRetry)
