"""How ``RedisStateStore`` sends its commands: through the client's pool (the plain path), or,
for ``load`` and ``commit``, on a connection each thread keeps (a speed trick).

``PooledCommands`` is the plain path and the twin of the trick: each command borrows a
connection from the client's pool (``client.execute_command``), and redis-py's errors become
``StoreUnavailableError`` (``pystator.stores.redis_faults``). The store sends every command
but ``load`` and ``commit`` this way.

``HeldConnections`` is the trick: each thread keeps one connection of the client's pool and
sends its commands on it. Borrowing a connection and giving it back costs about as much as a
small command (the pool's lock and redis-py's ``can_read``, which switches the socket to
non-blocking, reads and switches back: 5 to 10 µs per command here). The kept connection is
checked with one ``poll`` of its socket instead (``Holder.closed``). The rows that justify it
are the ``redis/1 entity`` and ``redis/1,000 entities`` rows of
``python -m benchmarks.stores_bench`` (figures "orchestrator" and "cached"; see
``docs/benchmarks.md``, "Changes made for this"). ``tests/integration/test_store_adapters.py``
compares the replies of the two on the same commands; ``PYSTATOR_PLAIN_TWINS=held_connections``
(``pystator._twins``) makes the store send every command through the pool, for measuring.

A kept connection goes back to the pool when its thread ends (a thread-per-request server
does not leak one per request) and on ``release_all()`` (the store's ``close()``); a forked
child drops its parent's connections without using them.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from typing import Any, NoReturn

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from pystator._twins import use_plain_twin
from pystator.stores.redis_faults import REDIS_DOWN, RedisFaults


class PooledCommands:
    """Commands on connections the client's pool lends for each one: the plain path.

    Args:
        client: the store's sync redis-py client (it must not decode responses).
        faults: the faults of its server (``RedisFaults.of_client(client)``).
    """

    def __init__(self, client: redis.Redis, faults: RedisFaults) -> None:
        self.client = client
        self.faults = faults
        self._availability = faults.availability
        # redis-py types every command as "value or awaitable of it" (one signature for the
        # sync and async clients); this client is sync, so calls go through an untyped alias.
        self._r: Any = client

    def fail(self, exc: BaseException, *, write: bool = False) -> NoReturn:
        """Raise the ``StoreUnavailableError`` that the redis-py error ``exc`` stands for."""
        raise self.faults.fail(exc, write=write) from exc

    @contextlib.contextmanager
    def guarded(self, *, write: bool = False) -> Iterator[None]:
        """Commands through the client's pool: its errors as ``StoreUnavailableError``.

        ``write``: the commands change data; an answer lost after one was sent makes the
        error say its outcome is unknown.
        """
        try:
            yield
        except REDIS_DOWN as exc:
            self.fail(exc, write=write)
        if self._availability.down:
            self._availability.answered()

    def run(self, *command: Any, write: bool = False) -> Any:
        """One command through the client's pool; its reply, as ``execute_command`` gives it
        (the same as the raw reply for ``HGET`` and ``EVALSHA``: they have no response
        callback)."""
        with self.guarded(write=write):
            return self._r.execute_command(*command)

    def evalsha(self, script: Any, keys: list[Any], args: list[Any]) -> Any:
        """Run a registered ``script`` (a write) by its SHA; load it again if the server
        lost it (a restarted or flushed server)."""
        try:
            return self.run("EVALSHA", script.sha, len(keys), *keys, *args, write=True)
        except NoScriptError:
            with self.guarded():
                script.sha = self._r.script_load(script.script)
            return self.run("EVALSHA", script.sha, len(keys), *keys, *args, write=True)

    def release_all(self) -> None:
        """Give back the connections kept for later commands: none on this path."""


class Holder:
    """A connection a thread keeps; handed to ``returns`` when this holder is collected (its
    thread ended) or ``release()`` is called, whichever comes first.

    The finalizer only appends to a deque: it may run inside the garbage collector at any
    allocation, including one made while this very thread holds the pool's lock (inside
    ``get_connection``), so taking that lock there would deadlock. ``HeldConnections`` gives
    what is in ``returns`` back to the pool at safe points (``_give_back``).

    ``closed()`` tells whether the server closed the connection while it was idle, with one
    ``poll`` of its socket (no data is read and the socket's mode is not changed).
    """

    __slots__ = ("__weakref__", "conn", "poller", "release", "sock")

    def __init__(self, conn: Any, returns: deque[Any]) -> None:
        self.conn = conn
        self.release = weakref.finalize(self, returns.append, conn)
        self.release.atexit = False  # nothing to give back at interpreter exit
        self.sock: Any = None  # the socket ``poller`` watches
        self.poller: Any = None

    def closed(self) -> bool:
        """Whether the idle connection has something to read on its socket: the server
        closed it (a restart, its idle timeout) or sent something nobody asked for. Either way
        it cannot carry the next command. ``False`` for a connection not connected yet.

        Unlike redis-py's ``can_read``, it does not look into the parser's buffer: the kept
        connection carries only ``HeldConnections.run``'s commands, each reading exactly its
        one reply (and dropping the connection on anything unexpected), so nothing is ever
        left buffered.
        """
        conn = self.conn
        sock = getattr(conn, "_sock", None)
        if sock is None:
            return False  # not connected: sending a command connects
        if sock is not self.sock:
            make = getattr(select, "poll", None)  # looked up now: eventlet deletes it
            poller = None
            if make is not None:
                try:
                    poller = make()
                    poller.register(sock, select.POLLIN)
                except (ValueError, TypeError, OSError):  # closed under us, or no fileno()
                    return True
            self.sock, self.poller = sock, poller
        if self.poller is None:
            return bool(conn.can_read())  # no poll on this platform: the pool's own check
        return bool(self.poller.poll(0))


class HeldConnections(PooledCommands):
    """``PooledCommands`` whose ``run`` (and so ``evalsha``) uses this thread's own connection
    of the client's pool; ``guarded`` still covers commands sent through the pool."""

    def __init__(self, client: redis.Redis, faults: RedisFaults) -> None:
        super().__init__(client, faults)
        self._local = threading.local()
        self._pid = os.getpid()
        self._releases: list[weakref.finalize[Any, Any]] = []  # one per holder: gives back
        self._releases_lock = threading.Lock()
        self._returns: deque[Any] = deque()  # connections of ended holders, for the pool

    @property
    def releases(self) -> tuple[weakref.finalize[Any, Any], ...]:
        """The finalizers of the holders made and not yet pruned: one per thread that ran a
        command (a holder whose thread ended is pruned when the next one is made)."""
        return tuple(self._releases)

    def connection(self) -> Any:
        """This thread's own connection from the client's pool."""
        return self.holder().conn

    def holder(self) -> Holder:
        """The holder of this thread's own connection from the client's pool.

        It is kept in a ``threading.local``: when the thread ends, its entry and the holder
        go away and the connection goes back to the pool; ``release_all()`` gives back the
        others.
        """
        if self._pid != os.getpid():
            # A forked child must not talk over its parent's sockets (they are the parent's),
            # nor give them back to the pool (a new one in the child).
            with self._releases_lock:
                for release in self._releases:
                    release.detach()
                self._releases = []
            self._pid = os.getpid()
            self._local = threading.local()
            self._returns.clear()
        if self._returns:
            self._give_back()
        held: Holder | None = getattr(self._local, "held", None)
        if held is None:
            held = Holder(self.client.connection_pool.get_connection(), self._returns)
            self._local.held = held
            with self._releases_lock:
                self._releases = [release for release in self._releases if release.alive]
                self._releases.append(held.release)
        return held

    def run(self, *command: Any, write: bool = False) -> Any:
        """One command on this thread's connection; its reply, as the client would give it
        without response callbacks (which ``HGET`` and ``EVALSHA`` do not have).

        ``write``: a command that changes data; if its answer is lost after it was sent,
        the ``StoreUnavailableError`` says its outcome is unknown.
        """
        try:
            held = self.holder()
            conn = held.conn
            try:
                # What the pool checks when it hands a connection out, with one poll of the
                # socket (``Holder.closed``): an idle connection with something to read was
                # closed by the server (a restart, a timeout): connect again before sending,
                # so the command is not lost.
                if held.closed():
                    raise RedisConnectionError("the connection has data: the server closed it")
            except (RedisConnectionError, RedisTimeoutError, OSError):
                conn.disconnect()
                conn.connect()
            try:
                conn.send_command(*command)
            except BaseException:
                conn.disconnect()  # Redis drops an incomplete command with the connection
                raise
        except REDIS_DOWN as exc:
            self.fail(exc)  # not sent: nothing happened
        try:
            reply = conn.read_response()
        except ResponseError:
            raise  # an error reply: the connection is in order
        except BaseException as exc:
            # Anything else (a lost or timed out connection, an interrupt) may leave a reply
            # unread: drop the socket, the next command connects again.
            conn.disconnect()
            if isinstance(exc, REDIS_DOWN):
                self.fail(exc, write=write)
            raise
        if self._availability.down:
            self._availability.answered()
        return reply

    def _give_back(self) -> None:
        """Return the connections of ended holders to the pool (never from a finalizer)."""
        pool = self.client.connection_pool
        while True:
            try:
                conn = self._returns.popleft()
            except IndexError:
                return
            pool.release(conn)

    def release_all(self) -> None:
        """Give every kept connection back to the pool (threads still alive included)."""
        with self._releases_lock:
            releases, self._releases = self._releases, []
        for release in releases:
            release()  # a no-op if its thread already ended
        self._local = threading.local()
        self._give_back()


# Measuring only (``pystator._twins``): the plain path in place of the trick (the store's test
# hooks that reach a thread's own connection are then unavailable).
if use_plain_twin("held_connections"):
    HeldConnections = PooledCommands  # type: ignore[misc, assignment]


__all__ = ["HeldConnections", "Holder", "PooledCommands"]
