"""What only the SQL and Redis adapters have: URLs, prefixes, schemas, keys, errors."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from pystator.errors import StaleVersionError
from pystator.models.entity import Commit, EntityRecord, TransitionRecord
from tests.integration.backends import StoreBackend, unique


def record(entity_id: str = "e-1", version: int = 1, **context: Any) -> EntityRecord:
    return EntityRecord(
        machine_name="m",
        entity_id=entity_id,
        state="A",
        context=context,
        version=version,
        created_at=1.0,
        updated_at=float(version),
    )


# ---------------------------------------------------------------------------- SQL
def test_an_in_memory_sqlite_store_is_shared_by_threads() -> None:
    from pystator.stores import SQLStateStore

    store = SQLStateStore("sqlite://")
    try:
        store.commit(Commit(entity=record(n=0), expected_version=0))
        errors: list[BaseException] = []

        def bump(n: int) -> None:
            for _ in range(20):
                while True:
                    current = store.load("m", "e-1")
                    assert current is not None
                    try:
                        store.commit(
                            Commit(
                                entity=record(version=current.version + 1, n=n),
                                expected_version=current.version,
                            )
                        )
                        break
                    except StaleVersionError:
                        continue
                    except BaseException as exc:  # pragma: no cover - reported below
                        errors.append(exc)
                        return

        threads = [threading.Thread(target=bump, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert store.load("m", "e-1").version == 81
    finally:
        store.close()


def test_the_schema_is_created_on_first_use(tmp_path: Path) -> None:
    from sqlalchemy import inspect

    from pystator.stores import SQLStateStore

    path = tmp_path / "fresh.db"
    store = SQLStateStore(f"sqlite:///{path}", table_prefix="app_")
    try:
        assert not path.exists()  # nothing happens before the first call
        assert store.load("m", "nobody") is None
        names = set(inspect(store.engine).get_table_names())
        assert names == {"app_entities", "app_transitions", "app_outbox", "app_idempotency"}
        assert set(store.tables) == {"entities", "transitions", "outbox", "idempotency"}
    finally:
        store.close()


def test_a_new_sqlite_file_switches_to_wal_while_another_process_writes(tmp_path: Path) -> None:
    """Switching a new file to WAL while another connection holds its write lock: SQLite says
    "database is locked" at once (no busy wait), so the store waits and tries again."""
    import sqlite3

    from pystator.stores import SQLStateStore

    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE other (x)")
    other.execute("BEGIN IMMEDIATE")  # the write lock, in the default rollback-journal mode
    other.execute("INSERT INTO other VALUES (1)")
    released = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    released.start()
    store = SQLStateStore(f"sqlite:///{path}", busy_timeout=10)
    try:
        assert store.load("m", "e-1") is None  # connects: the first connection switches to WAL
        store.commit(Commit(entity=record(), expected_version=0))
        loaded = store.load("m", "e-1")
        assert loaded is not None
        assert loaded.version == 1
    finally:
        released.join()
        store.close()
        other.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_table_prefixes_keep_stores_apart(tmp_path: Path) -> None:
    from pystator.stores import SQLStateStore

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    one, two = SQLStateStore(url, table_prefix="one_"), SQLStateStore(url, table_prefix="Two_")
    try:
        one.commit(Commit(entity=record(who="one"), expected_version=0))
        assert two.load("m", "e-1") is None
        two.commit(Commit(entity=record(who="two"), expected_version=0))
        assert one.load("m", "e-1").context == {"who": "one"}
        assert two.load("m", "e-1").context == {"who": "two"}
    finally:
        one.close()
        two.close()


@pytest.mark.parametrize("prefix", ["", "1abc", "a-b", "x" * 50, "drop table;"])
def test_a_bad_table_prefix_is_refused(prefix: str) -> None:
    from pystator.stores import SQLStateStore

    with pytest.raises(ValueError, match="table_prefix"):
        SQLStateStore("sqlite://", table_prefix=prefix)


def test_a_closed_store_refuses_work() -> None:
    from pystator.stores import SQLStateStore

    store = SQLStateStore("sqlite://")
    store.load("m", "e")
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.load("m", "e")


# ---------------------------------------------------------------------------- SQL and Redis
def test_values_json_does_not_know_are_stored_in_their_json_form(
    persistent_backend: StoreBackend,
) -> None:
    store = persistent_backend.store()
    when = dt.datetime(2024, 5, 17, 12, 30, tzinfo=dt.UTC)
    store.commit(Commit(entity=record(when=when, tags=("a", "b")), expected_version=0))
    loaded = store.load("m", "e-1")
    assert loaded.context == {"when": "2024-05-17T12:30:00Z", "tags": ["a", "b"]}


def test_another_integrity_error_is_not_taken_for_a_lost_race(sql_backend: StoreBackend) -> None:
    """A history row that already exists while the entity is at the expected version is a
    broken database, not a race: the error is raised, not turned into a retry."""
    store = sql_backend.store()
    store.commit(Commit(entity=record(), expected_version=0))
    row = TransitionRecord(
        machine_name="m",
        entity_id="e-1",
        version=2,
        source_state="A",
        target_state="A",
        trigger="t",
        at=1.0,
    )
    store.commit(Commit(entity=record(version=2), expected_version=1, transition=row))
    # Put the entity back at version 1 behind the store's back, keeping history row 2.
    with store.engine.begin() as conn:
        entities = store.tables["entities"]
        conn.execute(entities.update().values(version=1))
    with pytest.raises(Exception, match=r"(?i)unique|duplicate") as caught:
        store.commit(Commit(entity=record(version=2), expected_version=1, transition=row))
    assert not isinstance(caught.value, StaleVersionError)
    assert store.load("m", "e-1").version == 1


def test_redis_keys_stay_under_the_prefix(redis_url: str) -> None:
    from pystator.stores import RedisStateStore

    machine = unique("machine_")
    prefix, elsewhere = unique("pystator-test:") + ":", unique("pystator-test:") + ":"
    store = RedisStateStore(redis_url, prefix=prefix)
    other = RedisStateStore(redis_url, prefix=elsewhere)
    try:
        entity = record().model_copy(update={"machine_name": machine})
        for s in (store, other):
            s.commit(Commit(entity=entity, expected_version=0, transition=None))
        keys = {k.decode() for k in store.client.scan_iter(match=f"*{machine}*", count=1000)}
        assert {k for k in keys if not k.startswith((prefix, elsewhere))} == set()
        assert any(k.startswith(prefix) for k in keys)

        assert store.clear() >= 3
        assert store.load(machine, "e-1") is None
        assert not list(store.client.scan_iter(match=f"{prefix}*"))
        assert other.load(machine, "e-1") == entity  # another prefix is another store
    finally:
        other.clear()
        other.close()
        store.close()


def test_redis_commands_survive_a_flushed_script_cache_and_a_dropped_connection(
    redis_url: str,
) -> None:
    # Loads and commits run on a connection each thread keeps (not one per command from the
    # pool): a lost connection reconnects, a server that forgot the script gets it again.
    from pystator.stores import RedisStateStore

    store = RedisStateStore(redis_url, prefix=unique("pystator-test:") + ":")
    try:
        store.commit(Commit(entity=record(n=0), expected_version=0))
        store.client.script_flush()
        store.commit(Commit(entity=record(version=2, n=1), expected_version=1))
        store._connection().disconnect()
        loaded = store.load("m", "e-1")
        assert loaded is not None
        assert (loaded.version, loaded.context) == (2, {"n": 1})
        with pytest.raises(StaleVersionError):
            store.commit(Commit(entity=record(version=2, n=2), expected_version=1))
        # Each thread has its own connection.
        seen: list[Any] = []
        worker = threading.Thread(target=lambda: seen.append(store._connection()))
        worker.start()
        worker.join()
        assert seen[0] is not store._connection()
    finally:
        store.clear()
        store.close()


@pytest.mark.parametrize("poll", [True, False], ids=["poll", "no-poll"])
def test_redis_reconnects_a_kept_connection_the_server_closed(
    redis_url: str, poll: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A restart or the server's idle timeout closes the connection a thread keeps: the next
    # load and commit connect again instead of failing (the pool's own check when it hands a
    # connection out). Where there is no select.poll (or eventlet removed it after the store
    # was imported), redis-py's can_read does the check.
    import select

    import redis

    from pystator.stores import RedisStateStore

    if not poll:
        monkeypatch.delattr(select, "poll", raising=False)

    store = RedisStateStore(redis_url, prefix=unique("pystator-test:") + ":")
    admin = redis.Redis.from_url(redis_url)
    try:
        store.commit(Commit(entity=record(n=0), expected_version=0))

        def kill_the_kept_connection() -> int:
            kept = store._connection()
            kept.send_command("CLIENT", "ID")
            client_id = int(kept.read_response())
            assert admin.client_kill_filter(_id=client_id) == 1
            return client_id

        first = kill_the_kept_connection()
        loaded = store.load("m", "e-1")  # a read after the server closed the connection
        assert loaded is not None
        assert loaded.version == 1
        second = kill_the_kept_connection()
        assert second != first  # the load connected again
        store.commit(Commit(entity=record(version=2, n=1), expected_version=1))  # a write
        again = store.load("m", "e-1")
        assert again is not None
        assert (again.version, again.context) == (2, {"n": 1})
    finally:
        admin.close()
        store.clear()
        store.close()


def test_redis_reconnects_a_kept_connection_closed_under_it(redis_url: str) -> None:
    # Another thread's pool.disconnect() (or anything else) may close the kept socket before
    # the store ever polled it: the next command connects again.
    from pystator.stores import RedisStateStore

    store = RedisStateStore(redis_url, prefix=unique("pystator-test:") + ":")
    try:
        store.commit(Commit(entity=record(n=0), expected_version=0))
        kept = store._connection()
        kept.disconnect()
        kept.connect()  # a new socket the store has not polled yet...
        kept._sock.close()  # ...closed under it (its fileno() is now -1)
        loaded = store.load("m", "e-1")
        assert loaded is not None
        assert loaded.version == 1
        store.commit(Commit(entity=record(version=2, n=1), expected_version=1))
        assert store._connection()._sock.fileno() >= 0
    finally:
        store.clear()
        store.close()


def test_redis_gives_a_thread_s_connection_back_when_the_thread_ends(redis_url: str) -> None:
    # A thread-per-request server: each short-lived thread's connection goes back to the
    # pool when the thread ends (not held until close()).
    import gc

    from pystator.stores import RedisStateStore

    store = RedisStateStore(redis_url, prefix=unique("pystator-test:") + ":")
    pool: Any = store.client.connection_pool
    try:
        store.commit(Commit(entity=record(n=0), expected_version=0))
        in_use = len(pool._in_use_connections)
        seen: list[Any] = []

        def request() -> None:
            loaded = store.load("m", "e-1")
            assert loaded is not None
            seen.append(store._connection())

        for _ in range(5):
            worker = threading.Thread(target=request)
            worker.start()
            worker.join()
            gc.collect()
            # The ended thread's connection waits in ``_returns`` for the next safe point.
            assert len(pool._in_use_connections) <= in_use + 1
        assert len(seen) == 5
        # Each thread got the connection the one before it gave back: none leaked.
        assert len({id(conn) for conn in seen}) == 1
        assert len(store._held) <= 2  # the main thread's, and at most one of a dead thread
        # close() gives back the connections of threads still alive.
        assert store._connection() in pool._in_use_connections
        store.close()
        assert len(pool._in_use_connections) == 0
    finally:
        store.clear()
        store.close()


def test_redis_never_takes_the_pool_s_lock_from_the_garbage_collector(redis_url: str) -> None:
    # A holder whose thread ended inside a reference cycle (an exception's traceback, say) is
    # freed by the collector, which may run at any allocation: also inside the pool's
    # get_connection, under the pool's lock. Giving the connection back right there took
    # that lock again in the same thread: a deadlock of every thread using the store.
    import gc

    from pystator.stores import RedisStateStore

    store = RedisStateStore(redis_url, prefix=unique("pystator-test:") + ":")
    pool: Any = store.client.connection_pool
    store.commit(Commit(entity=record(n=0), expected_version=0))
    in_use = len(pool._in_use_connections)
    collected = threading.Event()

    def request() -> None:
        cycle: list[Any] = [store._holder()]
        cycle.append(cycle)  # only the collector can free it once the thread has ended

    def collect_under_the_pool_lock() -> None:
        with pool._lock:
            gc.collect()
        collected.set()

    gc.disable()
    try:
        worker = threading.Thread(target=request)
        worker.start()
        worker.join()
        collector = threading.Thread(target=collect_under_the_pool_lock, daemon=True)
        collector.start()
        collector.join(60)
    finally:
        gc.enable()
    # On failure the pool's lock is held forever by the stuck thread: close nothing.
    assert collected.is_set(), "the collector took the pool's lock again: deadlock"
    try:
        assert store.load("m", "e-1") is not None  # a safe point: the connection goes back
        assert len(pool._in_use_connections) == in_use
    finally:
        store.clear()
        store.close()
    assert len(pool._in_use_connections) == 0


# ---------------------------------------------------------------------------- Redis: the trick
# ``HeldConnections`` (a connection each thread keeps) is a speed trick; ``PooledCommands``
# (a connection from the pool for each command) is its plain twin: they must not differ.
_TWIN_SCRIPT = """
redis.call('HSET', KEYS[1], 'n', ARGV[1])
return {1, tonumber(ARGV[1]), ARGV[2], redis.call('HGET', KEYS[1], 'n'), false}
"""


def _answers(commands: Any, client: Any, key: str) -> list[Any]:
    """What one way of sending commands answers to the same commands, or how it fails."""
    from redis.exceptions import ResponseError

    from pystator.errors import StoreUnavailableError

    script = client.register_script(_TWIN_SCRIPT)
    try:
        replies: list[Any] = [
            commands.run("HSET", key, "d", b"\x00bytes", write=True),
            commands.run("HGET", key, "d"),
            commands.run("HGET", key, "missing"),
            commands.evalsha(script, [key], [41, "text"]),
        ]
        # A SHA the server does not know (as after a restart): the script is loaded again.
        # (Not SCRIPT FLUSH: that pulls the scripts from under anything else on the server.)
        script.sha = "0" * 40
        replies.append(commands.evalsha(script, [key], [42, "again"]))
        with pytest.raises(ResponseError) as wrong_type:
            commands.run("INCR", key, write=True)
        replies += [str(wrong_type.value), commands.run("HGET", key, "n")]
    except StoreUnavailableError as exc:
        return [str(exc)]
    finally:
        commands.release_all()
    return replies


@pytest.mark.parametrize("up", [True, False], ids=["up", "down"])
def test_redis_held_connections_answer_as_the_pooled_twin(redis_url: str, up: bool) -> None:
    import socket

    import redis

    from pystator.stores.redis.connections import HeldConnections, PooledCommands
    from pystator.stores.redis_faults import RedisFaults

    if not up:
        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            redis_url = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=1)
    faults, key = RedisFaults.of_client(client), unique("pystator-test:") + ":hash"
    try:
        held = _answers(HeldConnections(client, faults), client, key)
        if up:
            client.delete(key)
        assert held == _answers(PooledCommands(client, faults), client, key)
        if up:
            assert held[:4] == [1, b"\x00bytes", None, [1, 41, b"text", b"41", None]]
        else:
            assert len(held) == 1
            assert "refused the connection" in held[0]
    finally:
        if up:
            client.delete(key)
        client.close()


@pytest.mark.parametrize("poll", [True, False], ids=["poll", "no-poll"])
def test_a_kept_connection_is_closed_when_its_idle_socket_can_be_read(
    poll: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ``Holder.closed`` (one poll of the socket) against what the pool checks (``can_read``).
    import select
    import socket
    from collections import deque

    from pystator.stores.redis.connections import Holder

    class Conn:
        _sock: Any = None

        def can_read(self) -> bool:
            assert not poll, "where there is a poll, can_read is not used"
            return bool(select.select([self._sock], [], [], 0)[0])

    if not poll:
        monkeypatch.delattr(select, "poll", raising=False)
    conn, returns = Conn(), deque[Any]()
    holder = Holder(conn, returns)
    assert not holder.closed()  # not connected yet: sending connects
    ours, server = socket.socketpair()
    with ours, server:
        conn._sock = ours
        assert not holder.closed()  # idle, nothing to read
        server.sendall(b"+unasked\r\n")
        assert holder.closed()  # something nobody asked for
        ours.recv(64)
        assert not holder.closed()
        server.close()
        assert holder.closed()  # the other end closed it
    if poll:
        holder.sock = None  # a socket not polled yet, closed under it (its fileno() is -1)
        assert holder.closed()
    holder.release()
    holder.release()
    assert list(returns) == [conn]  # given back once


def _json_decoded(row: Any) -> tuple[Any, ...]:
    """A row with its JSON columns decoded, as SQLAlchemy's JSON type gives them (the store
    decodes them itself, in ``RecordCodec.load``)."""
    return tuple(json.loads(v) if isinstance(v, str) and v[:1] in ("{", "[") else v for v in row)


class _UnrenderedStatements:
    """The SQL store's statements as SQLAlchemy Core objects, before ``Statements.render``:
    the plain twin of running compiled text on the driver's connection."""

    def __new__(cls, tables: Any, dialect: str) -> Any:
        from pystator.stores.sql.statements import Statements

        class Plain(Statements):
            def render(self, statement: Any) -> Any:
                return statement

        return Plain(tables, dialect)


def test_sql_statements_on_the_driver_answer_as_sqlalchemy_s_execute(
    sql_backend: StoreBackend,
) -> None:
    """The SQL store's two connection tricks against their plain twins, on every read it
    makes: statement text compiled once and run on the driver's own connection (twin:
    SQLAlchemy's ``Connection.execute`` of the statement), and on PostgreSQL a psycopg cursor
    kept per thread (twin: ``conn.execute``). Same rows, same order."""
    from pystator import Orchestrator, StateMachine

    store: Any = sql_backend.store()
    machine = StateMachine.from_dict(
        {
            "meta": {"machine_name": "m"},
            "states": [{"name": "A", "type": "initial"}, {"name": "B"}],
            "transitions": [
                {"trigger": "go", "source": "A", "dest": "B", "actions": ["notify"]},
                {"trigger": "back", "source": "B", "dest": "A"},
            ],
        }
    )
    orchestrator = Orchestrator(machine, store, run_actions=False)
    for n in range(3):
        orchestrator.process_event(f"e-{n}", "go", {"n": n, "name": "é"}, idempotency_key="k")
    orchestrator.process_event("e-0", "back")
    db, sql = store._db, store._sql
    plain = _UnrenderedStatements(store._t, "postgresql" if sql.postgres else "sqlite")
    reads = {
        "select_entity": {"m": "m", "e": "e-0"},
        "select_version": {"m": "m", "e": "e-0"},
        "select_key": {"m": "m", "e": "e-1", "k": "k"},
        "select_history": {"m": "m", "e": "e-0", "limit": 10, "offset": 0},
        "count_entities": {"m": "m"},
        "count_in_state": {"m": "m", "s": "B"},
        "page_entities": {"m": "m", "limit": 10, "offset": 0},
        "page_in_state": {"m": "m", "s": "B", "limit": 10, "offset": 1},
        "pending": {"now": 1e12, "limit": 10},
        "pending_of": {"m": "m", "now": 1e12, "limit": 10},
    }
    for name, params in reads.items():
        with db.use() as conn:
            driver = conn if db.sqlite else db.cursor(conn)
            trick = [_json_decoded(row) for row in driver.execute(getattr(sql, name), params)]
            if not db.sqlite:
                cursor_twin = [
                    _json_decoded(row) for row in conn.execute(getattr(sql, name), params)
                ]
                assert trick == cursor_twin, name
        with db.engine.connect() as sa_conn:
            twin = [tuple(row) for row in sa_conn.execute(getattr(plain, name), params)]
        assert trick == twin, name
        assert trick, f"{name} read nothing: the comparison would prove nothing"
