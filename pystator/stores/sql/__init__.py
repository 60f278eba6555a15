"""The SQL state store (SQLite, PostgreSQL), one concern per module.

``SQLStateStore`` (``store``) keeps entities, history, outbox and idempotency keys in four
tables; ``SQLMachineCatalog`` (``catalog``) keeps the API's machine definitions beside them.
The other modules are theirs:

* ``tables``: the SQLModel table classes, generated from the record models;
* ``statements``: SQLAlchemy Core over those tables, compiled once to the driver's text;
* ``rows``: records to rows and back (``RecordCodec``), and the JSON of the ``JSON`` columns;
* ``connections``: the engine and one driver connection per thread (``SQLConnections``);
* ``faults``: timeouts, and the driver errors that mean the database is not there.

Everything here needs the ``sql`` extra (``pip install 'pystator[sql]'``): importing this
package, or any of its modules, without SQLModel says so.
"""

from __future__ import annotations

try:
    import sqlalchemy  # noqa: F401
    import sqlmodel  # noqa: F401  (the tables are SQLModel classes)
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "SQLStateStore needs SQLModel and a database driver: pip install 'pystator[sql]'"
    ) from exc

from pystator.stores.sql.catalog import SQLMachineCatalog
from pystator.stores.sql.store import SQLStateStore

__all__ = ["SQLMachineCatalog", "SQLStateStore"]
