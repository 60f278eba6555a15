"""How ``SQLStateStore`` and its catalogue meet a database that is down, slow or frozen.

* **Timeouts** (PostgreSQL). Every connection is opened with ``connect_timeout`` (libpq counts
  whole seconds, at least 2), and gets the read timeout as its ``statement_timeout``, set with
  ``SET`` once connected (not as a startup ``options`` parameter, which PgBouncer and some
  managed proxies refuse): a slow statement is cancelled by the server, which answers with a
  definite error (nothing was written). A server that does not answer at all (frozen, or the
  network drops packets) is given up on by the client one second after that: the driver
  connection's waits are bounded (``_timed_connection_class``), where psycopg would wait
  forever.
* **Kept connections are checked** before each use, with one ``poll`` of the socket: a server
  that restarted closed them, so the next statement goes over a new connection instead of
  failing (what SQLAlchemy's ``pool_pre_ping`` does with a round trip).
* **Driver errors that mean "the database is not there"** become ``StoreUnavailableError``
  (``StoreTimeoutError`` for timeouts) with a reason from a fixed set (``_REASONS``: what
  happened, never the driver's text, which names hosts, users and databases), are reported to
  the backend's ``Availability`` (one log line per outage), and are marked
  ``outcome_unknown`` when a write was sent and its answer lost. SQLite is a file, not a
  server: only a writer that waited past the busy timeout becomes a ``StoreTimeoutError``.
"""

from __future__ import annotations

import logging
import math
import re
import select
from typing import Any

import sqlalchemy as sa

from pystator.errors import StoreTimeoutError, StoreUnavailableError
from pystator.stores.availability import Availability, availability, seconds

CLIENT_MARGIN = 1.0
"""Seconds the client waits for an answer beyond the server's ``statement_timeout``."""

# SQLSTATE classes of errors that mean the server cannot serve: connection exceptions,
# insufficient resources, operator intervention (shutdown, restart), system errors.
_UNAVAILABLE_CLASSES = ("08", "53", "57", "58")
_SHUTTING_DOWN = {"57P01", "57P02", "57P03"}
_TIMED_CLASSES: dict[float | None, Any] = {}
_SET_STATEMENT_TIMEOUT = "pystator_statement_timeout"  # key in a connection record's info

# What a driver message means, found by words libpq and psycopg use (first match wins), as
# (pattern, is it a timeout, reason). Only the reason is shown: the driver's message names
# the host, the port, the user or the database, and /ready answers anyone.
_REASONS: tuple[tuple[re.Pattern[str], bool, str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), timeout, reason)
    for pattern, timeout, reason in (
        (
            r"shutting down|starting up|in recovery mode|not yet accepting connections",
            False,
            "is shutting down or starting up",
        ),
        (r"refused", False, "refused the connection"),
        (r"timeout expired|timed out", True, "did not answer in time"),
        (
            r"failed to resolve host|could not translate host name|name or service not known"
            r"|nodename nor servname|name resolution",
            False,
            "host name could not be resolved",
        ),
        (
            r'authentication failed|no pg_hba\.conf entry|role ".*" does not exist'
            r"|not permitted to log in|password",
            False,
            "authentication failed",
        ),
        (r'database ".*" does not exist', False, "database does not exist"),
    )
)
CLOSED = "closed the connection"
FAILED = "failed"

logger = logging.getLogger("pystator.stores")


def target_of(url: sa.URL) -> str:
    """The database as messages name it, without credentials: ``PostgreSQL at host:port``."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database
        return f"SQLite at {database}" if database not in (None, "", ":memory:") else "SQLite"
    name = "PostgreSQL" if backend == "postgresql" else backend
    host = url.host or str(url.query.get("host") or "the local socket")
    return f"{name} at {host}:{url.port or 5432}"


def _timed_connection_class(read_wait: float | None) -> Any:
    """A psycopg ``Connection`` whose every wait for the server ends after ``read_wait``
    seconds (psycopg's own ``wait`` takes the bound but is called without one)."""
    found = _TIMED_CLASSES.get(read_wait)
    if found is not None:
        return found
    import psycopg

    # psycopg's own (private) error for a wait past its bound; () matches nothing.
    wait_timeout: Any = getattr(psycopg.errors, "_WaitTimeout", ())

    class TimedConnection(psycopg.Connection[Any]):
        def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
            try:
                return super().wait(gen, interval, read_wait if timeout is None else timeout)
            except wait_timeout:
                # A statement is in flight and its answer may still come: the connection
                # cannot carry another one. Closed, it is replaced (by the store, the pool).
                self.close()
                raise

    _TIMED_CLASSES[read_wait] = TimedConnection
    return TimedConnection


def watch_socket(conn: Any) -> Any:
    """A ``poll`` object watching a psycopg connection's socket, or ``None`` (no ``poll`` on
    this platform, or no socket)."""
    make = getattr(select, "poll", None)
    if make is None:
        return None
    try:
        poller = make()
        poller.register(conn.pgconn.socket, select.POLLIN)
    except Exception:  # closed, or no socket yet (psycopg raises its own error)
        return None
    return poller


def closed_while_idle(poller: Any) -> bool:
    """Whether an idle connection's socket has something to read: the server closed it (a
    restart, an idle timeout, an administrator) or is about to (a FATAL notice). Either
    way it cannot carry the next statement. Nothing is read."""
    return poller is not None and bool(poller.poll(0))


class SQLFaults:
    """The timeouts of one database and the translation of its driver's errors."""

    def __init__(
        self,
        url: sa.URL,
        *,
        connect_timeout: float | None,
        read_timeout: float | None,
        busy_timeout: float,
    ) -> None:
        self.target = target_of(url)
        self.postgres = url.get_backend_name() == "postgresql"
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.busy_timeout = busy_timeout
        self.availability: Availability = availability(self.target)

    # ------------------------------------------------------------------ engines
    def install(self, engine: sa.Engine) -> None:
        """Timeouts on every new connection of ``engine`` (PostgreSQL), and its errors
        translated for whoever uses it through SQLAlchemy."""
        if self.postgres:
            sa.event.listen(engine, "do_connect", self._connect)
        sa.event.listen(engine, "handle_error", self._on_error)
        sa.event.listen(engine, "connect", self._connected)

    def _connect(self, dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        if self.connect_timeout is not None:
            cparams.setdefault("connect_timeout", self._connect_seconds())
        read_wait = None
        if self.read_timeout is not None:
            read_wait = self.read_timeout + CLIENT_MARGIN
            # A statement_timeout of the URL's own ``options`` wins; ours is set once
            # connected (``_connected``), not in ``options``: PgBouncer refuses that
            # startup parameter.
            if record is not None and "statement_timeout" not in str(cparams.get("options")):
                record.info[_SET_STATEMENT_TIMEOUT] = True
        return _timed_connection_class(read_wait).connect(*cargs, **cparams)

    def _connect_seconds(self) -> int:
        # libpq counts whole seconds and waits at least 2.
        return max(2, math.ceil(self.connect_timeout or 0))

    def _connected(self, dbapi_connection: Any, record: Any) -> None:
        if record is not None and record.info.pop(_SET_STATEMENT_TIMEOUT, False):
            self._set_statement_timeout(dbapi_connection)
        self.availability.answered()

    def _set_statement_timeout(self, dbapi_connection: Any) -> None:
        """The read timeout as the session's ``statement_timeout``, committed so that it
        lasts for the whole session (SQLAlchemy rolls back what a connection did before it
        is handed out)."""
        millis = max(1, math.ceil((self.read_timeout or 0) * 1000))
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET statement_timeout = {millis}")
            dbapi_connection.commit()
        except BaseException:
            dbapi_connection.close()  # half set up: nobody gets it
            raise

    def _on_error(self, context: Any) -> None:
        error = self.translate(context.original_exception, write=False)
        if error is None:
            return
        # Lost, or timed out with a statement in flight: SQLAlchemy must not use that
        # connection again (it invalidates it).
        context.is_disconnect = True
        if context.is_pre_ping:
            return  # the pool is checking a kept connection: it connects again
        self.availability.failed(error)
        raise error from context.original_exception

    # ------------------------------------------------------------------ errors
    def fail(self, exc: BaseException, *, write: bool = False, sent: bool = True) -> None:
        """Raise ``exc`` as ``StoreUnavailableError`` if it means the database is unavailable
        (and report it); return otherwise. ``write``: ``exc`` interrupted a write, whose
        outcome is unknown if ``sent`` and the server did not say it failed."""
        error = self.translate(exc, write=write and sent)
        if error is None:
            return
        self.availability.failed(error)
        raise error from exc

    def translate(self, exc: BaseException, *, write: bool) -> StoreUnavailableError | None:
        """The ``StoreUnavailableError`` that ``exc`` (a driver error) stands for, or ``None``."""
        if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
            exc = exc.orig
        if self.postgres:
            return self._postgres(exc, write)
        text = str(exc).lower()
        if exc.__class__.__name__ == "OperationalError" and ("locked" in text or "busy" in text):
            return StoreTimeoutError(
                target=self.target,
                reason="was locked by another writer for longer than the busy timeout "
                f"({seconds(self.busy_timeout)})",
            )
        return None

    def _postgres(self, exc: BaseException, write: bool) -> StoreUnavailableError | None:
        import psycopg
        from psycopg import errors

        if not isinstance(exc, psycopg.OperationalError):
            return None
        sqlstate = exc.sqlstate
        if sqlstate is not None and not (
            sqlstate.startswith(_UNAVAILABLE_CLASSES)
            or isinstance(exc, errors.QueryCanceled | errors.LockNotAvailable)
        ):
            return None  # a deadlock, a serialization failure: the server is there
        timeout, reason = self._postgres_reason(exc)
        # A client-side failure after the statement went out (a timeout, a dropped
        # connection) leaves its outcome unknown; a server's error reply means nothing of it
        # was committed, and a failure to connect means nothing was sent.
        unknown = write and sqlstate is None and not _connecting(exc)
        kind = StoreTimeoutError if timeout else StoreUnavailableError
        return kind(target=self.target, reason=reason, outcome_unknown=unknown)

    def _postgres_reason(self, exc: Any) -> tuple[bool, str]:
        """(is it a timeout, the reason in words) of a psycopg ``OperationalError``: one of a
        fixed set, never the driver's text."""
        from psycopg import errors

        if isinstance(exc, errors.ConnectionTimeout):
            waited = f" within {self._connect_seconds()} s" if self.connect_timeout else ""
            return True, f"did not accept a connection{waited}"
        if isinstance(exc, getattr(errors, "_WaitTimeout", ())):  # from our bounded waits
            read = self.read_timeout or 0.0
            return True, f"did not answer within {seconds(read + CLIENT_MARGIN)}"
        if isinstance(exc, errors.QueryCanceled):
            return True, f"cancelled a statement that ran past {seconds(self.read_timeout or 0)}"
        if isinstance(exc, errors.LockNotAvailable):
            return True, "could not take a lock in time"
        if exc.sqlstate in _SHUTTING_DOWN:
            return False, "is shutting down or starting up"
        return classify(exc)


def classify(exc: BaseException) -> tuple[bool, str]:
    """(is it a timeout, the reason in words) of a psycopg error by its message, from the
    fixed set of ``_REASONS``, else ``closed the connection`` (no answer from the server
    after connecting) or ``failed``."""
    text = str(exc)
    for pattern, timeout, reason in _REASONS:
        if pattern.search(text):
            return timeout, reason
    if getattr(exc, "sqlstate", None) is None and not _connecting(exc):
        return False, CLOSED
    # Kept for whoever debugs; the reason shown stays fixed.
    logger.debug("database error taken as 'failed': %s", " ".join(text.split()))
    return False, FAILED


def _connecting(exc: BaseException) -> bool:
    """Whether a psycopg error was raised while connecting (nothing was sent)."""
    from psycopg import errors

    return isinstance(exc, errors.ConnectionTimeout) or str(exc).startswith(
        ("connection failed", "failed to resolve host")
    )


__all__ = [
    "CLIENT_MARGIN",
    "SQLFaults",
    "classify",
    "closed_while_idle",
    "target_of",
    "watch_socket",
]
