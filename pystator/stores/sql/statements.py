"""The statements of ``SQLStateStore``: SQLAlchemy Core over the generated tables, compiled once.

Every statement is built from the tables of ``pystator.stores.sql.tables`` (no column list is
written out here) and compiled once per store for its dialect, with named parameters:
``:name`` for sqlite3 and ``%(name)s`` for psycopg. The store runs the compiled text on the
driver's own connection: going through SQLAlchemy's execution layer for each statement cost
several times the database's own time on SQLite (``benchmarks.stores_bench``, rows
``sqlite 1 entity`` and ``sqlite 1,000 entities``). The plain twin is
``sa.Connection.execute`` of the statement before ``Statements.render``.

A statement's parameters are named after its columns (``insert_entity`` takes a row of
``RecordCodec.row``); the lookups name their keys with short names (``m``: the machine, ``e``:
the entity, ``k``: the idempotency key, ``s``: the state, ``i``: an outbox item's id).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from pystator.stores.sql.tables import StoreTables

# Columns an update of an entity leaves as they are: its key, and when it was created.
_FIXED_ENTITY_COLUMNS = frozenset({"machine_name", "entity_id", "created_at"})
_COMMIT_SHAPES_KEPT = 64


def dialect_for(name: str) -> sa.Dialect:
    """The dialect statements are compiled for: named parameters, as the store's drivers
    take them (sqlite3 ``:name``, psycopg ``%(name)s``)."""
    if name == "postgresql":
        dialect: sa.Dialect = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
        return dialect
    if name == "sqlite":
        return sqlite.pysqlite.dialect(paramstyle="named")
    raise ValueError(f"SQLStateStore supports SQLite and PostgreSQL, not {name}")


def _param(name: str, column: sa.Column[Any] | None = None) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=column.type if column is not None else None)


class Statements:
    """The store's SQL for one dialect and table prefix, as driver text."""

    def __init__(self, tables: StoreTables, dialect: str) -> None:
        self.postgres = dialect == "postgresql"
        self._dialect = dialect_for(dialect)
        self._t = tables
        ent, tr, ob, idem = tables.entities, tables.transitions, tables.outbox, tables.idempotency

        self.select_entity = self.render(sa.select(ent).where(*self._by_entity(ent)))
        self.select_version = self.render(sa.select(ent.c.version).where(*self._by_entity(ent)))
        self.insert_entity = self.render(sa.insert(ent))
        update = self._update_entity()
        self.update_entity = self.render(update)
        # ``commit.incarnation`` set (the orchestrator's record cache): the stored created_at
        # must be it too. (SQLite only; PostgreSQL's is in ``one_statement_commit``.)
        self.update_entity_checked = self.render(
            update.where(ent.c.created_at == _param("incarnation"))
        )
        self.insert_transition = self.render(sa.insert(tr))
        self.insert_outbox = self.render(sa.insert(ob))
        self.insert_key = self.render(sa.insert(idem))
        self.select_key = self.render(
            sa.select(idem.c.fingerprint, idem.c.version, idem.c.result).where(
                *self._by_entity(idem), idem.c.key == _param("k")
            )
        )
        self.select_history = self.render(
            sa.select(tr)
            .where(*self._by_entity(tr))
            .order_by(tr.c.version)
            .limit(_param("limit"))
            .offset(_param("offset"))
        )
        self._entity_reads(ent)
        self._outbox_statements(ob)
        self.delete = [
            self.render(sa.delete(table).where(*self._by_entity(table)))
            for table in (tr, ob, idem, ent)
        ]
        self._commits: dict[tuple[bool, bool, int, bool, bool], str] = {}

    def render(self, statement: sa.ClauseElement) -> str:
        """``statement`` as the driver's SQL text: every parameter must be one the store
        passes (a value SQLAlchemy would add itself is refused here, not at run time)."""
        compiled = statement.compile(dialect=self._dialect)
        built_in = sorted(name for name, value in compiled.params.items() if value is not None)
        if built_in:
            raise ValueError(f"statement has parameters of its own: {built_in}")
        return str(compiled)

    # ------------------------------------------------------------------ parts
    @staticmethod
    def _by_entity(table: sa.Table) -> tuple[sa.ColumnElement[bool], ...]:
        return (table.c.machine_name == _param("m"), table.c.entity_id == _param("e"))

    def _by_id(self, column: sa.Column[Any]) -> sa.ColumnElement[Any]:
        # Entity ids sort by code point on every store; PostgreSQL's default collation may
        # not, so its ORDER BY names the "C" collation.
        return column.collate("C") if self.postgres else column

    def _update_entity(self) -> sa.Update:
        """The compare-and-set of an entity: written only at the version the writer read."""
        ent = self._t.entities
        return (
            sa.update(ent)
            .where(
                ent.c.machine_name == _param("machine_name"),
                ent.c.entity_id == _param("entity_id"),
                ent.c.version == _param("expected"),
            )
            .values(
                {c.name: _param(c.name, c) for c in ent.c if c.name not in _FIXED_ENTITY_COLUMNS}
            )
        )

    def _entity_reads(self, ent: sa.Table) -> None:
        in_machine = ent.c.machine_name == _param("m")
        in_state = ent.c.state == _param("s")
        count = sa.select(sa.func.count()).select_from(ent).where(in_machine)
        self.count_entities = self.render(count)
        self.count_in_state = self.render(count.where(in_state))
        page = (
            sa.select(ent)
            .where(in_machine)
            .order_by(self._by_id(ent.c.entity_id))
            .limit(_param("limit"))
            .offset(_param("offset"))
        )
        self.page_entities = self.render(page)
        self.page_in_state = self.render(page.where(in_state))

    def _outbox_statements(self, ob: sa.Table) -> None:
        pending = ob.c.status == sa.literal_column("'pending'")
        due = ob.c.claimed_until <= _param("now")
        select = (
            sa.select(ob)
            .where(pending, due)
            .order_by(ob.c.created_at, self._by_id(ob.c.entity_id), ob.c.version, ob.c.position)
            .limit(_param("limit"))
            # (SQLite's dialect adds an OFFSET parameter of its own to a LIMIT without one.)
            .offset(sa.literal_column("0"))
        )
        self.pending = self.render(select)
        self.pending_of = self.render(select.where(ob.c.machine_name == _param("m")))
        self.claim = self.render(
            sa.update(ob)
            .where(ob.c.id == _param("i"), pending, due)
            .values(claimed_until=_param("until"))
        )
        self.finish = self.render(
            sa.update(ob)
            .where(ob.c.id == _param("i"))
            .values(
                status=_param("status"), attempts=_param("attempts"), last_error=_param("error")
            )
        )

    # ------------------------------------------------------------------ PostgreSQL commits
    def one_statement_commit(
        self, create: bool, transition: bool, outbox: int, key: bool, checked: bool = False
    ) -> str:
        """PostgreSQL: the whole commit as ONE statement (data-modifying ``WITH``).

        Run in autocommit it is one round trip and one transaction: the entity's ``INSERT``
        or conditional ``UPDATE`` returns a row only if it wrote, every other ``INSERT``
        selects from that row, and the statement returns how many entity rows it wrote (0:
        the version moved on). A duplicate key anywhere aborts all of it.

        Parameters: the entity row's (and ``expected``) as in ``insert_entity`` and
        ``update_entity``; the history row's prefixed ``t_``, the n-th outbox row's ``o<n>_``
        and the idempotency key's ``k_``.

        ``checked`` (``commit.incarnation`` set): the ``UPDATE`` also requires the stored
        ``created_at`` to be ``incarnation``. Both sides are compared as the text the server
        makes of a ``float8``: the same value gives the same text whatever the session's
        ``extra_float_digits``, and a ``created_at`` read back rounded (by a server with
        ``extra_float_digits = 0``) still matches the stored one.
        """
        shape = (create, transition, outbox, key, checked)
        found = self._commits.get(shape)
        if found is not None:
            return found
        t = self._t
        ent = t.entities
        head: sa.Insert | sa.Update
        if create:
            head = sa.insert(ent).values({c.name: _param(c.name, c) for c in ent.c})
        else:
            head = self._update_entity()
            if checked:
                head = head.where(
                    _float_text(ent.c.created_at) == _float_text(_param("incarnation"))
                )
        written = head.returning(ent.c.version).cte("u")
        ctes = []
        if transition:
            ctes.append(_insert_from(t.transitions, written, "t_", "h"))
        ctes.extend(_insert_from(t.outbox, written, f"o{n}_", f"o{n}") for n in range(outbox))
        if key:
            ctes.append(_insert_from(t.idempotency, written, "k_", "k"))
        statement = sa.select(sa.func.count()).select_from(written)
        if ctes:
            statement = statement.add_cte(*ctes)
        sql = self.render(statement)
        if len(self._commits) < _COMMIT_SHAPES_KEPT:
            self._commits[shape] = sql
        return sql


def _insert_from(table: sa.Table, written: sa.CTE, prefix: str, name: str) -> sa.CTE:
    """``<name> AS (INSERT INTO table (...) SELECT <prefix><column>, ... FROM written)``: a
    row inserted only if the entity was written."""
    values = [_param(prefix + c.name, c) for c in table.c]
    return (
        sa.insert(table)
        .from_select([c.name for c in table.c], sa.select(*values).select_from(written))
        .cte(name)
    )


def _float_text(value: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    return sa.cast(sa.cast(value, postgresql.DOUBLE_PRECISION), sa.Text)


def parameter_names(prefix: str, columns: Sequence[str]) -> tuple[str, ...]:
    """The parameters of a row of ``columns`` in ``one_statement_commit``."""
    return tuple(prefix + c for c in columns)


__all__ = ["Statements", "dialect_for", "parameter_names"]
