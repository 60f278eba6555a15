"""``python -m benchmarks.stores_bench [--quick] [--only memory,sqlite,postgres,redis]``.

Events per second through the ``Orchestrator`` on each store, on one entity and round-robin
over 1,000 entities, each printed beside the raw ceiling of the same backend measured in the
same run with the same settings:

* SQLite (a file in a temporary directory, WAL, ``synchronous=NORMAL`` as the store sets it)
  and PostgreSQL: a bare version-checked single-row ``UPDATE ... WHERE id = ? AND version = ?``
  through the plain driver (``sqlite3``, ``psycopg``), in autocommit: one statement, one
  transaction, no read.
* Redis: a bare compare-and-set Lua script (``HGET`` the version, ``HSET`` if it matches),
  sent with ``EVALSHA`` over one connection held for the run (no pool round trip per command,
  no response callbacks: the least client work redis-py allows, which is also how the store
  sends its commits).

An orchestrated event does more: it reads the entity, runs the machine and commits the entity
together with a history row (one transaction / one script). The headline figure and the
targets are for the default orchestrator (no record cache): at least 70% of the ceiling on
each persistent store, at least 50,000 events/s on the in-memory store.

A second figure per row is the same loop with the opt-in record cache
(``Orchestrator(record_cache=10_000)``, on entities of its own): the orchestrator is the only
writer here, so after the first event of an entity it skips the read. That is the best case
for the cache (one writer per entity); see docs/guides/orchestrator.md for when it does not
pay. Its share of the ceiling is printed with the same target, marked as the opt-in's.

Another figure is printed for reference, "minimum work per event": the same driver doing, with
the rows made in the loop (a dict each; for Redis also encoded with ``json.dumps``) and no
orchestrator or store code around it, exactly what the store must do for one event: the
version-checked write of the entity and the append of its history row, atomically, with the
store's own statements on a store's own tables or keys (SQLite: ``BEGIN IMMEDIATE``,
``UPDATE``, ``INSERT``, ``COMMIT``; PostgreSQL: the store's one-statement commit in
autocommit; Redis: the store's commit script over a held connection). It shows how much of
the ceiling any store that keeps history can reach on this machine.

PostgreSQL comes from ``PYSTATOR_BENCH_POSTGRES_URL`` (default: ``PYSTATOR_TEST_POSTGRES_URL``
or ``postgresql+psycopg://postgres@127.0.0.1:5432/test``): a database
``pystator_bench_<random>`` is created next to it and dropped at the end. Redis comes from
``PYSTATOR_BENCH_REDIS_URL`` (default: ``PYSTATOR_TEST_REDIS_URL`` or
``redis://127.0.0.1:6379/0``), under a key prefix of its own that is deleted at the end. A
server that is not reachable is reported and skipped.

Repeats of the orchestrator and of the ceiling are interleaved, so a burst of other work on
the machine hits both; best and median of the repeats are printed. These are benchmarks, not
tests: a missed target is reported, not an error.
"""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from pystator import StateMachine
from pystator.runtime.orchestrator import Orchestrator
from pystator.stores import InMemoryStateStore

MACHINE: dict[str, Any] = {
    "meta": {"version": "1.0.0", "machine_name": "bench", "strict_mode": True},
    "states": [{"name": "ACTIVE", "type": "initial"}, {"name": "CLOSED", "type": "terminal"}],
    "transitions": [
        {"trigger": "tick", "source": "ACTIVE", "dest": "ACTIVE"},
        {"trigger": "close", "source": "ACTIVE", "dest": "CLOSED"},
    ],
}
MEMORY_TARGET = 50_000.0
RECORD_CACHE = 10_000  # the opt-in figure's ``record_cache``
RATIO_TARGET = 0.70
STORES = ("memory", "sqlite", "postgres", "redis")
SHAPES = (("1 entity", 1), ("1,000 entities", 1000))

_DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
POSTGRES_URL = os.environ.get(
    "PYSTATOR_BENCH_POSTGRES_URL", os.environ.get("PYSTATOR_TEST_POSTGRES_URL", _DEFAULT_PG)
)
REDIS_URL = os.environ.get(
    "PYSTATOR_BENCH_REDIS_URL", os.environ.get("PYSTATOR_TEST_REDIS_URL", _DEFAULT_REDIS)
)

Run = Callable[[int], None]
"""``run(n)`` performs ``n`` operations; the first call may warm up."""


@dataclass(frozen=True)
class Figure:
    best: float
    median: float


@dataclass(frozen=True)
class Row:
    store: str
    shape: str
    orchestrator: Figure  # the default orchestrator (no record cache): the target's figure
    ceiling: Figure | None
    minimum: Figure | None = None
    cached: Figure | None = None  # with ``record_cache=RECORD_CACHE`` (opt-in)

    @property
    def ratio(self) -> float | None:
        return self.orchestrator.best / self.ceiling.best if self.ceiling else None

    @property
    def cached_ratio(self) -> float | None:
        if self.ceiling is None or self.cached is None:
            return None
        return self.cached.best / self.ceiling.best

    @property
    def verdict(self) -> str:
        return self._verdict(self.orchestrator, self.ratio)

    @property
    def cached_verdict(self) -> str:
        assert self.cached is not None
        return self._verdict(self.cached, self.cached_ratio)

    def _verdict(self, figure: Figure, ratio: float | None) -> str:
        if self.ceiling is None:
            met = figure.best >= MEMORY_TARGET
            return f"{'met' if met else 'MISSED'} (>= {MEMORY_TARGET:,.0f}/s)"
        assert ratio is not None
        met = ratio >= RATIO_TARGET
        return f"{'met' if met else 'MISSED'} (>= {RATIO_TARGET:.0%} of the ceiling)"


def _per_second(run: Run, n: int) -> float:
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        run(n)
        return n / (time.perf_counter() - started)
    finally:
        gc.enable()


def measure(pairs: dict[str, Run], n: int, repeats: int) -> dict[str, Figure]:
    """Operations per second of each run, repeats interleaved; one untimed warm-up each."""
    for run in pairs.values():
        run(max(1, n // 10))
    rates: dict[str, list[float]] = {name: [] for name in pairs}
    for _ in range(repeats):
        for name, run in pairs.items():
            rates[name].append(_per_second(run, n))
    return {name: Figure(max(r), statistics.median(r)) for name, r in rates.items()}


# ---------------------------------------------------------------------------- orchestrator
def orchestrated(store: Any, entities: int, record_cache: int = 0) -> Run:
    """Events through an orchestrator, round-robin over ``entities`` entities (pre-created;
    those of an orchestrator with a record cache are its own, so it is their only writer)."""
    machine = StateMachine.from_dict(MACHINE)
    orchestrator = Orchestrator(machine, store, record_cache=record_cache)
    name = "cached" if record_cache else "entity"
    ids = [f"{name}-{i:04d}" for i in range(entities)]
    for entity_id in ids:
        orchestrator.process_event(entity_id, "tick", {"seq": 0})
    sequence = [0]

    def run(n: int) -> None:
        process = orchestrator.process_event
        seq = sequence[0]
        for i in range(seq, seq + n):
            process(ids[i % entities], "tick", {"seq": i})
        sequence[0] = seq + n

    return run


# ---------------------------------------------------------------------------- ceilings
def sqlite_ceiling(path: str, entities: int) -> tuple[Run, Callable[[], None]]:
    conn = sqlite3.connect(path, isolation_level=None)  # autocommit: a statement commits
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS ceiling (id TEXT PRIMARY KEY, version INTEGER, data TEXT)"
    )
    ids = [f"entity-{i:04d}" for i in range(entities)]
    conn.executemany("INSERT INTO ceiling VALUES (?, 0, '{}')", [(i,) for i in ids])
    versions = dict.fromkeys(ids, 0)
    sequence = [0]
    sql = "UPDATE ceiling SET version = ?, data = ? WHERE id = ? AND version = ?"

    def run(n: int) -> None:
        execute = conn.execute
        seq = sequence[0]
        for i in range(seq, seq + n):
            entity_id = ids[i % entities]
            v = versions[entity_id]
            if execute(sql, (v + 1, f'{{"seq":{i}}}', entity_id, v)).rowcount != 1:
                raise AssertionError("the ceiling's compare-and-set failed")
            versions[entity_id] = v + 1
        sequence[0] = seq + n

    def close() -> None:
        conn.execute("DROP TABLE ceiling")
        conn.close()

    return run, close


def postgres_ceiling(conninfo: str, entities: int) -> tuple[Run, Callable[[], None]]:
    import psycopg

    conn = psycopg.connect(conninfo, autocommit=True)
    conn.execute("CREATE TABLE ceiling (id TEXT PRIMARY KEY, version BIGINT, data TEXT)")
    ids = [f"entity-{i:04d}" for i in range(entities)]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO ceiling VALUES (%s, 0, '{}')", [(i,) for i in ids])
    versions = dict.fromkeys(ids, 0)
    sequence = [0]
    sql = "UPDATE ceiling SET version = %s, data = %s WHERE id = %s AND version = %s"

    def run(n: int) -> None:
        cur = conn.cursor()
        seq = sequence[0]
        for i in range(seq, seq + n):
            entity_id = ids[i % entities]
            v = versions[entity_id]
            cur.execute(sql, (v + 1, f'{{"seq":{i}}}', entity_id, v))
            if cur.rowcount != 1:
                raise AssertionError("the ceiling's compare-and-set failed")
            versions[entity_id] = v + 1
        sequence[0] = seq + n
        cur.close()

    def close() -> None:
        conn.execute("DROP TABLE ceiling")
        conn.close()

    return run, close


_CAS = """
if redis.call('HGET', KEYS[1], 'v') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
  return 1
end
return 0
"""


def redis_ceiling(url: str, prefix: str, entities: int) -> tuple[Run, Callable[[], None]]:
    import redis

    client = redis.Redis.from_url(url)
    sha = client.script_load(_CAS)
    keys = [f"{prefix}ceiling:entity-{i:04d}" for i in range(entities)]
    for key in keys:
        client.hset(key, mapping={"v": "0", "d": "{}"})
    versions = dict.fromkeys(keys, 0)
    sequence = [0]
    # The bare protocol on one connection held for the whole run: no pool round trip per
    # command and no response callbacks, the least client work redis-py allows (the store's hot
    # path does the same, so the ceiling must not carry overhead the store avoids).
    conn = client.connection_pool.get_connection()

    def run(n: int) -> None:
        send, read = conn.send_command, conn.read_response
        seq = sequence[0]
        for i in range(seq, seq + n):
            key = keys[i % entities]
            v = versions[key]
            send("EVALSHA", sha, 1, key, v, v + 1, f'{{"seq":{i}}}')
            if read() != 1:
                raise AssertionError("the ceiling's compare-and-set failed")
            versions[key] = v + 1
        sequence[0] = seq + n

    def close() -> None:
        client.connection_pool.release(conn)
        client.delete(*keys)
        client.close()

    return run, close


# ---------------------------------------------------------------------------- minimum work
_RESULT = (
    '{"success":true,"source_state":"ACTIVE","target_state":"ACTIVE","trigger":"tick",'
    '"on_exit_actions":[],"actions_to_execute":[],"on_enter_actions":[],"error":null,'
    '"metadata":{},"exited_states":["ACTIVE"],"entered_states":["ACTIVE"],"timers_to_arm":[],'
    '"timers_to_cancel":[],"history":null,"ordered_actions":null,"all_actions":[],'
    '"state_changed":false}'
)


def _minimum_tables(store: Any, entities: int) -> tuple[list[str], dict[str, int], float]:
    """Entities made through ``store`` (a store of their own, on the same database), for the
    minimum-work loops: their ids, versions and the ``created_at`` they share."""
    from pystator.models.entity import Commit, EntityRecord

    ids = [f"entity-{i:04d}" for i in range(entities)]
    created = time.time()
    for entity_id in ids:
        record = EntityRecord(
            machine_name="bench",
            entity_id=entity_id,
            state="ACTIVE",
            context={"seq": 0},
            version=1,
            created_at=created,
            updated_at=created,
        )
        store.commit(Commit(entity=record, expected_version=0))
    return ids, dict.fromkeys(ids, 1), created


def _event_rows(
    entity_id: str, version: int, created: float, seq: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The entity row (with the expected version) and the history row of one event."""
    now = time.time()
    entity = {
        "machine_name": "bench",
        "entity_id": entity_id,
        "state": "ACTIVE",
        "context": f'{{"seq":{seq}}}',
        "version": version + 1,
        "history": "{}",
        "timers": "[]",
        "created_at": created,
        "updated_at": now,
        "expected": version,
    }
    transition = {
        "machine_name": "bench",
        "entity_id": entity_id,
        "version": version + 1,
        "source_state": "ACTIVE",
        "target_state": "ACTIVE",
        "trigger": "tick",
        "context_changes": f'{{"seq":{seq}}}',
        "context_removed": "[]",
        "at": now,
        "idempotency_key": None,
        "result": _RESULT,
    }
    return entity, transition


def sqlite_minimum(path: str, entities: int) -> tuple[Run, Callable[[], None]]:
    """BEGIN IMMEDIATE, the store's conditional UPDATE and history INSERT, COMMIT: bare
    sqlite3, same file and pragmas, tables of the store's schema (prefix ``minimum_``)."""
    from pystator.stores import SQLStateStore

    store = SQLStateStore(f"sqlite:///{path}", table_prefix="minimum_")
    ids, versions, created = _minimum_tables(store, entities)
    update, insert = store._sql.update_entity, store._sql.insert_transition
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA synchronous = NORMAL")
    sequence = [0]

    def run(n: int) -> None:
        execute = conn.execute
        seq = sequence[0]
        for i in range(seq, seq + n):
            entity_id = ids[i % entities]
            v = versions[entity_id]
            entity, transition = _event_rows(entity_id, v, created, i)
            execute("BEGIN IMMEDIATE")
            if execute(update, entity).rowcount != 1:
                raise AssertionError("the minimum loop's compare-and-set failed")
            execute(insert, transition)
            execute("COMMIT")
            versions[entity_id] = v + 1
        sequence[0] = seq + n

    def close() -> None:
        conn.close()

    return run, close


def postgres_minimum(url: str, conninfo: str, entities: int) -> tuple[Run, Callable[[], None]]:
    """The store's one-statement commit (conditional UPDATE + history INSERT) in autocommit:
    bare psycopg, tables of the store's schema (prefix ``minimum_``)."""
    import psycopg

    from pystator.stores import SQLStateStore

    store = SQLStateStore(url, table_prefix="minimum_")
    ids, versions, created = _minimum_tables(store, entities)
    sql = store._sql.one_statement_commit(False, True, 0, False)
    store.close()
    conn = psycopg.connect(conninfo, autocommit=True)
    sequence = [0]

    def run(n: int) -> None:
        cur = conn.cursor()
        seq = sequence[0]
        for i in range(seq, seq + n):
            entity_id = ids[i % entities]
            v = versions[entity_id]
            entity, transition = _event_rows(entity_id, v, created, i)
            entity.update({f"t_{k}": value for k, value in transition.items()})
            cur.execute(sql, entity)
            row = cur.fetchone()
            if row is None or row[0] != 1:
                raise AssertionError("the minimum loop's compare-and-set failed")
            versions[entity_id] = v + 1
        sequence[0] = seq + n
        cur.close()

    def close() -> None:
        conn.close()

    return run, close


def redis_minimum(url: str, prefix: str, entities: int) -> tuple[Run, Callable[[], None]]:
    """The store's own commit script (version check, entity hash, history row),
    with prepared arguments, over one held connection: bare redis-py, keys of a store of its
    own (prefix ``<prefix>minimum:``)."""
    import json

    from pystator.stores import RedisStateStore

    store = RedisStateStore(url, prefix=f"{prefix}minimum:")
    ids, versions, created = _minimum_tables(store, entities)
    client = store.client
    sha = store._commit_script.sha
    client.script_load(store._commit_script.script)
    conn = client.connection_pool.get_connection()
    key = store._key
    sequence = [0]

    def run(n: int) -> None:
        send, read = conn.send_command, conn.read_response
        seq = sequence[0]
        for i in range(seq, seq + n):
            entity_id = ids[i % entities]
            v = versions[entity_id]
            entity, transition = _event_rows(entity_id, v, created, i)
            del entity["expected"]
            send(
                "EVALSHA", sha, 7,
                key("entity", "bench", entity_id), key("history", "bench", entity_id),
                key("idempotency", "bench", entity_id), f"{store.prefix}entities:bench",
                f"{store.prefix}pending", f"{store.prefix}pending:bench",
                key("outbox-of", "bench", entity_id),
                v, v + 1, "ACTIVE", json.dumps(entity), f"{store.prefix}state:bench:",
                entity_id, json.dumps(transition), "0", "", "", f"{store.prefix}outbox:",
                "bench", repr(created), "", 0,
            )  # fmt: skip
            if read()[0] != 1:
                raise AssertionError("the minimum loop's compare-and-set failed")
            versions[entity_id] = v + 1
        sequence[0] = seq + n

    def close() -> None:
        client.connection_pool.release(conn)
        store.clear()
        store.close()

    return run, close


# ---------------------------------------------------------------------------- backends
def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2
        ):
            return True
    except OSError:
        return False


@contextmanager
def postgres_database() -> Iterator[tuple[str, str]]:
    """A fresh database next to ``POSTGRES_URL``: (SQLAlchemy URL, psycopg conninfo)."""
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(POSTGRES_URL)
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"pystator_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = base.set(database=name)
        yield (
            url.render_as_string(hide_password=False),
            url.set(drivername="postgresql").render_as_string(hide_password=False),
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_store(kind: str, events: int, repeats: int) -> list[Row]:
    rows: list[Row] = []
    for shape, entities in SHAPES:
        if kind == "memory":
            store = InMemoryStateStore()
            figures = measure(
                {
                    "orch": orchestrated(store, entities),
                    "cached": orchestrated(store, entities, RECORD_CACHE),
                },
                events,
                repeats,
            )
            rows.append(Row(kind, shape, figures["orch"], None, cached=figures["cached"]))
            continue
        with _backend(kind, entities) as (store, ceiling, minimum):
            pairs = {
                "orch": orchestrated(store, entities),
                "cached": orchestrated(store, entities, RECORD_CACHE),
                "ceiling": ceiling,
            }
            if minimum is not None:
                pairs["minimum"] = minimum
            try:
                figures = measure(pairs, events, repeats)
            finally:
                store.close()
        rows.append(
            Row(
                kind,
                shape,
                figures["orch"],
                figures["ceiling"],
                figures.get("minimum"),
                figures["cached"],
            )
        )
    return rows


@contextmanager
def _backend(kind: str, entities: int) -> Iterator[tuple[Any, Run, Run | None]]:
    if kind == "sqlite":
        from pystator.stores import SQLStateStore

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "bench.db")
            store = SQLStateStore(f"sqlite:///{path}")
            run, close = sqlite_ceiling(path, entities)
            least, close_least = sqlite_minimum(path, entities)
            try:
                yield store, run, least
            finally:
                close_least()
                close()
    elif kind == "postgres":
        from pystator.stores import SQLStateStore

        with postgres_database() as (url, conninfo):
            store = SQLStateStore(url)
            run, close = postgres_ceiling(conninfo, entities)
            least, close_least = postgres_minimum(url, conninfo, entities)
            try:
                yield store, run, least
            finally:
                close_least()
                close()
                store.close()
    elif kind == "redis":
        from pystator.stores import RedisStateStore

        prefix = f"pystator-bench:{secrets.token_hex(4)}:"
        store = RedisStateStore(REDIS_URL, prefix=prefix)
        run, close = redis_ceiling(REDIS_URL, prefix, entities)
        least, close_least = redis_minimum(REDIS_URL, prefix, entities)
        try:
            yield store, run, least
        finally:
            close_least()
            close()
            cleaner = RedisStateStore(REDIS_URL, prefix=prefix)
            cleaner.clear()
            cleaner.close()
    else:
        raise ValueError(kind)


# ---------------------------------------------------------------------------- report
def _rate(value: float) -> str:
    return f"{value:,.0f}/s"


def render(rows: Sequence[Row]) -> str:
    header = (
        f"{'store':<9} {'entities':<15} {'orchestrator best (median)':>28} "
        f"{'raw ceiling best (median)':>28} {'ratio':>6}  target"
    )
    lines = [
        "orchestrator: the default one (no record cache); the target applies to it",
        "",
        header,
        "-" * len(header),
    ]
    for row in rows:
        orch = f"{_rate(row.orchestrator.best)} ({_rate(row.orchestrator.median)})"
        if row.ceiling is None:
            ceiling, ratio = "-", "-"
        else:
            ceiling = f"{_rate(row.ceiling.best)} ({_rate(row.ceiling.median)})"
            ratio = f"{row.ratio:.2f}"
        lines.append(
            f"{row.store:<9} {row.shape:<15} {orch:>28} {ceiling:>28} {ratio:>6}  {row.verdict}"
        )
    optin = [row for row in rows if row.cached is not None]
    if optin:
        lines += [
            "",
            f"opt-in: with the record cache (record_cache={RECORD_CACHE:,}), the orchestrator"
            " the only writer of its entities (its best case)",
        ]
        for row in optin:
            assert row.cached is not None
            cached = f"{_rate(row.cached.best)} ({_rate(row.cached.median)})"
            share = row.cached_ratio
            ratio = f"{share:.2f}" if share is not None else "-"
            lines.append(
                f"{row.store:<9} {row.shape:<15} {cached:>28} {'':>28} {ratio:>6}  "
                f"{row.cached_verdict}"
            )
    minimums = [row for row in rows if row.minimum is not None and row.ceiling is not None]
    if minimums:
        lines += [
            "",
            "reference: minimum work per event (bare driver, prepared values: the version-checked"
            " write and the history row, atomically)",
        ]
        for row in minimums:
            assert row.minimum is not None
            assert row.ceiling is not None
            least = f"{_rate(row.minimum.best)} ({_rate(row.minimum.median)})"
            share = row.minimum.best / row.ceiling.best
            lines.append(
                f"{row.store:<9} {row.shape:<15} {least:>28} {'':>28} {share:>6.2f}  of the ceiling"
            )
    return "\n".join(lines)


EVENTS = {"memory": 20_000, "sqlite": 4_000, "postgres": 600, "redis": 4_000}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stores_bench", description=None)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--only", default=",".join(STORES), help=f"comma-separated, of: {', '.join(STORES)}"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats of each figure")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(STORES))
    if unknown:
        print(f"unknown store(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    repeats = 2 if args.quick else args.repeats
    rows: list[Row] = []
    notes: list[str] = []
    print(f"CPUs: {os.cpu_count()}, python {sys.version.split()[0]}", flush=True)
    for kind in chosen:
        if kind == "postgres" and not _reachable(POSTGRES_URL, 5432):
            notes.append(f"postgres: skipped, not reachable at {POSTGRES_URL}")
            continue
        if kind == "redis" and not _reachable(REDIS_URL, 6379):
            notes.append(f"redis: skipped, not reachable at {REDIS_URL}")
            continue
        events = EVENTS[kind] // (10 if args.quick else 1)
        started = time.perf_counter()
        rows.extend(bench_store(kind, events, repeats))
        print(f"  {kind}: measured in {time.perf_counter() - started:.1f}s", flush=True)
    print()
    print(render(rows))
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
