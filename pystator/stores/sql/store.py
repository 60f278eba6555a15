"""``SQLStateStore``: entities, history, outbox and idempotency keys in SQL tables (SQLModel).

SQLite file by default (``sqlite:///pystator.db``), PostgreSQL by URL
(``postgresql+psycopg://user@host/db``). Four tables, named ``<prefix>entities``,
``<prefix>transitions``, ``<prefix>outbox`` and ``<prefix>idempotency``, are created on first
use. They are SQLModel classes generated from the record models (``EntityRecord`` and friends,
see ``pystator.stores.sql.tables``), owned by this adapter; ``pystator.models`` never sees
them. The statements are SQLAlchemy Core over those tables (``pystator.stores.sql.statements``),
and the API's machine catalogue shares the store's engine (``SQLStateStore.machines``).

``commit`` is ONE database transaction: an ``INSERT`` of a new entity (a duplicate key means
someone else created it first) or ``UPDATE ... WHERE machine_name = :m AND entity_id = :e AND
version = :expected`` whose row count must be 1 (when ``commit.incarnation`` is set, also
``AND created_at = :incarnation``: a deleted and re-created entity is not the one the writer
read), then the history row, the outbox rows and the idempotency key. Anything that fails
rolls all of it back; a lost race raises ``StaleVersionError``. The conditional ``UPDATE`` is
a compare-and-set on both databases: PostgreSQL re-evaluates the ``WHERE`` after waiting for
a concurrent writer, SQLite has one writer at a time (a commit starts with ``BEGIN
IMMEDIATE``).

Connections, SQLite's pragmas, timeouts and outages: ``pystator.stores.sql.connections`` and
``pystator.stores.sql.faults``. The async methods run the sync ones in a worker thread
(``ThreadedAsyncStore``).

Speed: SQLite's ``commit`` runs in ``SQLConnections.use`` and ``SQLConnections.transaction``,
as every other write. (It was written out on the driver's connection, a speed trick; measured
against this plain form with ``python -m benchmarks.tricks`` it gained 4% on the ``sqlite 1
entity`` row of ``python -m benchmarks.stores_bench``, under the 5% a trick must earn, so it
went: issue 15.) PostgreSQL's ``commit`` is one statement, one round trip
(``Statements.one_statement_commit``; rows ``postgres 1 entity`` and ``postgres 1,000
entities``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from pystator.errors import StaleVersionError
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
from pystator.stores.sql.catalog import SQLMachineCatalog
from pystator.stores.sql.connections import SYNCHRONOUS, SQLConnections
from pystator.stores.sql.rows import RecordCodec, loads
from pystator.stores.sql.statements import Statements, parameter_names
from pystator.stores.sql.tables import StoreTables, store_tables

_PREFIX_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")


class SQLStateStore(ThreadedAsyncStore):
    """A ``StateStore`` on SQLite or PostgreSQL through SQLModel/SQLAlchemy.

    Args:
        url: a SQLAlchemy URL: ``sqlite:///path.db`` (default ``sqlite:///pystator.db``),
            ``sqlite://`` for a private in-memory database, or
            ``postgresql+psycopg://user:password@host:5432/db``.
        echo: log the schema creation SQL (SQLAlchemy's ``echo``).
        table_prefix: prepended to the table names (letters, digits, ``_``).
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
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"sqlite_synchronous must be one of {sorted(SYNCHRONOUS)}")
        self.url = url
        self.table_prefix = table_prefix
        self._t: StoreTables = store_tables(table_prefix)
        self._db = SQLConnections(
            url,
            self._create_schema,
            echo=echo,
            synchronous=synchronous,
            busy_timeout=busy_timeout,
            engine_options=engine_options,
            connect_timeout=check_timeout("connect_timeout", connect_timeout),
            read_timeout=check_timeout("read_timeout", read_timeout),
        )
        self._sqlite = self._db.sqlite
        self._sql = Statements(self._t, self._db.dialect)
        self._entities = RecordCodec(EntityRecord, self._t.entities)
        self._transitions = RecordCodec(TransitionRecord, self._t.transitions)
        self._outbox = RecordCodec(OutboxItem, self._t.outbox)
        self._keys = RecordCodec(IdempotencyRecord, self._t.idempotency)
        # The parameters of the history, outbox and key rows in PostgreSQL's one-statement
        # commit (``Statements.one_statement_commit``).
        self._t_names = parameter_names("t_", self._transitions.columns)
        self._k_names = parameter_names("k_", self._keys.columns)
        self._o_names: list[tuple[str, ...]] = []
        self._machines: SQLMachineCatalog | None = None

    def __repr__(self) -> str:
        return f"SQLStateStore({self.engine.url.render_as_string(hide_password=True)!r})"

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine (for inspection and maintenance)."""
        return self._db.engine

    @property
    def statements(self) -> Statements:
        """The store's compiled SQL (``Statements``), as the driver runs it (read-only)."""
        return self._sql

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

    @property
    def machines(self) -> SQLMachineCatalog:
        """The machine definitions the API serves, in ``<prefix>api_machines`` of this
        store's database, over this store's engine (the table is created on first use)."""
        found = self._machines
        if found is None:
            found = self._machines = SQLMachineCatalog(self._db, self._t.machines)
        return found

    def _create_schema(self, conn: sa.Connection) -> None:
        self._t.metadata.create_all(conn, tables=self._t.store_tables, checkfirst=True)

    # ------------------------------------------------------------------ reads
    def load(self, machine_name: str, entity_id: str) -> EntityRecord | None:
        db = self._db
        with db.use() as conn:
            executor = conn if self._sqlite else db.cursor(conn)
            found = executor.execute(
                self._sql.select_entity, {"m": machine_name, "e": entity_id}
            ).fetchone()
        return self._entities.load(found) if found is not None else None

    def get_idempotency(
        self, machine_name: str, entity_id: str, key: str
    ) -> IdempotencyRecord | None:
        with self._db.use() as conn:
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
            result=loads(result),
        )

    def get_history(
        self, machine_name: str, entity_id: str, *, limit: int = 100, offset: int = 0
    ) -> list[TransitionRecord]:
        params = {"m": machine_name, "e": entity_id, "limit": limit, "offset": offset}
        with self._db.use() as conn:
            rows = conn.execute(self._sql.select_history, params).fetchall()
        return [self._transitions.load(row) for row in rows]

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
        with self._db.use() as conn, self._db.transaction(conn, read_only=True):
            (total,) = conn.execute(count, params).fetchone()
            rows = conn.execute(page, params).fetchall()
        items = [self._entities.load(row) for row in rows]
        return Page(items=items, total=int(total), limit=limit, offset=offset)

    def pending_actions(
        self, *, now: float, machine_name: str | None = None, limit: int = 100
    ) -> list[OutboxItem]:
        params: dict[str, Any] = {"now": now, "limit": limit}
        if machine_name is not None:
            params["m"] = machine_name
        sql = self._sql.pending if machine_name is None else self._sql.pending_of
        with self._db.use() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [self._outbox.load(row) for row in rows]

    # ------------------------------------------------------------------ writes
    def commit(self, commit: Commit) -> None:
        expected = commit.expected_version
        # Rows are encoded before the transaction starts: the write lock is held for the
        # statements only.
        row = self._entities.row(commit.entity)
        checked = commit.incarnation is not None and expected != 0
        if expected:
            row["expected"] = expected
            if checked:
                row["incarnation"] = commit.incarnation
        if not self._sqlite:
            self._commit_in_one_statement(commit, row)
            return
        transition = self._transitions.row(commit.transition) if commit.transition else None
        outbox = [self._outbox.row(i) for i in commit.outbox]
        key = self._keys.row(commit.idempotency) if commit.idempotency is not None else None
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
        """SQLite's commit: the statements in one ``BEGIN IMMEDIATE`` transaction
        (``SQLConnections.use`` and ``SQLConnections.transaction``, as every other write)."""
        sql = self._sql
        db = self._db
        try:
            with db.use(write=True) as conn, db.transaction(conn):
                if commit.expected_version == 0:
                    conn.execute(sql.insert_entity, row)
                elif (
                    conn.execute(sql.update_entity_checked if checked else sql.update_entity, row)
                ).rowcount != 1:
                    raise _Lost
                if transition is not None:
                    conn.execute(sql.insert_transition, transition)
                if outbox:
                    conn.executemany(sql.insert_outbox, outbox)
                if key is not None:
                    conn.execute(sql.insert_key, key)
        except _Lost:
            raise self._stale(commit, refused=True) from None
        except db.errors.IntegrityError:
            if self._lost_race(commit):
                raise self._stale(commit) from None
            raise

    def _commit_in_one_statement(self, commit: Commit, params: dict[str, Any]) -> None:
        # PostgreSQL: one round trip instead of BEGIN, UPDATE, INSERT..., COMMIT.
        if commit.transition is not None:
            params.update(
                zip(self._t_names, self._transitions.values(commit.transition), strict=True)
            )
        for n, item in enumerate(commit.outbox):
            params.update(zip(self._outbox_names(n), self._outbox.values(item), strict=True))
        if commit.idempotency is not None:
            params.update(zip(self._k_names, self._keys.values(commit.idempotency), strict=True))
        sql = self._sql.one_statement_commit(
            commit.expected_version == 0,
            commit.transition is not None,
            len(commit.outbox),
            commit.idempotency is not None,
            "incarnation" in params,
        )
        db = self._db
        try:
            with db.use(write=True) as conn:
                (written,) = db.cursor(conn).execute(sql, params).fetchone()
        except db.errors.IntegrityError:
            if self._lost_race(commit):
                raise self._stale(commit) from None
            raise
        if written != 1:
            raise self._stale(commit, refused=True)

    def _outbox_names(self, n: int) -> tuple[str, ...]:
        names = self._o_names
        while len(names) <= n:
            names.append(parameter_names(f"o{len(names)}_", self._outbox.columns))
        return names[n]

    def _lost_race(self, commit: Commit) -> bool:
        entity = commit.entity
        if self._version(entity.machine_name, entity.entity_id) != commit.expected_version:
            return True
        key = commit.idempotency
        return key is not None and (
            self.get_idempotency(entity.machine_name, entity.entity_id, key.key) is not None
        )

    def _version(self, machine_name: str, entity_id: str) -> int:
        with self._db.use() as conn:
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
        with self._db.use(write=True) as conn:
            claimed = conn.execute(self._sql.claim, {"i": item_id, "now": now, "until": until})
            return bool(claimed.rowcount == 1)

    def finish_action(
        self, item_id: str, *, success: bool, attempts: int, error: str | None = None
    ) -> None:
        status = "done" if success else "failed"
        params = {"i": item_id, "status": status, "attempts": attempts, "error": error}
        with self._db.use(write=True) as conn:
            conn.execute(self._sql.finish, params)

    def delete_entity(self, machine_name: str, entity_id: str) -> bool:
        params = {"m": machine_name, "e": entity_id}
        with self._db.use(write=True) as conn, self._db.transaction(conn):
            for statement in self._sql.delete[:-1]:
                conn.execute(statement, params)
            deleted = conn.execute(self._sql.delete[-1], params)
            return bool(deleted.rowcount == 1)

    def drop_tables(self) -> None:
        """Drop this prefix's tables, the machine catalogue's included (tests and
        tear-down; data is lost)."""
        db = self._db
        db.close_connections()
        with db.lock, db.engine.begin() as conn:
            self._t.metadata.drop_all(conn, checkfirst=True)
        db.ready = False
        if self._machines is not None:
            self._machines.forget_table()

    def close(self) -> None:
        """Close every connection of this store (from any thread)."""
        self._db.close()


class _Lost(Exception):
    """The conditional UPDATE matched no row: the entity moved on (internal)."""


__all__ = ["SQLStateStore"]
