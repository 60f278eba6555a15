"""A frozen store or scheduler backend is a timeout error, not a hang; nothing lost, nothing
applied twice.

Freezes are ``SIGSTOP`` of a private server (``private_servers``): the kernel still accepts
connections and data, nothing answers. Blackholes are ports that never answer at all. Every
call runs in a thread with a generous outer deadline: the test checks that it returned (with
``StoreTimeoutError``) while the server stayed frozen, never how fast.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pystator import Orchestrator, StateMachine, StoreTimeoutError
from pystator.models.snapshot import TimerSnapshot
from pystator.runtime.ports import StateStore
from tests.integration.private_servers import (
    PrivatePostgres,
    PrivateRedis,
    blackhole,
    private_postgres,
    private_redis,
)
from tests.integration.test_store_outages import TICKER, api_server, sequence_in_history

pytestmark = pytest.mark.slow

OUTER_DEADLINE = 60.0
"""Seconds a call may take before the test calls it a hang (the timeouts under test are 1 to
8 s; a call may wait for several of them)."""

POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)
REDIS = pytest.param("redis", marks=pytest.mark.redis)


def returns(call: Callable[[], Any]) -> BaseException | Any:
    """Run ``call`` in a thread; its result or exception, or a failure if it hangs."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(OUTER_DEADLINE)
    if thread.is_alive():
        pytest.fail(f"the call did not return within {OUTER_DEADLINE:g} s: it hangs")
    return outcome[0]


def times_out(call: Callable[[], Any]) -> StoreTimeoutError:
    outcome = returns(call)
    assert isinstance(outcome, StoreTimeoutError), repr(outcome)
    assert "\n" not in outcome.message
    return outcome


def run_async(coroutine: Callable[[], Coroutine[Any, Any, Any]]) -> Callable[[], Any]:
    return lambda: asyncio.run(coroutine())


@pytest.fixture
def postgres_server() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


SHORT_TIMEOUT = 8.0
"""Seconds of the stores' timeouts in the freeze tests: the same store also makes the calls
that must succeed (the first event, which connects and creates the tables; the retries after
the thaw), which a loaded machine may answer slowly. The outer deadline still covers several
of them."""


def short_store(kind: str, url: str) -> StateStore:
    """A store with short timeouts (still long enough for a loaded machine's answers)."""
    if kind == "postgres":
        from pystator.stores.sql import SQLStateStore

        return SQLStateStore(url, connect_timeout=SHORT_TIMEOUT, read_timeout=SHORT_TIMEOUT)
    from pystator.stores.redis import RedisStateStore

    return RedisStateStore(url, connect_timeout=SHORT_TIMEOUT, read_timeout=SHORT_TIMEOUT)


class FreezeBeforeCommit:
    """A hook that, once armed, freezes the server after the next event is computed and before
    its commit is sent: the commit goes out to a server that takes it and does not answer."""

    def __init__(self) -> None:
        self.freeze: Callable[[], None] | None = None

    def on_transition_start(self, result: Any) -> None:
        freeze, self.freeze = self.freeze, None
        if freeze is not None:
            freeze()


@pytest.mark.parametrize("kind", [POSTGRES, REDIS])
def test_a_frozen_store_times_out_and_nothing_is_applied_twice(
    kind: str, request: pytest.FixtureRequest
) -> None:
    server: PrivatePostgres | PrivateRedis = request.getfixturevalue(f"{kind}_server")
    store = short_store(kind, server.url)
    hook = FreezeBeforeCommit()
    orchestrator = Orchestrator(StateMachine.from_dict(TICKER), store, hooks=[hook])
    try:
        assert orchestrator.process_event("e1", "tick", {"seq": 1}, idempotency_key="k1").success

        hook.freeze = server.freeze  # armed for the second event only
        # The commit was sent and never answered: it may or may not have been applied.
        error = times_out(
            lambda: orchestrator.process_event("e1", "tick", {"seq": 2}, idempotency_key="k2")
        )
        assert error.outcome_unknown
        assert "idempotency key" in error.message
        # Still frozen: the next event times out before anything is sent (a read, or a
        # connection the server never completes).
        error = times_out(
            lambda: orchestrator.process_event("e1", "tick", {"seq": 3}, idempotency_key="k3")
        )
        assert not error.outcome_unknown
        times_out(lambda: orchestrator.get_entity("e1"))

        server.thaw()
        # Retried with their keys, the events apply once each, whatever the frozen server did
        # with the commit it held.
        for seq in (2, 3):
            result = orchestrator.process_event(
                "e1", "tick", {"seq": seq}, idempotency_key=f"k{seq}"
            )
            assert result.success
        assert sequence_in_history(orchestrator, "e1") == [1, 2, 3]
        record = orchestrator.get_entity("e1")
        assert record is not None
        assert record.version == 3
    finally:
        server.thaw()
        store.close()


@pytest.mark.postgres
def test_a_frozen_postgres_is_a_503_over_http(
    postgres_server: PrivatePostgres, tmp_path: Path
) -> None:
    env = {
        "PYSTATOR_DATABASE_URL": postgres_server.url,
        "PYSTATOR_STORE_CONNECT_TIMEOUT": f"{SHORT_TIMEOUT:g}",
        "PYSTATOR_STORE_READ_TIMEOUT": f"{SHORT_TIMEOUT:g}",
        "PYSTATOR_LOG_LEVEL": "info",
    }
    with api_server(tmp_path, env) as base, httpx.Client(base_url=base, timeout=60) as api:
        assert api.post("/api/v1/machines", json={"config": TICKER}).status_code == 201
        events = "/api/v1/machines/ticker/entities/e1/events"
        assert api.post("/api/v1/machines/ticker/entities", json={"entity_id": "e1"}).is_success

        def send(seq: int) -> httpx.Response:
            body = {"trigger": "tick", "context": {"seq": seq}}
            return api.post(events, json=body, headers={"Idempotency-Key": f"k{seq}"})

        assert send(1).status_code == 200
        postgres_server.freeze()
        try:
            frozen = returns(lambda: send(2))
            assert isinstance(frozen, httpx.Response), repr(frozen)
            assert frozen.status_code == 503, frozen.text
            assert frozen.headers["Retry-After"] == "5"
            assert frozen.json()["detail"].startswith("store unavailable: PostgreSQL at ")
            ready = returns(lambda: api.get("/ready"))
            assert isinstance(ready, httpx.Response)
            assert ready.status_code == 503
        finally:
            postgres_server.thaw()
        assert send(2).status_code == 200
        assert send(2).status_code == 200  # replayed, not applied again
        history = api.get("/api/v1/machines/ticker/entities/e1/history").json()["items"]
        seqs = [row["context_changes"]["seq"] for row in history if "seq" in row["context_changes"]]
        assert seqs == [1, 2]
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log, log
    assert len([line for line in log.splitlines() if "store unavailable:" in line]) == 1, log


# ---------------------------------------------------------------------------- blackholes
@pytest.mark.postgres
def test_postgres_that_never_answers_is_a_connect_timeout() -> None:
    from pystator.stores.sql import SQLStateStore

    with blackhole() as port:
        store = SQLStateStore(
            f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", connect_timeout=1
        )
        orchestrator = Orchestrator(StateMachine.from_dict(TICKER), store)
        error = times_out(lambda: orchestrator.process_event("e1", "tick", {"seq": 1}))
        assert f"127.0.0.1:{port} did not accept a connection" in error.message
        store.close()


@pytest.mark.redis
@pytest.mark.parametrize("accept", [True, False], ids=["read", "connect"])
def test_redis_that_never_answers_is_a_timeout(accept: bool) -> None:
    from pystator.stores.redis import RedisStateStore

    with blackhole(accept=accept) as port:
        store = RedisStateStore(f"redis://127.0.0.1:{port}/0", connect_timeout=1, read_timeout=1)
        orchestrator = Orchestrator(StateMachine.from_dict(TICKER), store)
        error = times_out(lambda: orchestrator.process_event("e1", "tick", {"seq": 1}))
        assert f"Redis at 127.0.0.1:{port} did not " in error.message
        times_out(lambda: orchestrator.get_history("e1"))
        store.close()


TIMER = TimerSnapshot(id="ON:after:0@1", key="ON:after:0", trigger="tick", due=4_000_000_000.0)


@pytest.mark.redis
@pytest.mark.parametrize("accept", [True, False], ids=["read", "connect"])
def test_the_redis_schedulers_time_out_instead_of_hanging(accept: bool) -> None:
    from pystator.scheduler.arq_scheduler import ArqScheduler
    from pystator.scheduler.redis_scheduler import RedisScheduler

    with blackhole(accept=accept) as port:
        url = f"redis://127.0.0.1:{port}/0"
        for scheduler in (
            RedisScheduler(url, connect_timeout=1, read_timeout=1, autostart=False),
            ArqScheduler(url, connect_timeout=1, read_timeout=1),
        ):
            error = times_out(lambda s=scheduler: s.schedule("ticker", "e1", [TIMER], []))
            assert f"Redis at 127.0.0.1:{port}" in error.message

            async def arm(s: Any = scheduler) -> None:
                try:
                    await s.aschedule("ticker", "e1", [TIMER], [])
                finally:
                    await s.aclose()

            times_out(run_async(arm))


@pytest.mark.redis
def test_the_worker_and_its_queue_time_out_instead_of_hanging() -> None:
    from pystator.worker import EventQueue, WorkerApp, build_worker

    with blackhole() as port:
        url = f"redis://127.0.0.1:{port}/0"

        async def submit() -> None:
            async with EventQueue(url, connect_timeout=1, read_timeout=1) as queue:
                await queue.submit("ticker", "e1", "tick", {"seq": 1}, idempotency_key="k1")

        error = times_out(run_async(submit))
        assert error.outcome_unknown  # sent, unanswered: submit again with the same key

        from pystator import InMemoryStateStore

        orchestrator = Orchestrator(StateMachine.from_dict(TICKER), InMemoryStateStore())
        app = WorkerApp([orchestrator], redis_url=url, connect_timeout=1, read_timeout=1)

        async def work() -> None:
            worker = build_worker(app, burst=True, handle_signals=False)
            try:
                await worker.main()
            finally:
                await worker.pool.aclose(close_connection_pool=True)

        outcome = returns(run_async(work))
        # The worker's own Redis client gives up (redis-py's TimeoutError, which arq lets
        # out: ``pystator worker`` prints it as one line and exits non-zero).
        assert type(outcome).__name__ == "TimeoutError", repr(outcome)
        assert type(outcome).__module__.startswith("redis"), repr(outcome)


@pytest.mark.redis
def test_an_arq_worker_run_from_the_worker_settings_times_out_instead_of_hanging() -> None:
    """The settings a worker started with arq's own command line gets (``WorkerSettings =
    scheduler.worker_settings()``): its Redis client gives up on a server that never answers."""
    import arq

    from pystator.scheduler.arq_scheduler import ArqScheduler

    with blackhole() as port:
        scheduler = ArqScheduler(f"redis://127.0.0.1:{port}/0", connect_timeout=1, read_timeout=1)
        settings = scheduler.worker_settings(burst=True, handle_signals=False)

        async def work() -> None:
            worker = arq.worker.create_worker(settings)  # what ``arq`` itself does with them
            try:
                await worker.main()
            finally:
                await worker.pool.aclose(close_connection_pool=True)

        outcome = returns(run_async(work))
        assert type(outcome).__name__ == "TimeoutError", repr(outcome)
        assert type(outcome).__module__.startswith("redis"), repr(outcome)


# ---------------------------------------------------------------------------- PostgreSQL
@pytest.mark.postgres
def test_the_statement_timeout_is_set_after_connecting(postgres_url: str) -> None:
    """Not as a startup ``options`` parameter, which PgBouncer refuses: ``SET`` on each new
    connection, for its whole session; one given in the URL's ``options`` wins."""
    import sqlalchemy as sa

    from pystator.stores.sql import SQLStateStore

    def settings_of(store: SQLStateStore) -> list[tuple[str, str]]:
        found = []
        with store.engine.connect() as conn:
            for _ in range(2):  # again after a rollback: the session keeps it
                timeout = conn.execute(sa.text("SHOW statement_timeout")).scalar_one()
                conn.rollback()
                dbapi = conn.connection.dbapi_connection
                assert dbapi is not None
                found.append((timeout, dbapi.info.dsn))
        store.close()
        return found

    for timeout, dsn in settings_of(SQLStateStore(postgres_url, read_timeout=2.5)):
        assert timeout == "2500ms"
        assert "statement_timeout" not in dsn, dsn
        assert "options" not in dsn, dsn

    server_default = settings_of(SQLStateStore(postgres_url, read_timeout=None))
    assert server_default[0][0] != "2500ms"
    assert server_default[0] == server_default[1]

    url = sa.make_url(postgres_url).update_query_dict({"options": "-c statement_timeout=7000"})
    own = SQLStateStore(url.render_as_string(hide_password=False), read_timeout=2.5)
    assert [timeout for timeout, _ in settings_of(own)] == ["7s", "7s"]


@pytest.mark.postgres
def test_a_host_name_that_does_not_resolve_is_said_so() -> None:
    from pystator import StoreUnavailableError
    from pystator.stores.sql import SQLStateStore

    store = SQLStateStore("postgresql+psycopg://app@no-such-host.invalid:5432/app")
    orchestrator = Orchestrator(StateMachine.from_dict(TICKER), store)
    outcome = returns(lambda: orchestrator.process_event("e1", "tick", {"seq": 1}))
    assert isinstance(outcome, StoreUnavailableError), repr(outcome)
    assert outcome.reason == "host name could not be resolved"
    assert not outcome.outcome_unknown  # nothing was sent
    store.close()


# ---------------------------------------------------------------------------- defaults
@pytest.mark.postgres
@pytest.mark.redis
def test_the_default_timeouts_end_a_hang() -> None:
    """Without any timeout argument, a server that never answers is an error in seconds
    (redis-py and libpq alone would wait as long as the server does)."""
    from pystator.stores.redis import RedisStateStore
    from pystator.stores.sql import SQLStateStore

    with blackhole() as port:
        for store, said in (
            (RedisStateStore(f"redis://127.0.0.1:{port}/0"), "did not answer within 10 s"),
            (
                SQLStateStore(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"),
                "did not accept a connection within 5 s",
            ),
        ):
            orchestrator = Orchestrator(StateMachine.from_dict(TICKER), store)
            error = times_out(lambda o=orchestrator: o.process_event("e1", "tick", {"seq": 1}))
            assert said in error.message
            store.close()


@pytest.mark.redis
def test_every_redis_client_has_both_timeouts_by_default() -> None:
    """What each scheduler, queue and worker hands redis-py (nothing is connected here)."""
    from pystator.api import ApiSettings
    from pystator.scheduler.arq_scheduler import ArqScheduler
    from pystator.scheduler.redis_scheduler import RedisScheduler
    from pystator.worker import EventQueue, WorkerApp, build_worker

    expected = {"socket_connect_timeout": 5.0, "socket_timeout": 10.0}

    def timeouts(pool: Any) -> dict[str, Any]:
        kwargs = pool.connection_kwargs
        return {k: kwargs.get(k) for k in expected}

    async def clients() -> list[dict[str, Any]]:
        redis_scheduler = RedisScheduler(autostart=False)
        arq_scheduler = ArqScheduler()
        queue = EventQueue()
        from pystator import InMemoryStateStore

        orchestrator = Orchestrator(StateMachine.from_dict(TICKER), InMemoryStateStore())
        worker = build_worker(WorkerApp([orchestrator]), burst=True, handle_signals=False)
        found = [
            timeouts(redis_scheduler._sync_client().connection_pool),
            timeouts(redis_scheduler._async_client().connection_pool),
            timeouts(arq_scheduler._sync_client().connection_pool),
            timeouts(arq_scheduler.pool().connection_pool),
            timeouts(arq_scheduler.worker_settings()["redis_pool"].connection_pool),
            timeouts(queue._client().connection_pool),
            timeouts(worker.pool.connection_pool),
        ]
        for closing in (redis_scheduler.aclose(), arq_scheduler.aclose(), queue.aclose()):
            await closing
        await worker.pool.aclose(close_connection_pool=True)
        return found

    assert asyncio.run(clients()) == [expected] * 7
    settings = ApiSettings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.store_connect_timeout, settings.store_read_timeout) == (5.0, 10.0)
