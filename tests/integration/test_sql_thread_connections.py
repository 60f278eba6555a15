"""The SQL store's per-thread connections are closed when their threads end.

``SQLConnections`` keeps one driver connection per thread. A server whose thread pool retires
idle threads and starts new ones (AnyIO's, after 10 idle seconds) used to keep the connection
of every thread it ever ran: the connections of a ``pystator api`` process grew with each
burst of concurrent requests. Here threads that end are counted out at once by the store
(``SQLConnections.held``) and, on PostgreSQL, by the server (``pg_stat_activity``, by the
store's own ``application_name``). Nothing sleeps for an idle window: the threads end when
the test lets them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pystator.stores import SQLStateStore
from tests.integration.backends import unique

THREADS = 6
WAIT = 60.0
"""Deadline of a wait for the server to see a connection go: only a broken test waits it out."""


def connections(store: SQLStateStore) -> Any:
    """The store's ``SQLConnections`` (the tests count through it)."""
    return store._db


def run_threads(
    store: SQLStateStore, count: int, while_alive: Callable[[], None]
) -> list[threading.Thread]:
    """Start ``count`` threads that each read through ``store`` and wait; call
    ``while_alive`` once all of them hold their connection, then let them end and join them."""
    ready = threading.Barrier(count + 1)
    release = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            store.load("m", "e-missing")
            store.list_entities("m")  # a second statement on the same thread's connection
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        ready.wait(timeout=WAIT)
        release.wait(timeout=WAIT)

    threads = [threading.Thread(target=work, name=f"reader-{n}") for n in range(count)]
    for thread in threads:
        thread.start()
    try:
        ready.wait(timeout=WAIT)
        assert not errors, errors
        while_alive()
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=WAIT)
    assert not any(thread.is_alive() for thread in threads)
    return threads


# ---------------------------------------------------------------------------- SQLite
@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLStateStore]:
    store = SQLStateStore(f"sqlite:///{tmp_path / 'threads.db'}")
    try:
        yield store
    finally:
        store.close()


def test_a_thread_s_connection_is_closed_when_the_thread_ends(
    sqlite_store: SQLStateStore,
) -> None:
    db = connections(sqlite_store)
    sqlite_store.load("m", "e-missing")  # this thread keeps its connection
    assert db.held == 1

    seen: list[int] = []
    run_threads(sqlite_store, THREADS, lambda: seen.append(db.held))

    assert seen == [THREADS + 1]
    assert db.held == 1  # only the live main thread's connection is left
    for _ in range(3):  # burst after burst, the count does not grow
        run_threads(sqlite_store, THREADS, lambda: None)
        assert db.held == 1


def test_a_live_thread_keeps_one_connection_for_every_statement(
    sqlite_store: SQLStateStore,
) -> None:
    db = connections(sqlite_store)
    for _ in range(5):
        sqlite_store.load("m", "e-missing")
        sqlite_store.list_entities("m")
    assert db.held == 1
    first = db.connection()
    sqlite_store.load("m", "e-missing")
    assert db.connection() is first


def test_close_closes_the_connections_of_live_threads(sqlite_store: SQLStateStore) -> None:
    db = connections(sqlite_store)
    kept: list[Any] = []

    def close_while_alive() -> None:
        assert db.held == THREADS
        kept.extend(_driver_connections(db))
        sqlite_store.close()
        assert db.held == 0

    run_threads(sqlite_store, THREADS, close_while_alive)
    assert len(kept) == THREADS
    for conn in kept:
        with pytest.raises(Exception, match="closed"):
            conn.execute("SELECT 1")


def _driver_connections(db: Any) -> list[Any]:
    """The connections the store's closers would close (their finalizers' arguments)."""
    found: list[Any] = []
    for close in db._held:
        details = close.peek()
        if details is not None:
            found.append(details[2][0])
    return found


def test_discarding_a_thread_s_connection_closes_it_once(sqlite_store: SQLStateStore) -> None:
    db = connections(sqlite_store)
    conn = db.connection()
    db.discard()  # a lost connection: closed now, and a new one on next use
    assert db.held == 0
    with pytest.raises(Exception, match="closed"):
        conn.execute("SELECT 1")
    assert db.connection() is not conn
    assert db.held == 1


def test_an_in_memory_database_keeps_its_one_connection_when_threads_end() -> None:
    store = SQLStateStore("sqlite:///:memory:")
    try:
        run_threads(store, 3, lambda: None)
        assert connections(store).held == 0
        assert store.load("m", "e-missing") is None  # the shared connection still works
    finally:
        store.close()


# ---------------------------------------------------------------------------- PostgreSQL
@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[tuple[SQLStateStore, Callable[[], int]]]:
    """A store whose connections carry an ``application_name`` of their own, and a function
    that counts that name's connections in ``pg_stat_activity``."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = unique("pystator_threads_")
    url = make_url(postgres_url)
    store = SQLStateStore(
        url.update_query_dict({"application_name": name}).render_as_string(hide_password=False),
        table_prefix=f"{name}_",
    )
    admin_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
    admin = psycopg.connect(admin_url, autocommit=True)

    def server_count() -> int:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchone()
        assert row is not None
        return int(row[0])

    try:
        yield store, server_count
    finally:
        store.drop_tables()
        store.close()
        admin.close()


def wait_for_count(count: Callable[[], int], expected: int) -> None:
    """The server removes a closed connection's backend a moment after the client closed it:
    wait for the count, with a deadline only a leak reaches."""
    deadline = time.monotonic() + WAIT
    seen = count()
    while seen != expected:
        assert time.monotonic() < deadline, f"{seen} connections, expected {expected}"
        time.sleep(0.02)
        seen = count()


@pytest.mark.postgres
def test_postgresql_sees_the_connections_of_ended_threads_closed(
    postgres_store: tuple[SQLStateStore, Callable[[], int]],
) -> None:
    store, server_count = postgres_store
    db = connections(store)
    store.load("m", "e-missing")
    baseline = server_count()  # the main thread's connection (and the pool's, if any)

    def all_connected() -> None:
        wait_for_count(server_count, baseline + THREADS)
        assert db.held == THREADS + 1

    for _ in range(3):  # three bursts, as the measured leak had (17, 28, 39 connections)
        run_threads(store, THREADS, all_connected)
        wait_for_count(server_count, baseline)
        assert db.held == 1  # only the live main thread's connection


@pytest.mark.postgres
def test_a_forked_child_never_closes_its_parent_s_connections(
    postgres_store: tuple[SQLStateStore, Callable[[], int]],
) -> None:
    """The child's first statement drops the parent's connections without closing them
    (closing one would end the parent's session: the socket is shared)."""
    import os

    store, _ = postgres_store
    db = connections(store)
    store.load("m", "e-missing")
    parent_conn = db.connection()

    pid = os.fork()
    if pid == 0:  # the child: a statement on a connection of its own, then gone
        code = 1
        try:
            store.load("m", "e-missing")
            code = 0 if db.connection() is not parent_conn and db.held == 1 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0

    assert db.connection() is parent_conn  # still open: not closed by the child
    assert store.load("m", "e-missing") is None
    assert not parent_conn.closed


@pytest.mark.postgres
def test_a_fork_while_another_thread_holds_a_connection_leaves_it_open(
    postgres_store: tuple[SQLStateStore, Callable[[], int]],
) -> None:
    """After ``os.fork()`` the child drops the other threads' thread-locals at once; the
    finalizers of their connections must not close them (that would end the parent's
    session, whose socket the child shares)."""
    import os
    import threading

    store, _ = postgres_store
    db = connections(store)
    held: list[Any] = []
    connected, done = threading.Event(), threading.Event()

    def hold() -> None:
        store.load("m", "e-missing")
        held.append(db.connection())
        connected.set()
        done.wait()
        store.load("m", "e-missing")  # still usable after the child came and went
        held.append(db.connection())

    worker = threading.Thread(target=hold)
    worker.start()
    try:
        assert connected.wait(60)
        pid = os.fork()
        if pid == 0:  # the child: its own connection, then gone
            code = 1
            try:
                store.load("m", "e-missing")
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert not held[0].closed
    finally:
        done.set()
        worker.join(60)
    assert held[1] is held[0]  # the same connection, not a new one after a lost session
