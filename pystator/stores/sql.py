"""``SQLStateStore``: entities, history, outbox and idempotency keys in SQL tables (SQLModel).

SQLite file by default (``sqlite:///pystator.db``), PostgreSQL by URL
(``postgresql+psycopg://user@host/db``). Four tables, named ``<prefix>entities``,
``<prefix>transitions``, ``<prefix>outbox`` and ``<prefix>idempotency``, are created on first
use. The table classes are SQLModel rows owned by this adapter (one SQLAlchemy registry per
prefix); they never leak into ``pystator.models``, which only sees ``EntityRecord`` and friends.

``commit`` is ONE database transaction: an ``INSERT`` of a new entity (a duplicate key means
someone else created it first) or ``UPDATE ... WHERE machine_name = :m AND entity_id = :e AND
version = :expected`` whose row count must be 1 (when ``commit.incarnation`` is set, also
``AND created_at = :incarnation``: a deleted and re-created entity is not the one the writer
read), then the history row, the outbox rows and the idempotency key. Anything that fails
rolls all of it back; a lost race raises ``StaleVersionError``. The conditional ``UPDATE`` is
a compare-and-set on both databases: PostgreSQL re-evaluates the ``WHERE`` after waiting for
a concurrent writer, SQLite has one writer at a time (a commit starts with ``BEGIN
IMMEDIATE``).

SQLAlchemy creates the schema and the connections (URL, driver options, SQLite pragmas); the
statements themselves are rendered once per store and run on the driver's connection, one per
thread, in autocommit (a read is one statement, a write one explicit transaction). Going
through SQLAlchemy's execution layer for each statement cost several times the database's own
time on SQLite.

SQLite runs in WAL mode with a busy timeout, so several processes can share one file.
``synchronous=NORMAL`` (the default here) is durable against a crash of the process, which is
what the orchestrator's guarantees are about; after a power loss or an OS crash the last
commits may roll back. Pass ``sqlite_synchronous="FULL"`` to fsync every commit (much slower).

PostgreSQL connections time out (``connect_timeout``, ``read_timeout``), a kept connection is
checked before use (a restarted server closed it), and a database that is down, frozen or
locked past the busy timeout raises ``StoreUnavailableError`` (``StoreTimeoutError``): see
``pystator.stores.sql_faults``.

The async methods run the sync ones in a worker thread (``ThreadedAsyncStore``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

try:
    import sqlalchemy as sa
    from sqlalchemy.orm import registry as sa_registry
    from sqlalchemy.pool import StaticPool
    from sqlmodel import Field, SQLModel
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "SQLStateStore needs SQLModel and a database driver: pip install 'pystator[sql]'"
    ) from exc

from pydantic_core import to_jsonable_python

from pystator._json import compact_iterencode
from pystator.errors import StaleVersionError, StoreTimeoutError
from pystator.models.entity import (
    Commit,
    EntityRecord,
    IdempotencyRecord,
    OutboxItem,
    Page,
    TransitionRecord,
)
from pystator.runtime.ports import ThreadedAsyncStore
from pystator.stores.availability import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    check_timeout,
)
from pystator.stores.sql_faults import SQLFaults, closed_while_idle, watch_socket

_PREFIX_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
_SYNCHRONOUS = {"OFF", "NORMAL", "FULL", "EXTRA"}


def _jsonable(value: Any) -> Any:
    return to_jsonable_python(value)


# Compact, unicode kept as is; values JSON does not know (datetime, UUID, Decimal, ...) are
# stored in their JSON form rather than failing the commit. One encoder, made once (a context
# that contains itself fails with ``RecursionError`` or ``ValueError``, before anything is
# written either way).
_iterencode = compact_iterencode(_jsonable, allow_nan=True)


def _dumps(value: Any) -> str:
    if type(value) is str:  # (what ``JSONEncoder.encode`` does for a bare string)
        return json.encoder.encode_basestring(value)
    return "".join(_iterencode(value, 0))


def _loads(value: Any) -> Any:
    # SQLite hands JSON columns back as text; psycopg parses PostgreSQL's json itself. Every
    # JSON column holds an object or an array, never a bare string.
    return json.loads(value) if isinstance(value, str | bytes) else value


# ---------------------------------------------------------------------------- the tables
@dataclass(frozen=True, slots=True)
class _Tables:
    metadata: sa.MetaData
    entities: sa.Table
    transitions: sa.Table
    outbox: sa.Table
    idempotency: sa.Table


_TABLES: dict[str, _Tables] = {}
_TABLES_LOCK = threading.Lock()


def _tables(prefix: str) -> _Tables:
    """The table classes for ``prefix``, defined once per process and prefix."""
    with _TABLES_LOCK:
        found = _TABLES.get(prefix)
        if found is None:
            found = _TABLES[prefix] = _define_tables(prefix)
        return found


def _json_column() -> Any:
    # Plain JSON, never PostgreSQL's JSONB: JSONB reorders keys, and a store must read back
    # exactly what it wrote (key order included).
    return sa.Column(sa.JSON, nullable=False)


# SQLite: tables looked up by their primary key only are stored in its order (no rowid and
# no second B-tree for the key), one page less to write per commit. Other dialects ignore it.
_CLUSTERED = {"sqlite_with_rowid": False}


def _define_tables(prefix: str) -> _Tables:
    # One registry (and MetaData) per prefix: two stores with different prefixes in one
    # process get distinct tables, and nothing lands in SQLModel's global metadata.
    class _Base(SQLModel, registry=sa_registry()):
        pass

    class EntityRow(_Base, table=True):
        """One entity: its configuration, context and version."""

        __tablename__ = f"{prefix}entities"
        __table_args__ = (
            sa.Index(f"ix_{prefix}entities_state", "machine_name", "state", "entity_id"),
            _CLUSTERED,
        )

        machine_name: str = Field(primary_key=True)
        entity_id: str = Field(primary_key=True)
        state: str
        context: dict[str, Any] = Field(sa_column=_json_column())
        version: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
        history: dict[str, Any] = Field(sa_column=_json_column())
        timers: list[Any] = Field(sa_column=_json_column())
        created_at: float
        updated_at: float

    class TransitionRow(_Base, table=True):
        """One committed transition; the key (machine, entity, version) orders the history."""

        __tablename__ = f"{prefix}transitions"
        __table_args__ = (_CLUSTERED,)

        machine_name: str = Field(primary_key=True)
        entity_id: str = Field(primary_key=True)
        version: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True))
        source_state: str
        target_state: str
        trigger: str
        context_changes: dict[str, Any] = Field(sa_column=_json_column())
        context_removed: list[Any] = Field(sa_column=_json_column())
        at: float
        idempotency_key: str | None = None
        result: dict[str, Any] = Field(sa_column=_json_column())

    class OutboxRow(_Base, table=True):
        """An action of a committed transition, to run at least once."""

        __tablename__ = f"{prefix}outbox"
        __table_args__ = (
            sa.Index(f"ix_{prefix}outbox_pending", "status", "created_at"),
            sa.Index(f"ix_{prefix}outbox_entity", "machine_name", "entity_id"),
        )

        id: str = Field(primary_key=True)
        machine_name: str
        entity_id: str
        version: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
        position: int
        name: str
        params: dict[str, Any] = Field(sa_column=_json_column())
        context: dict[str, Any] = Field(sa_column=_json_column())
        status: str
        attempts: int
        last_error: str | None = None
        claimed_until: float
        created_at: float

    class IdempotencyRow(_Base, table=True):
        """An applied idempotency key; the primary key makes it unique per entity."""

        __tablename__ = f"{prefix}idempotency"
        __table_args__ = (_CLUSTERED,)

        machine_name: str = Field(primary_key=True)
        entity_id: str = Field(primary_key=True)
        key: str = Field(primary_key=True)
        fingerprint: str
        version: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
        result: dict[str, Any] = Field(sa_column=_json_column())

    def table_of(row: Any) -> sa.Table:
        table = row.__table__
        assert isinstance(table, sa.Table)
        return table

    return _Tables(
        metadata=_Base.metadata,
        entities=table_of(EntityRow),
        transitions=table_of(TransitionRow),
        outbox=table_of(OutboxRow),
        idempotency=table_of(IdempotencyRow),
    )


# ---------------------------------------------------------------------------- statements
ENTITY_COLUMNS = (
    "machine_name",
    "entity_id",
    "state",
    "context",
    "version",
    "history",
    "timers",
    "created_at",
    "updated_at",
)
TRANSITION_COLUMNS = (
    "machine_name",
    "entity_id",
    "version",
    "source_state",
    "target_state",
    "trigger",
    "context_changes",
    "context_removed",
    "at",
    "idempotency_key",
    "result",
)
OUTBOX_COLUMNS = (
    "id",
    "machine_name",
    "entity_id",
    "version",
    "position",
    "name",
    "params",
    "context",
    "status",
    "attempts",
    "last_error",
    "claimed_until",
    "created_at",
)
KEY_COLUMNS = ("machine_name", "entity_id", "key", "fingerprint", "version", "result")
_T_NAMES = tuple(f"t_{c}" for c in TRANSITION_COLUMNS)  # the history row's parameters
JSON_COLUMNS = frozenset(
    {"context", "history", "timers", "context_changes", "context_removed", "result", "params"}
)


class _Statements:
    """The store's SQL, rendered once for a dialect and a table prefix.

    Written with ``:name`` parameters (sqlite3's named style) and turned into ``%(name)s``
    for psycopg. Every identifier is quoted, as SQLAlchemy quoted it when creating the table.
    """

    def __init__(self, tables: _Tables, dialect: str) -> None:
        self.postgres = dialect == "postgresql"
        ent = _q(tables.entities.name)
        tr = _q(tables.transitions.name)
        ob = _q(tables.outbox.name)
        idem = _q(tables.idempotency.name)
        # Entity ids sort by code point on every store; PostgreSQL's default collation may
        # not, so its ORDER BY names the "C" collation.
        collate = ' COLLATE "C"' if self.postgres else ""
        entity_cols = _cols(ENTITY_COLUMNS)
        by_entity = '"machine_name" = :m AND "entity_id" = :e'
        self.select_entity = self._sql(f"SELECT {entity_cols} FROM {ent} WHERE {by_entity}")
        self.select_version = self._sql(f'SELECT "version" FROM {ent} WHERE {by_entity}')
        self.insert_entity = self._insert(ent, ENTITY_COLUMNS)
        self.update_entity = self._sql(
            f'UPDATE {ent} SET "state" = :state, "context" = :context, "version" = :version, '
            '"history" = :history, "timers" = :timers, "updated_at" = :updated_at '
            'WHERE "machine_name" = :machine_name AND "entity_id" = :entity_id '
            'AND "version" = :expected'
        )
        # ``commit.incarnation`` set (the orchestrator's record cache): the stored created_at
        # must be it too. (SQLite only; PostgreSQL's is in ``one_statement_commit``.)
        self.update_entity_checked = (
            self.update_entity
            + ' AND "created_at" = '
            + ("%(incarnation)s" if self.postgres else ":incarnation")
        )
        self.insert_transition = self._insert(tr, TRANSITION_COLUMNS)
        self.insert_outbox = self._insert(ob, OUTBOX_COLUMNS)
        self.insert_key = self._insert(idem, KEY_COLUMNS)
        self.select_key = self._sql(
            f'SELECT "fingerprint", "version", "result" FROM {idem} '
            f'WHERE {by_entity} AND "key" = :k'
        )
        self.select_history = self._sql(
            f"SELECT {_cols(TRANSITION_COLUMNS)} FROM {tr} WHERE {by_entity} "
            'ORDER BY "version" LIMIT :limit OFFSET :offset'
        )
        self.count_entities = self._sql(f'SELECT count(*) FROM {ent} WHERE "machine_name" = :m')
        self.count_in_state = self._sql(
            f'SELECT count(*) FROM {ent} WHERE "machine_name" = :m AND "state" = :s'
        )
        page = f'ORDER BY "entity_id"{collate} LIMIT :limit OFFSET :offset'
        self.page_entities = self._sql(
            f'SELECT {entity_cols} FROM {ent} WHERE "machine_name" = :m {page}'
        )
        self.page_in_state = self._sql(
            f'SELECT {entity_cols} FROM {ent} WHERE "machine_name" = :m AND "state" = :s {page}'
        )
        pending = (
            f"SELECT {_cols(OUTBOX_COLUMNS)} FROM {ob} "
            """WHERE "status" = 'pending' AND "claimed_until" <= :now"""
        )
        order = f'ORDER BY "created_at", "entity_id"{collate}, "version", "position" LIMIT :limit'
        self.pending = self._sql(f"{pending} {order}")
        self.pending_of = self._sql(f'{pending} AND "machine_name" = :m {order}')
        self.claim = self._sql(
            f'UPDATE {ob} SET "claimed_until" = :until '
            """WHERE "id" = :i AND "status" = 'pending' AND "claimed_until" <= :now"""
        )
        self.finish = self._sql(
            f'UPDATE {ob} SET "status" = :status, "attempts" = :attempts, '
            '"last_error" = :error WHERE "id" = :i'
        )
        self.delete = [
            self._sql(f"DELETE FROM {table} WHERE {by_entity}") for table in (tr, ob, idem, ent)
        ]

        self._tables = (ent, tr, ob, idem)
        self._commits: dict[tuple[bool, bool, int, bool, bool], str] = {}

    def one_statement_commit(
        self, create: bool, transition: bool, outbox: int, key: bool, checked: bool = False
    ) -> str:
        """PostgreSQL: the whole commit as ONE statement (data-modifying ``WITH``).

        Run in autocommit it is one round trip and one transaction: the entity's ``INSERT``
        or conditional ``UPDATE`` returns a row only if it wrote, every other ``INSERT``
        selects from that row, and the statement returns how many entity rows it wrote (0:
        the version moved on). A duplicate key anywhere aborts all of it.

        ``checked`` (``commit.incarnation`` set): the ``UPDATE`` also requires the stored
        ``created_at`` to be ``%(incarnation)s``. Both sides are compared as the text the
        server makes of a ``float8``: the same value gives the same text whatever the
        session's ``extra_float_digits``, and a ``created_at`` read back rounded (by a server
        with ``extra_float_digits = 0``) still matches the stored one.
        """
        shape = (create, transition, outbox, key, checked)
        found = self._commits.get(shape)
        if found is not None:
            return found
        ent, tr, ob, idem = self._tables

        def value(prefix: str, column: str) -> str:
            cast = "::json" if column in JSON_COLUMNS else ""
            return f"%({prefix}{column})s{cast}"

        if create:
            values = ", ".join(value("", c) for c in ENTITY_COLUMNS)
            head = f"INSERT INTO {ent} ({_cols(ENTITY_COLUMNS)}) VALUES ({values})"
        else:
            fixed = ("machine_name", "entity_id", "created_at")
            assignments = ", ".join(
                f"{_q(c)} = {value('', c)}" for c in ENTITY_COLUMNS if c not in fixed
            )
            head = (
                f"UPDATE {ent} SET {assignments} WHERE "
                + '"machine_name" = %(machine_name)s AND "entity_id" = %(entity_id)s '
                + 'AND "version" = %(expected)s'
            )
            if checked:
                head += (
                    ' AND CAST("created_at" AS float8)::text '
                    "= CAST(%(incarnation)s AS float8)::text"
                )
        parts = [f'u AS ({head} RETURNING "version")']

        def insert(name: str, table: str, columns: Sequence[str], prefix: str) -> str:
            selected = ", ".join(value(prefix, c) for c in columns)
            return f"{name} AS (INSERT INTO {table} ({_cols(columns)}) SELECT {selected} FROM u)"

        if transition:
            parts.append(insert("h", tr, TRANSITION_COLUMNS, "t_"))
        parts.extend(insert(f"o{n}", ob, OUTBOX_COLUMNS, f"o{n}_") for n in range(outbox))
        if key:
            parts.append(insert("k", idem, KEY_COLUMNS, "k_"))
        sql = "WITH " + ", ".join(parts) + " SELECT count(*) FROM u"
        if len(self._commits) < 64:
            self._commits[shape] = sql
        return sql

    def _insert(self, table: str, columns: Sequence[str]) -> str:
        values = ", ".join(f":{c}" for c in columns)
        return self._sql(f"INSERT INTO {table} ({_cols(columns)}) VALUES ({values})")

    def _sql(self, text: str) -> str:
        return re.sub(r":([a-z_]+)", r"%(\1)s", text) if self.postgres else text


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _cols(columns: Sequence[str]) -> str:
    return ", ".join(_q(c) for c in columns)


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


# ---------------------------------------------------------------------------- the store
class SQLStateStore(ThreadedAsyncStore):
    """A ``StateStore`` on SQLite or PostgreSQL through SQLModel/SQLAlchemy.

    Args:
        url: a SQLAlchemy URL: ``sqlite:///path.db`` (default ``sqlite:///pystator.db``),
            ``sqlite://`` for a private in-memory database, or
            ``postgresql+psycopg://user:password@host:5432/db``.
        echo: log the schema creation SQL (SQLAlchemy's ``echo``).
        table_prefix: prepended to the four table names (letters, digits, ``_``).
        sqlite_synchronous: SQLite's ``PRAGMA synchronous`` (``NORMAL`` or ``FULL``).
        busy_timeout: seconds a SQLite writer waits for another one before failing
            (``StoreTimeoutError``).
        engine_options: more keyword arguments for ``sqlalchemy.create_engine``.
        connect_timeout: PostgreSQL: seconds to wait for a new connection (libpq counts
            whole seconds, at least 2; a ``connect_timeout`` in the URL wins). ``None``: no
            limit.
        read_timeout: PostgreSQL: seconds a statement may run (the server's
            ``statement_timeout``); a server that does not answer is given up on one second
            later (``StoreTimeoutError``). ``None``: no limit.

    Each thread that uses the store gets its own database connection (kept until
    ``close()``); a store is meant to be shared by the threads of a process.
    """

    def __init__(
        self,
        url: str = "sqlite:///pystator.db",
        *,
        echo: bool = False,
        table_prefix: str = "pystator_",
        sqlite_synchronous: str = "NORMAL",
        busy_timeout: float = 30.0,
        engine_options: Mapping[str, Any] | None = None,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float | None = DEFAULT_READ_TIMEOUT,
    ) -> None:
        if not _PREFIX_RE.match(table_prefix):
            raise ValueError(
                f"table_prefix must be letters, digits and '_' (at most 41), got {table_prefix!r}"
            )
        synchronous = sqlite_synchronous.upper()
        if synchronous not in _SYNCHRONOUS:
            raise ValueError(f"sqlite_synchronous must be one of {sorted(_SYNCHRONOUS)}")
        self.url = url
        self.table_prefix = table_prefix
        options: dict[str, Any] = {
            "echo": echo,
            "json_serializer": _dumps,
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
        self._engine = sa.create_engine(url, **options)
        self._faults = SQLFaults(
            parsed,
            connect_timeout=check_timeout("connect_timeout", connect_timeout),
            read_timeout=check_timeout("read_timeout", read_timeout),
            busy_timeout=busy_timeout,
        )
        self._faults.install(self._engine)
        self._availability = self._faults.availability
        self._dialect = self._engine.dialect.name
        if self._dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"SQLStateStore supports SQLite and PostgreSQL, not {self._dialect}")
        self._sqlite = self._dialect == "sqlite"
        errors: Any = self._engine.dialect.dbapi  # the driver module (PEP 249 errors)
        self._errors = errors
        self._operational: type[Exception] = errors.OperationalError
        # The single in-memory connection must not be used by two threads at once.
        self._serial: threading.RLock | None = threading.RLock() if memory else None
        self._lock: contextlib.AbstractContextManager[Any] = (
            self._serial if self._serial is not None else contextlib.nullcontext()
        )
        if self._sqlite:
            self._sqlite_pragmas(synchronous, busy_timeout)
        self._t = _tables(table_prefix)
        self._sql = _Statements(self._t, self._dialect)
        self._ready = False
        self._ready_lock = threading.Lock()
        self._local = threading.local()
        self._pid = os.getpid()
        self._opened: list[Any] = []
        self._opened_lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"SQLStateStore({self._engine.url.render_as_string(hide_password=True)!r})"

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine (for inspection and maintenance)."""
        return self._engine

    @property
    def tables(self) -> dict[str, sa.Table]:
        """The four tables by role: ``entities``, ``transitions``, ``outbox``, ``idempotency``."""
        t = self._t
        return {
            "entities": t.entities,
            "transitions": t.transitions,
            "outbox": t.outbox,
            "idempotency": t.idempotency,
        }

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

        sa.event.listen(self._engine, "connect", on_connect)

    def _ensure_schema(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            for attempt in range(5):
                try:
                    with self._engine.begin() as conn:
                        if self._dialect == "postgresql":
                            # Two processes creating the schema at once would collide on
                            # PostgreSQL's catalog; a transaction-scoped lock serialises them.
                            conn.execute(
                                sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0x70797374}
                            )
                        self._t.metadata.create_all(conn, checkfirst=True)
                    break
                except (sa.exc.DBAPIError, StoreTimeoutError) as exc:
                    # SQLite: another process created a table between the check and the
                    # CREATE (or held the new file's lock); the next round sees it. A server
                    # that is down is reported at once.
                    if attempt == 4 or (isinstance(exc, StoreTimeoutError) and not self._sqlite):
                        raise
            self._ready = True

    def _connection(self) -> Any:
        """This thread's driver connection, in autocommit mode."""
        if self._pid != os.getpid():
            # A forked child must not talk over its parent's sockets: start afresh (the
            # parent's connections are the parent's to close).
            self._pid = os.getpid()
            self._local = threading.local()
            self._opened = []
            self._engine.dispose(close=False)
        conn: Any = getattr(self._local, "conn", None)
        if (
            conn is not None
            and not self._sqlite
            and (conn.closed or conn.broken or closed_while_idle(self._local.poller))
        ):
            self._discard()  # the server went away (a restart): connect again
            conn = None
        if conn is None:
            if self._closed:
                raise RuntimeError("this SQLStateStore is closed")
            self._ensure_schema()
            try:
                proxy = self._engine.raw_connection()
            except self._operational as exc:
                self._faults.fail(exc, sent=False)
                raise
            conn = proxy.dbapi_connection
            if self._serial is None:
                proxy.detach()  # ours until close(), not the pool's
            if self._sqlite:
                conn.isolation_level = None  # we say BEGIN and COMMIT ourselves
            else:
                conn.autocommit = True
                self._local.poller = watch_socket(conn)
            self._local.conn = conn
            self._local.proxy = proxy
            with self._opened_lock:
                self._opened.append(proxy)
        return conn

    def _discard(self) -> None:
        """Close this thread's connection (lost, or in an unknown state after a timeout)."""
        local = self._local
        conn, proxy = getattr(local, "conn", None), getattr(local, "proxy", None)
        local.conn = local.cursor = local.poller = local.proxy = None
        with self._opened_lock:
            self._opened = [p for p in self._opened if p is not proxy]
        if conn is not None and self._serial is None:
            with contextlib.suppress(Exception):
                conn.close()

    def _failed(self, exc: BaseException, *, write: bool) -> None:
        """A statement raised ``exc``: raise ``StoreUnavailableError`` if the database is
        unavailable (dropping a connection that may be in any state), else return."""
        if not self._sqlite:
            self._discard()
        self._faults.fail(exc, write=write)

    def _cursor(self, conn: Any) -> Any:
        """A cursor of ``conn`` kept for the thread (psycopg makes a cursor, with its own
        adapters, on every ``conn.execute``)."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None or cursor.connection is not conn or cursor.closed:
            cursor = self._local.cursor = conn.cursor()
        return cursor

    @contextlib.contextmanager
    def _use(self, *, write: bool = False) -> Iterator[Any]:
        with self._lock:
            conn = self._connection()
            try:
                yield conn
            except self._operational as exc:
                self._failed(exc, write=write)
                raise
        if self._availability.down:
            self._availability.answered()

    @contextlib.contextmanager
    def _transaction(self, conn: Any, *, read_only: bool = False) -> Iterator[None]:
        """One transaction on ``conn``: committed at the end, rolled back on any error."""
        if self._sqlite:
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
                not self._sqlite
                and isinstance(exc, self._operational)
                and self._faults.translate(exc, write=False) is not None
            ):
                # Lost or timed out: no ROLLBACK over a connection in an unknown state; the
                # server rolls back a transaction whose connection is gone.
                conn.close()
            else:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # ------------------------------------------------------------------ reads
    def load(self, machine_name: str, entity_id: str) -> EntityRecord | None:
        with self._use() as conn:
            executor = conn if self._sqlite else self._cursor(conn)
            found = executor.execute(
                self._sql.select_entity, {"m": machine_name, "e": entity_id}
            ).fetchone()
        return _entity(found) if found is not None else None

    def get_idempotency(
        self, machine_name: str, entity_id: str, key: str
    ) -> IdempotencyRecord | None:
        with self._use() as conn:
            found = conn.execute(
                self._sql.select_key, {"m": machine_name, "e": entity_id, "k": key}
            ).fetchone()
        if found is None:
            return None
        fingerprint, version, result = found
        return IdempotencyRecord(
            machine_name=machine_name,
            entity_id=entity_id,
            key=key,
            fingerprint=fingerprint,
            version=version,
            result=_loads(result),
        )

    def get_history(
        self, machine_name: str, entity_id: str, *, limit: int = 100, offset: int = 0
    ) -> list[TransitionRecord]:
        params = {"m": machine_name, "e": entity_id, "limit": limit, "offset": offset}
        with self._use() as conn:
            rows = conn.execute(self._sql.select_history, params).fetchall()
        return [_transition(row) for row in rows]

    def list_entities(
        self, machine_name: str, *, state: str | None = None, limit: int = 100, offset: int = 0
    ) -> Page:
        sql = self._sql
        params: dict[str, Any] = {"m": machine_name, "limit": limit, "offset": offset}
        if state is not None:
            params["s"] = state
        count, page = (
            (sql.count_entities, sql.page_entities)
            if state is None
            else (sql.count_in_state, sql.page_in_state)
        )
        with self._use() as conn, self._transaction(conn, read_only=True):
            (total,) = conn.execute(count, params).fetchone()
            rows = conn.execute(page, params).fetchall()
        items = [_entity(row) for row in rows]
        return Page(items=items, total=int(total), limit=limit, offset=offset)

    def pending_actions(
        self, *, now: float, machine_name: str | None = None, limit: int = 100
    ) -> list[OutboxItem]:
        params: dict[str, Any] = {"now": now, "limit": limit}
        if machine_name is not None:
            params["m"] = machine_name
        sql = self._sql.pending if machine_name is None else self._sql.pending_of
        with self._use() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_outbox_item(row) for row in rows]

    # ------------------------------------------------------------------ writes
    def commit(self, commit: Commit) -> None:
        entity = commit.entity
        expected = commit.expected_version
        # Rows are encoded before the transaction starts: the write lock is held for the
        # statements only.
        row = _entity_row(entity)
        checked = commit.incarnation is not None and expected != 0
        if expected:
            row["expected"] = expected
            if checked:
                row["incarnation"] = commit.incarnation
        transition = _transition_row(commit.transition) if commit.transition else None
        outbox = [_outbox_row(i) for i in commit.outbox]
        key = _key_row(commit.idempotency) if commit.idempotency is not None else None
        if not self._sqlite:
            self._commit_in_one_statement(commit, row, transition, outbox, key)
            return
        self._commit_sqlite(commit, row, transition, outbox, key, checked)

    def _commit_sqlite(
        self,
        commit: Commit,
        row: dict[str, Any],
        transition: dict[str, Any] | None,
        outbox: list[dict[str, Any]],
        key: dict[str, Any] | None,
        checked: bool,
    ) -> None:
        sql = self._sql
        expected = commit.expected_version
        # SQLite: BEGIN IMMEDIATE ... COMMIT, written out (``_use`` and ``_transaction`` cost
        # a few microseconds per event as context managers).
        serial = self._serial
        try:
            if serial is not None:
                serial.acquire()
            try:
                conn = self._connection()
                execute = conn.execute
                # IMMEDIATE takes the write lock up front (see ``_transaction``).
                execute("BEGIN IMMEDIATE")
                try:
                    if expected == 0:
                        execute(sql.insert_entity, row)
                    elif (
                        execute(sql.update_entity_checked if checked else sql.update_entity, row)
                    ).rowcount != 1:
                        raise _Lost
                    if transition is not None:
                        execute(sql.insert_transition, transition)
                    if outbox:
                        _many(conn, sql.insert_outbox, outbox)
                    if key is not None:
                        execute(sql.insert_key, key)
                except BaseException:
                    execute("ROLLBACK")
                    raise
                execute("COMMIT")
            finally:
                if serial is not None:
                    serial.release()
        except _Lost:
            raise self._stale(commit, refused=True) from None
        except self._operational as exc:  # locked past the busy timeout: nothing written
            self._faults.fail(exc, write=True)
            raise
        except self._errors.IntegrityError:
            # A duplicate entity (someone created it first) or an idempotency key applied
            # meanwhile is a lost race; any other integrity error is a real failure.
            if self._lost_race(commit):
                raise self._stale(commit) from None
            raise
        if self._availability.down:
            self._availability.answered()

    def _commit_in_one_statement(
        self,
        commit: Commit,
        row: dict[str, Any],
        transition: dict[str, Any] | None,
        outbox: list[dict[str, Any]],
        key: dict[str, Any] | None,
    ) -> None:
        # PostgreSQL: one round trip instead of BEGIN, UPDATE, INSERT..., COMMIT.
        params = dict(row)
        if transition is not None:
            params.update(
                zip(_T_NAMES, map(transition.__getitem__, TRANSITION_COLUMNS), strict=True)
            )
        for n, item in enumerate(outbox):
            params.update({f"o{n}_{k}": v for k, v in item.items()})
        if key is not None:
            params.update({f"k_{k}": v for k, v in key.items()})
        sql = self._sql.one_statement_commit(
            commit.expected_version == 0,
            transition is not None,
            len(outbox),
            key is not None,
            "incarnation" in params,
        )
        try:
            with self._use(write=True) as conn:
                cursor = self._cursor(conn)
                cursor.execute(sql, params)
                (written,) = cursor.fetchone()
        except self._errors.IntegrityError:
            if self._lost_race(commit):
                raise self._stale(commit) from None
            raise
        if written != 1:
            raise self._stale(commit, refused=True)

    def _lost_race(self, commit: Commit) -> bool:
        entity = commit.entity
        if self._version(entity.machine_name, entity.entity_id) != commit.expected_version:
            return True
        key = commit.idempotency
        return key is not None and (
            self.get_idempotency(entity.machine_name, entity.entity_id, key.key) is not None
        )

    def _version(self, machine_name: str, entity_id: str) -> int:
        with self._use() as conn:
            found = conn.execute(
                self._sql.select_version, {"m": machine_name, "e": entity_id}
            ).fetchone()
        return int(found[0]) if found is not None else 0

    def _stale(self, commit: Commit, refused: bool = False) -> StaleVersionError:
        entity = commit.entity
        if refused and commit.incarnation is not None:
            # The conditional UPDATE wrote nothing for a commit of the orchestrator's record
            # cache: it only needs to know, so no SELECT just for the message.
            return StaleVersionError(
                f"entity '{entity.entity_id}' is not at version {commit.expected_version} "
                f"created at {commit.incarnation!r} (changed, or deleted and created again)",
                entity_id=entity.entity_id,
                expected_version=commit.expected_version,
            )
        actual = self._version(entity.machine_name, entity.entity_id)
        if actual == commit.expected_version and commit.idempotency is not None:
            message = f"idempotency key '{commit.idempotency.key}' was applied meanwhile"
        else:
            message = (
                f"entity '{entity.entity_id}' is at version {actual}, not {commit.expected_version}"
            )
        return StaleVersionError(
            message,
            entity_id=entity.entity_id,
            expected_version=commit.expected_version,
            actual_version=actual,
        )

    def claim_action(self, item_id: str, *, now: float, until: float) -> bool:
        # One conditional UPDATE: atomic on its own, exclusive between runners.
        with self._use(write=True) as conn:
            claimed = conn.execute(self._sql.claim, {"i": item_id, "now": now, "until": until})
            return bool(claimed.rowcount == 1)

    def finish_action(
        self, item_id: str, *, success: bool, attempts: int, error: str | None = None
    ) -> None:
        status = "done" if success else "failed"
        params = {"i": item_id, "status": status, "attempts": attempts, "error": error}
        with self._use(write=True) as conn:
            conn.execute(self._sql.finish, params)

    def delete_entity(self, machine_name: str, entity_id: str) -> bool:
        params = {"m": machine_name, "e": entity_id}
        with self._use(write=True) as conn, self._transaction(conn):
            for statement in self._sql.delete[:-1]:
                conn.execute(statement, params)
            deleted = conn.execute(self._sql.delete[-1], params)
            return bool(deleted.rowcount == 1)

    def drop_tables(self) -> None:
        """Drop the four tables of this prefix (tests and tear-down; data is lost)."""
        self._close_connections()
        with self._engine.begin() as conn:
            self._t.metadata.drop_all(conn)
        self._ready = False

    def _close_connections(self) -> None:
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for proxy in opened:
            with contextlib.suppress(Exception):
                if self._serial is None:
                    proxy.dbapi_connection.close()  # detached: ours to close
                else:
                    proxy.close()  # back to the single-connection pool
        self._local = threading.local()

    def close(self) -> None:
        """Close every connection of this store (from any thread)."""
        self._closed = True
        self._close_connections()
        self._engine.dispose()


class _Lost(Exception):
    """The conditional UPDATE matched no row: the entity moved on (internal)."""


def _many(conn: Any, sql: str, rows: list[dict[str, Any]]) -> None:
    if len(rows) == 1:
        conn.execute(sql, rows[0])
    elif hasattr(conn, "executemany"):
        conn.executemany(sql, rows)  # sqlite3
    else:
        with conn.cursor() as cursor:  # psycopg
            cursor.executemany(sql, rows)


# ---------------------------------------------------------------------------- rows
def _entity_row(entity: EntityRecord) -> dict[str, Any]:
    return {
        "machine_name": entity.machine_name,
        "entity_id": entity.entity_id,
        "state": entity.state,
        "context": _dumps(entity.context),
        "version": entity.version,
        "history": _dumps(entity.history) if entity.history else "{}",
        "timers": _dumps([t.model_dump() for t in entity.timers]) if entity.timers else "[]",
        "created_at": entity.created_at,
        "updated_at": entity.updated_at,
    }


def _entity(row: Sequence[Any]) -> EntityRecord:
    m, e, state, context, version, history, timers, created_at, updated_at = row
    return EntityRecord.model_validate(
        {
            "machine_name": m,
            "entity_id": e,
            "state": state,
            "context": _loads(context),
            "version": version,
            "history": _loads(history),
            "timers": _loads(timers),
            "created_at": created_at,
            "updated_at": updated_at,
        }
    )


def _transition_row(t: TransitionRecord) -> dict[str, Any]:
    return {
        "machine_name": t.machine_name,
        "entity_id": t.entity_id,
        "version": t.version,
        "source_state": t.source_state,
        "target_state": t.target_state,
        "trigger": t.trigger,
        "context_changes": _dumps(t.context_changes),
        "context_removed": _dumps(t.context_removed) if t.context_removed else "[]",
        "at": t.at,
        "idempotency_key": t.idempotency_key,
        "result": _dumps(t.result),
    }


def _transition(row: Sequence[Any]) -> TransitionRecord:
    data = dict(zip(TRANSITION_COLUMNS, row, strict=True))
    for name in ("context_changes", "context_removed", "result"):
        data[name] = _loads(data[name])
    return TransitionRecord.model_validate(data)


def _outbox_row(item: OutboxItem) -> dict[str, Any]:
    row = {name: getattr(item, name) for name in OUTBOX_COLUMNS}
    row["params"] = _dumps(item.params)
    row["context"] = _dumps(item.context)
    return row


def _outbox_item(row: Sequence[Any]) -> OutboxItem:
    data = dict(zip(OUTBOX_COLUMNS, row, strict=True))
    data["params"] = _loads(data["params"])
    data["context"] = _loads(data["context"])
    return OutboxItem.model_validate(data)


def _key_row(key: IdempotencyRecord) -> dict[str, Any]:
    return {
        "machine_name": key.machine_name,
        "entity_id": key.entity_id,
        "key": key.key,
        "fingerprint": key.fingerprint,
        "version": key.version,
        "result": _dumps(key.result),
    }


__all__ = ["SQLStateStore"]
