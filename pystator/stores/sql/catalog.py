"""``SQLMachineCatalog``: the machine definitions the API serves, in the store's database.

Rows of ``MachineRecord`` in ``<prefix>api_machines`` (``pystator_api_machines`` with the
default prefix, the table earlier versions of the API created beside the store's), over the
``SQLStateStore``'s engine: one pool, one set of timeouts, outages reported as the store's
(``StoreUnavailableError``). The table is created on the catalogue's first use (the API does
it as it starts), so a store that serves no API never has it. Reads and writes are
SQLAlchemy Core statements over the generated table; none of them is on the path of an
event but ``stamp``, which the API asks on every entity request (its compiled machines are
cached per stamp).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from pystator.models.entity import MachineRecord
from pystator.stores.sql.connections import SQLConnections
from pystator.stores.sql.rows import RecordCodec

# Columns an update keeps: the key, and when the machine was first stored.
_FIXED = frozenset({"id", "created_at"})


class SQLMachineCatalog:
    """Stored machine definitions, by id (their ``meta.machine_name``)."""

    def __init__(self, db: SQLConnections, table: sa.Table) -> None:
        self._db = db
        self.table = table
        self._codec = RecordCodec(MachineRecord, table)
        self._ready = False
        self._ready_lock = threading.Lock()
        c = table.c
        by_id = c.id == sa.bindparam("id")
        self._stamp_of = sa.select(c.revision, c.created_at).where(by_id)
        self._select = sa.select(table).where(by_id)
        self._count = sa.select(sa.func.count()).select_from(table)
        self._page = (
            sa.select(table)
            .order_by(c.id)
            .limit(sa.bindparam("limit"))
            .offset(sa.bindparam("offset"))
        )
        self._insert = sa.insert(table)
        # A compare-and-set on the revision: two replicas updating one machine at once
        # never both write revision n + 1.
        self._replace = (
            sa.update(table)
            .where(c.id == sa.bindparam("machine_id"), c.revision == sa.bindparam("read"))
            .values({col.name: sa.bindparam(col.name) for col in c if col.name not in _FIXED})
        )
        self._delete = sa.delete(table).where(by_id)

    # ------------------------------------------------------------------ reads
    def ping(self) -> None:
        """Ask the database for ``SELECT 1`` (raises ``StoreUnavailableError`` if it is down)."""
        with self._db.pooled() as conn:
            conn.execute(sa.text("SELECT 1"))

    def stamp(self, machine_id: str) -> tuple[int, float] | None:
        """``(revision, created_at)`` of ``machine_id``, or ``None`` when it is not stored.

        It changes with every update (the revision) and when the machine is deleted and
        stored again (the revision starts at 1 again, ``created_at`` is new): what a copy of
        the definition compiled earlier is checked against.
        """
        with self._connection() as conn:
            found = conn.execute(self._stamp_of, {"id": machine_id}).fetchone()
        return None if found is None else (int(found[0]), float(found[1]))

    def get(self, machine_id: str) -> MachineRecord | None:
        with self._connection() as conn:
            row = conn.execute(self._select, {"id": machine_id}).fetchone()
        return None if row is None else self._codec.load(row)

    def page(self, *, limit: int, offset: int) -> tuple[list[MachineRecord], int]:
        """A page of machines in id order, and how many are stored."""
        with self._connection() as conn:
            total = conn.execute(self._count).scalar_one()
            rows = conn.execute(self._page, {"limit": limit, "offset": offset}).fetchall()
        return [self._codec.load(row) for row in rows], int(total)

    # ------------------------------------------------------------------ writes
    def insert(self, record: MachineRecord) -> bool:
        """Store ``record``; ``False`` (nothing written) when its id is stored already."""
        try:
            with self._connection() as conn:
                conn.execute(self._insert, self._codec.row(record))
        except sa.exc.IntegrityError:
            return False
        return True

    def update(
        self, machine_id: str, change: Callable[[MachineRecord], MachineRecord]
    ) -> MachineRecord | None:
        """Replace the stored ``machine_id`` by ``change(stored)`` at the next revision (its
        id and ``created_at`` are kept); ``None`` when it is not stored. ``change`` is called
        again if another writer updated the machine meanwhile."""
        while True:
            stored = self.get(machine_id)
            if stored is None:
                return None
            changed = change(stored)
            updated = changed.model_copy(
                update={
                    "id": stored.id,
                    "created_at": stored.created_at,
                    "revision": stored.revision + 1,
                }
            )
            row = self._codec.row(updated)
            params: dict[str, Any] = {k: v for k, v in row.items() if k not in _FIXED}
            params.update(machine_id=machine_id, read=stored.revision)
            with self._connection() as conn:
                written = conn.execute(self._replace, params).rowcount
            if written == 1:
                return updated

    def delete(self, machine_id: str) -> bool:
        """Delete the stored ``machine_id`` (not its entities); ``False`` if it was not."""
        with self._connection() as conn:
            return bool(conn.execute(self._delete, {"id": machine_id}).rowcount == 1)

    def forget_table(self) -> None:
        """The table was dropped: create it again on next use."""
        self._ready = False

    # ------------------------------------------------------------------ connections
    def ensure_table(self) -> None:
        """Create the table unless it exists (done on first use otherwise)."""
        if self._ready:
            return
        with self._ready_lock:
            if not self._ready:
                self._db.create_tables(lambda conn: self.table.create(conn, checkfirst=True))
                self._ready = True

    def _connection(self) -> Any:
        self.ensure_table()
        return self._db.pooled()


__all__ = ["SQLMachineCatalog"]
