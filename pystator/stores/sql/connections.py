"""How ``SQLStateStore`` talks to its database: the engine, one driver connection per thread.

SQLAlchemy makes the engine (URL, driver options, SQLite pragmas) and creates the schema;
the store's statements (``pystator.stores.sql.statements``) run on the driver's connection,
one per thread, in autocommit (a read is one statement, a write one explicit transaction).
The engine's pool serves everything else that shares the database (the API's machine
catalogue, maintenance).

A thread's connection is closed when the thread ends (``ThreadConnection``), so a server whose
thread pool retires idle threads and starts new ones (AnyIO's, after 10 idle seconds) holds
one connection per live thread, not one per thread it ever ran.

SQLite runs in WAL mode with a busy timeout, so several processes can share one file.
``synchronous=NORMAL`` (the default here) is durable against a crash of the process, which is
what the orchestrator's guarantees are about; after a power loss or an OS crash the last
commits may roll back. ``FULL`` fsyncs every commit (much slower).

PostgreSQL connections time out, a kept connection is checked before use (a restarted server
closed it), and a database that is down, frozen or locked past the busy timeout raises
``StoreUnavailableError`` (``StoreTimeoutError``): see ``pystator.stores.sql.faults``.

Speed (rows ``postgres 1 entity`` and ``postgres 1,000 entities`` of ``python -m
benchmarks.stores_bench``): each thread keeps one psycopg cursor (``SQLConnections.cursor``)
for the entity read and the one-statement commit, since psycopg makes a new cursor, with its
own adapters, on every ``conn.execute``. The plain twin is that ``conn.execute``, which the
other statements use.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from pystator._twins import use_plain_twin
from pystator.errors import StoreTimeoutError
from pystator.stores.sql.faults import SQLFaults, closed_while_idle, watch_socket
from pystator.stores.sql.rows import dumps

SYNCHRONOUS = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})
_SCHEMA_LOCK_KEY = 0x70797374  # PostgreSQL advisory lock of schema creation ("pyst")


def _close_quietly(conn: Any, pid: int | None = None) -> None:
    """Close a driver connection; one the server already dropped raises nothing. Given
    ``pid``, only in that process: after ``os.fork()`` the child drops the other threads'
    thread-locals at once, and their finalizers must not end the parent's sessions."""
    if pid is not None and pid != os.getpid():
        return
    with contextlib.suppress(Exception):
        conn.close()


class ThreadConnection:
    """The driver connection of one thread, closed when that thread ends or on ``close()``,
    whichever comes first.

    It is kept in the thread's ``threading.local`` and nowhere else, so it is collected when
    the thread ends, and its finalizer closes the connection then (nobody else uses a
    thread's connection, and closing one takes no lock another thread may hold).
    ``SQLConnections`` keeps the finalizers, to close the connections of live threads too.
    """

    __slots__ = ("__weakref__", "close")

    def __init__(self, conn: Any) -> None:
        self.close = weakref.finalize(self, _close_quietly, conn, os.getpid())
        self.close.atexit = False  # the process is ending: the server drops its sockets


class SQLConnections:
    """The engine of one store, and the driver connection of each thread that uses it.

    Args:
        url: a SQLAlchemy URL (SQLite or PostgreSQL).
        create_schema: creates the tables (``CREATE ... IF NOT EXISTS``) over the connection
            it is given; run once, before the first connection is handed out.
        echo, synchronous, busy_timeout, engine_options, connect_timeout, read_timeout:
            as ``SQLStateStore`` takes them (checked by it).
    """

    def __init__(
        self,
        url: str,
        create_schema: Callable[[sa.Connection], None],
        *,
        echo: bool,
        synchronous: str,
        busy_timeout: float,
        engine_options: Mapping[str, Any] | None,
        connect_timeout: float | None,
        read_timeout: float | None,
    ) -> None:
        options: dict[str, Any] = {
            "echo": echo,
            "json_serializer": dumps,
            "json_deserializer": json.loads,
        }
        parsed = sa.engine.make_url(url)
        backend = parsed.get_backend_name()
        memory = backend == "sqlite" and parsed.database in (None, "", ":memory:")
        if memory:
            # One shared connection, or every thread would see its own empty database.
            options["poolclass"] = StaticPool
            options["connect_args"] = {"check_same_thread": False}
        elif backend == "sqlite":
            options["connect_args"] = {"timeout": busy_timeout, "check_same_thread": False}
        else:
            # A connection the pool kept (the schema's) is checked before it is handed out.
            options["pool_pre_ping"] = True
        options.update(engine_options or {})
        self.engine = sa.create_engine(url, **options)
        self.faults = SQLFaults(
            parsed,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            busy_timeout=busy_timeout,
        )
        self.faults.install(self.engine)
        self.availability = self.faults.availability
        self.dialect = self.engine.dialect.name
        if self.dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"SQLStateStore supports SQLite and PostgreSQL, not {self.dialect}")
        self.sqlite = self.dialect == "sqlite"
        errors: Any = self.engine.dialect.dbapi  # the driver module (PEP 249 errors)
        self.errors = errors
        self.operational: type[Exception] = errors.OperationalError
        # The single in-memory connection must not be used by two threads at once.
        self.serial: threading.RLock | None = threading.RLock() if memory else None
        self.lock: contextlib.AbstractContextManager[Any] = (
            self.serial if self.serial is not None else contextlib.nullcontext()
        )
        if self.sqlite:
            self._sqlite_pragmas(synchronous, busy_timeout)
        self._create_schema = create_schema
        self.ready = False
        self._ready_lock = threading.Lock()
        self._local = threading.local()
        self._pid = os.getpid()
        # The in-memory database's checkouts of its one connection, given back on close.
        self._opened: list[Any] = []
        # The closers of the other connections: one per thread that connected (a closer
        # whose thread ended has run, and is pruned when the next thread connects).
        self._held: list[weakref.finalize[Any, Any]] = []
        self._opened_lock = threading.Lock()
        self.closed = False

    # ------------------------------------------------------------------ set-up
    def _sqlite_pragmas(self, synchronous: str, busy_timeout: float) -> None:
        millis = int(busy_timeout * 1000)

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout = {millis}")
                (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
                if str(mode).lower() != "wal":
                    _switch_to_wal(cursor, busy_timeout)
                cursor.execute(f"PRAGMA synchronous = {synchronous}")
            finally:
                cursor.close()

        sa.event.listen(self.engine, "connect", on_connect)

    def ensure_schema(self) -> None:
        """Create the store's tables once (every process that opens the database may race
        here)."""
        if self.ready:
            return
        with self._ready_lock:
            if self.ready:
                return
            self.create_tables(self._create_schema)
            self.ready = True

    def create_tables(self, create: Callable[[sa.Connection], None]) -> None:
        """Run ``create`` (``CREATE ... IF NOT EXISTS``) in one transaction, serialised with
        other processes doing the same."""
        for attempt in range(5):
            try:
                with self.lock, self.engine.begin() as conn:
                    if self.dialect == "postgresql":
                        # Two processes creating tables at once would collide on PostgreSQL's
                        # catalog; a transaction-scoped lock serialises them.
                        conn.execute(
                            sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK_KEY}
                        )
                    create(conn)
                return
            except (sa.exc.DBAPIError, StoreTimeoutError) as exc:
                # SQLite: another process created a table between the check and the CREATE
                # (or held the new file's lock); the next round sees it. A server that is
                # down is reported at once.
                if attempt == 4 or (isinstance(exc, StoreTimeoutError) and not self.sqlite):
                    raise

    # ------------------------------------------------------------------ connections
    def connection(self) -> Any:
        """This thread's driver connection, in autocommit mode."""
        if self._pid != os.getpid():
            self._forget_parent_connections()
        conn: Any = getattr(self._local, "conn", None)
        if (
            conn is not None
            and not self.sqlite
            and (conn.closed or conn.broken or closed_while_idle(self._local.poller))
        ):
            self.discard()  # the server went away (a restart): connect again
            conn = None
        if conn is None:
            conn = self._connect()
        return conn

    def _connect(self) -> Any:
        if self.closed:
            raise RuntimeError("this SQLStateStore is closed")
        self.ensure_schema()
        try:
            proxy = self.engine.raw_connection()
        except self.operational as exc:
            self.faults.fail(exc, sent=False)
            raise
        conn: Any = proxy.dbapi_connection
        if self.serial is None:
            proxy.detach()  # ours, not the pool's: closed when this thread ends, or on close()
        if self.sqlite:
            conn.isolation_level = None  # we say BEGIN and COMMIT ourselves
        else:
            conn.autocommit = True
            self._local.poller = watch_socket(conn)
        self._local.conn = conn
        self._local.proxy = proxy
        with self._opened_lock:
            if self.serial is not None:
                # The in-memory database's one connection is shared: it stays with its pool
                # and is not closed when a thread ends.
                self._opened.append(proxy)
            else:
                held = self._local.held = ThreadConnection(conn)
                self._held = [close for close in self._held if close.alive]
                self._held.append(held.close)
        return conn

    @property
    def held(self) -> int:
        """How many driver connections are open for threads (0 for an in-memory database):
        one per live thread that ran a statement."""
        with self._opened_lock:
            return sum(1 for close in self._held if close.alive)

    def _forget_parent_connections(self) -> None:
        """In a forked child: never use nor close the parent's connections (their sockets are
        the parent's), and start afresh."""
        with self._opened_lock:
            for close in self._held:
                close.detach()  # before the thread-locals that hold them are dropped
            self._held = []
            self._opened = []
        self._pid = os.getpid()
        self._local = threading.local()
        self.engine.dispose(close=False)

    def discard(self) -> None:
        """Close this thread's connection (lost, or in an unknown state after a timeout)."""
        local = self._local
        proxy, held = getattr(local, "proxy", None), getattr(local, "held", None)
        local.conn = local.cursor = local.poller = local.proxy = local.held = None
        if held is not None:
            held.close()
        elif proxy is not None:
            with self._opened_lock:
                self._opened = [p for p in self._opened if p is not proxy]

    def failed(self, exc: BaseException, *, write: bool) -> None:
        """A statement raised ``exc``: raise ``StoreUnavailableError`` if the database is
        unavailable (dropping a connection that may be in any state), else return."""
        if not self.sqlite:
            self.discard()
        self.faults.fail(exc, write=write)

    def cursor(self, conn: Any) -> Any:
        """A cursor of ``conn`` kept for the thread (psycopg makes a cursor, with its own
        adapters, on every ``conn.execute``)."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None or cursor.connection is not conn or cursor.closed:
            cursor = self._local.cursor = conn.cursor()
        return cursor

    def plain_cursor(self, conn: Any) -> Any:
        """``cursor``'s plain twin: the connection itself, whose ``execute`` makes a cursor
        per call."""
        return conn

    # Measuring only (``pystator._twins``): the plain twin in place of the trick.
    if use_plain_twin("psycopg_cursor"):
        cursor = plain_cursor

    @contextlib.contextmanager
    def use(self, *, write: bool = False) -> Iterator[Any]:
        """This thread's connection, under the lock of a single in-memory database; errors
        that mean the database is unavailable become ``StoreUnavailableError``."""
        with self.lock:
            conn = self.connection()
            try:
                yield conn
            except self.operational as exc:
                self.failed(exc, write=write)
                raise
        if self.availability.down:
            self.availability.answered()

    @contextlib.contextmanager
    def transaction(self, conn: Any, *, read_only: bool = False) -> Iterator[None]:
        """One transaction on ``conn``: committed at the end, rolled back on any error."""
        if self.sqlite:
            # IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so a
            # writer never fails half-way on a lock another writer holds.
            begin = "BEGIN" if read_only else "BEGIN IMMEDIATE"
        else:
            # Several reads that must agree (a count and its page) see one snapshot.
            begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if read_only else "BEGIN"
        conn.execute(begin)
        try:
            yield
        except BaseException as exc:
            if (
                not self.sqlite
                and isinstance(exc, self.operational)
                and self.faults.translate(exc, write=False) is not None
            ):
                # Lost or timed out: no ROLLBACK over a connection in an unknown state; the
                # server rolls back a transaction whose connection is gone.
                conn.close()
            else:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextlib.contextmanager
    def pooled(self) -> Iterator[sa.Connection]:
        """A SQLAlchemy connection of the engine's pool, in a transaction committed at the
        end (for work off the hot path, such as the machine catalogue)."""
        with self.lock:
            if self.closed:
                raise RuntimeError("this SQLStateStore is closed")
            with self.engine.begin() as conn:
                yield conn

    # ------------------------------------------------------------------ tear-down
    def close_connections(self) -> None:
        """Close every thread's driver connection (threads still alive included)."""
        with self._opened_lock:
            held, self._held = self._held, []
            opened, self._opened = self._opened, []
        for close in held:
            close()  # a no-op for a thread that ended: its connection is closed already
        for proxy in opened:
            with contextlib.suppress(Exception):
                proxy.close()  # back to the single-connection pool
        self._local = threading.local()

    def close(self) -> None:
        """Close every connection (from any thread); the store refuses work afterwards."""
        self.closed = True
        self.close_connections()
        self.engine.dispose()


def _switch_to_wal(cursor: Any, busy_timeout: float) -> None:
    """``PRAGMA journal_mode = WAL``, retried while the database is locked.

    WAL mode is kept in the file, so only the connections that open a new database get here.
    Switching needs the database to itself, and SQLite answers "database is locked" at once
    (without waiting for the busy timeout) when other processes open the same new file at
    that moment: wait and retry, up to the busy timeout.
    """
    deadline = time.monotonic() + busy_timeout
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


__all__ = ["SYNCHRONOUS", "SQLConnections", "ThreadConnection"]
