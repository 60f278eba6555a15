"""What a PostgreSQL driver error becomes: a reason from a fixed set, never the driver's text
(which names the host, the port, the user and the database, and ``/ready`` answers anyone).

The messages are the ones psycopg and libpq give; no server is needed.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pystator import StoreTimeoutError, StoreUnavailableError
from pystator.stores.sql.faults import SQLFaults

psycopg = pytest.importorskip("psycopg")

AT = 'connection failed: connection to server at "10.20.30.40", port 6543 failed: '
AUTH = "authentication failed"
SECRETS = ("10.20.30.40", "6543", "db.internal", "app_user", "orders_db", "FATAL")


def translate(exc: BaseException, *, write: bool = True) -> StoreUnavailableError | None:
    url = sa.make_url("postgresql+psycopg://app_user@db.internal:6543/orders_db")
    faults = SQLFaults(url, connect_timeout=5, read_timeout=10, busy_timeout=5)
    return faults.translate(exc, write=write)


def failure(message: str) -> StoreUnavailableError:
    error = translate(psycopg.OperationalError(message))
    assert error is not None
    assert not any(secret in error.reason for secret in SECRETS), error.reason
    assert "\n" not in error.message
    return error


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (
            AT + 'FATAL:  password authentication failed for user "app_user"',
            "authentication failed",
        ),
        (AT + 'FATAL:  role "app_user" does not exist', "authentication failed"),
        (AT + "fe_sendauth: no password supplied", "authentication failed"),
        (
            AT + 'FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "app_user", '
            'database "orders_db", no encryption',
            "authentication failed",
        ),
        (AT + 'FATAL:  database "orders_db" does not exist', "database does not exist"),
        (
            "failed to resolve host 'db.internal': [Errno -2] Name or service not known",
            "host name could not be resolved",
        ),
        (
            'connection failed: could not translate host name "db.internal" to address: '
            "Name or service not known",
            "host name could not be resolved",
        ),
        (
            AT + "Connection refused\n\tIs the server running on that host and accepting "
            "TCP/IP connections?",
            "refused the connection",
        ),
        (AT + "FATAL:  the database system is starting up", "is shutting down or starting up"),
        (AT + "FATAL:  sorry, too many clients already", "failed"),
        (AT + "SSL error: certificate verify failed for orders_db", "failed"),
    ],
)
def test_a_failure_to_connect_has_a_fixed_reason(message: str, reason: str) -> None:
    error = failure(message)
    assert type(error) is StoreUnavailableError
    assert error.reason == reason
    assert not error.outcome_unknown  # nothing was sent
    assert error.message == (
        f"store unavailable: PostgreSQL at db.internal:6543 {reason}; retry later"
    )


def test_a_connection_that_timed_out_is_a_timeout() -> None:
    error = failure(AT + "timeout expired")
    assert isinstance(error, StoreTimeoutError)
    assert error.reason == "did not answer in time"
    assert not error.outcome_unknown


def test_a_connection_lost_after_a_write_was_sent_leaves_its_outcome_unknown() -> None:
    error = failure(
        "consuming input failed: server closed the connection unexpectedly\n"
        "\tThis probably means the server terminated abnormally"
    )
    assert error.reason == "closed the connection"
    assert error.outcome_unknown


def test_the_psycopg_connect_timeout_names_the_configured_wait() -> None:
    error = translate(psycopg.errors.ConnectionTimeout("connection timeout expired"))
    assert isinstance(error, StoreTimeoutError)
    assert error.reason == "did not accept a connection within 5 s"


def test_an_error_the_server_answered_is_not_an_outage() -> None:
    assert translate(psycopg.errors.UniqueViolation("duplicate key value")) is None
    assert translate(psycopg.errors.SerializationFailure("could not serialize")) is None
