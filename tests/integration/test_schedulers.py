"""RedisScheduler, ArqScheduler and ``pystator worker`` against a real Redis, in real processes.

The first tests drive one scheduler in this process (a manual clock where time matters). The
process tests start ``python -m pystator worker --app tests.integration.scheduler_app:app``
(see that module) and share a persistent store with this process; every firing is logged in
Redis, so they count deliveries and compare firing times with due times. Each test has its
own key prefix, and removes every key holding it.

No test depends on how fast the machine is: they wait for events (a worker's start-up, a log
entry, a count in Redis) with deadlines far beyond what they need, and where a test must keep
workers from firing a timer for a while it moves their clock instead of racing them.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pystator import InMemoryStateStore, Orchestrator, StateMachine
from pystator.runtime.clock import ManualClock
from tests.conftest import ROOT, require_service
from tests.integration.scheduler_app import (
    MAX_JOBS,
    REDIS_CONCURRENCY,
    Settings,
    make_scheduler,
    open_store,
    timer_machine,
)

pytestmark = pytest.mark.redis

REDIS_URL = os.environ.get("PYSTATOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

WAIT = 120.0
"""Deadline of every wait for an event. Only a broken test waits this long: the events come
within seconds even on a loaded machine."""
DUE_ROUNDING = 0.001
"""arq keeps due times in whole milliseconds (rounded), so a job may start 0.5 ms early."""


@pytest.fixture
def redis_server() -> str:
    require_service("Redis", REDIS_URL, 6379)
    return REDIS_URL


@pytest.fixture
def token(redis_server: str) -> Iterator[str]:
    """A unique word in every key of the test; the keys are deleted afterwards."""
    import redis

    value = f"schedtest{secrets.token_hex(4)}"
    yield value
    client = redis.Redis.from_url(redis_server)
    try:
        keys = list(client.scan_iter(match=f"*{value}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


async def until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(every)


def simple_machine(delay: str = "1s") -> StateMachine:
    return StateMachine.from_dict(
        {
            "meta": {"machine_name": "m"},
            "states": [
                {"name": "A", "type": "initial"},
                {"name": "B"},
                {"name": "C", "type": "terminal"},
            ],
            "transitions": [
                {"after": delay, "source": "A", "dest": "B"},
                {"trigger": "go", "source": ["A", "B"], "dest": "C"},
            ],
        }
    )


# ---------------------------------------------------------------------- RedisScheduler, in process
async def test_redis_scheduler_fires_due_timers_once_and_keeps_cancelled_ones_quiet(
    redis_server: str, token: str
) -> None:
    from pystator.scheduler import RedisScheduler

    clock = ManualClock(1_000_000.0)
    scheduler = RedisScheduler(redis_server, prefix=f"{token}:", clock=clock, autostart=False)
    orchestrator = Orchestrator(
        simple_machine(), InMemoryStateStore(), scheduler=scheduler, clock=clock
    )
    for name in ("e1", "e2", "e3"):
        await orchestrator.async_create_entity(name)
    await orchestrator.async_process_event("e3", "go")  # leaves A: its timer is cancelled
    assert (await scheduler.pending("m"))["due"] == 2
    records = await scheduler.timers("m")
    assert {(r.entity_id, r.timer_id, r.trigger, r.due) for r in records} == {
        ("e1", "A:after:0@1", "after:0", 1_000_001.0),
        ("e2", "A:after:0@1", "after:0", 1_000_001.0),
    }

    clock.advance(0.5)
    assert await scheduler.run_due() == 0
    clock.advance(0.5)
    assert await scheduler.run_due() == 2
    assert await scheduler.run_due() == 0
    for name, state in (("e1", "B"), ("e2", "B"), ("e3", "C")):
        record = await orchestrator.async_get_entity(name)
        assert record is not None
        assert record.state == state
    assert await scheduler.pending("m") == {"due": 0, "claimed": 0, "records": 0, "dead": 0}
    await scheduler.aclose()


async def test_redis_scheduler_lease_expiry_gives_a_dead_replicas_timers_to_another(
    redis_server: str, token: str
) -> None:
    from pystator.scheduler import RedisScheduler

    clock = ManualClock(2_000_000.0)
    store = InMemoryStateStore()
    arming = RedisScheduler(redis_server, prefix=f"{token}:", clock=clock, lease=5, autostart=False)
    orchestrator = Orchestrator(simple_machine(), store, scheduler=arming, clock=clock)
    await orchestrator.async_create_entity("e1")
    clock.advance(1)
    # A replica claims the timer and dies before firing it: claimed, not fired.
    dead = RedisScheduler(redis_server, prefix=f"{token}:", clock=clock, lease=5, autostart=False)
    client = dead._async_client()
    claimed = await dead._ascripts["claim"](
        keys=dead.book.keys("m").main, args=[str(clock.now()), str(clock.now() + 5), "10"]
    )
    assert len(claimed) == 1
    assert (await arming.pending("m"))["claimed"] == 1
    await client.aclose()

    # Another replica (which never armed it) sees nothing until the lease runs out.
    other = RedisScheduler(redis_server, prefix=f"{token}:", clock=clock, lease=5, autostart=False)
    Orchestrator(simple_machine(), store, scheduler=other, clock=clock)
    assert await other.run_due() == 0
    clock.advance(5)
    assert await other.run_due() == 1
    record = await orchestrator.async_get_entity("e1")
    assert record is not None
    assert record.state == "B"
    assert (await other.pending("m"))["records"] == 0
    await other.aclose()
    await arming.aclose()


async def test_redis_scheduler_claims_only_machines_it_serves(
    redis_server: str, token: str
) -> None:
    from pystator.scheduler import RedisScheduler

    clock = ManualClock(3_000_000.0)
    arming = RedisScheduler(redis_server, prefix=f"{token}:", clock=clock, autostart=False)
    orchestrator = Orchestrator(
        simple_machine(), InMemoryStateStore(), scheduler=arming, clock=clock
    )
    await orchestrator.async_create_entity("e1")
    stranger = RedisScheduler(redis_server, prefix=f"{token}:", clock=clock, autostart=False)
    clock.advance(2)
    assert await stranger.run_due() == 0  # registered nothing: claims nothing
    assert (await arming.pending("m"))["due"] == 1
    await stranger.aclose()
    await arming.aclose()


async def test_redis_scheduler_retries_a_failing_timer_then_buries_it(
    redis_server: str, token: str
) -> None:
    from pystator.scheduler import RedisScheduler

    clock = ManualClock(4_000_000.0)
    scheduler = RedisScheduler(
        redis_server,
        prefix=f"{token}:",
        clock=clock,
        autostart=False,
        max_attempts=2,
        retry_delay=1.0,
    )

    class Broken(Orchestrator):
        async def afire_timer(self, entity_id: str, timer_id: str) -> Any:
            raise RuntimeError("store is down")

    orchestrator = Broken(simple_machine(), InMemoryStateStore(), scheduler=scheduler, clock=clock)
    await orchestrator.async_create_entity("e1")
    clock.advance(1)
    assert await scheduler.run_due() == 1
    assert (await scheduler.pending("m"))["due"] == 1  # back, one second later
    assert await scheduler.run_due() == 0
    clock.advance(1)
    assert await scheduler.run_due() == 1
    assert await scheduler.pending("m") == {"due": 0, "claimed": 0, "records": 0, "dead": 1}
    (dead,) = await scheduler.dead_timers("m")
    assert dead.entity_id == "e1"
    assert dead.attempts == 2
    assert "store is down" in (dead.error or "")
    await scheduler.aclose()


async def test_redis_scheduler_requeues_a_timer_the_orchestrator_finds_not_due(
    redis_server: str, token: str
) -> None:
    from pystator.scheduler import RedisScheduler

    clock = ManualClock(5_000_000.0)
    behind = ManualClock(5_000_000.0)  # the orchestrator's clock lags the scheduler's
    scheduler = RedisScheduler(redis_server, prefix=f"{token}:", clock=clock, autostart=False)
    orchestrator = Orchestrator(
        simple_machine("10s"), InMemoryStateStore(), scheduler=scheduler, clock=behind, timer_skew=1
    )
    await orchestrator.async_create_entity("e1")
    clock.advance(10)
    assert await scheduler.run_due() == 1
    assert (await scheduler.pending("m"))["due"] == 1  # not dropped: tried again later
    behind.advance(10)
    clock.advance(1)
    assert await scheduler.run_due() == 1
    record = await orchestrator.async_get_entity("e1")
    assert record is not None
    assert record.state == "B"
    await scheduler.aclose()


def test_redis_scheduler_schedule_arms_from_sync_code(redis_server: str, token: str) -> None:
    from pystator.scheduler import RedisScheduler

    clock = ManualClock(6_000_000.0)
    scheduler = RedisScheduler(redis_server, prefix=f"{token}:", clock=clock)
    orchestrator = Orchestrator(
        simple_machine(), InMemoryStateStore(), scheduler=scheduler, clock=clock
    )
    orchestrator.create_entity("e1")
    orchestrator.create_entity("e2")
    orchestrator.process_event("e2", "go")

    async def check() -> None:
        records = await scheduler.timers("m")
        assert [(r.entity_id, r.due) for r in records] == [("e1", 6_000_001.0)]
        clock.advance(1)
        assert await scheduler.run_due() == 1
        await scheduler.aclose()

    asyncio.run(check())
    assert orchestrator.get_entity("e1").state == "B"  # type: ignore[union-attr]


async def test_rearm_from_store_restores_timers_redis_lost(redis_server: str, token: str) -> None:
    from pystator.scheduler import RedisScheduler, rearm_from_store

    clock = ManualClock(7_000_000.0)
    scheduler = RedisScheduler(redis_server, prefix=f"{token}:", clock=clock, autostart=False)
    orchestrator = Orchestrator(
        simple_machine(), InMemoryStateStore(), scheduler=scheduler, clock=clock
    )
    for name in ("e1", "e2"):
        await orchestrator.async_create_entity(name)
    await scheduler.clear("m")  # Redis restarted without persistence
    assert (await scheduler.pending("m"))["records"] == 0
    assert await rearm_from_store(scheduler, orchestrator) == 2
    assert await rearm_from_store(scheduler, orchestrator) == 2  # arming twice changes nothing
    assert (await scheduler.pending("m"))["due"] == 2
    clock.advance(1)
    assert await scheduler.run_due() == 2
    assert {(await orchestrator.async_get_entity(n)).state for n in ("e1", "e2")} == {"B"}  # type: ignore[union-attr]
    await scheduler.aclose()


# ---------------------------------------------------------------------- ArqScheduler, in process
async def test_arq_scheduler_enqueues_deferred_jobs_and_cancels_them(
    redis_server: str, token: str
) -> None:
    from pystator.scheduler import ArqScheduler

    scheduler = ArqScheduler(redis_server, prefix=f"{token}:", queue_name=f"{token}:queue")
    orchestrator = Orchestrator(simple_machine("5s"), InMemoryStateStore(), scheduler=scheduler)
    e1 = await orchestrator.async_create_entity("e1")
    await orchestrator.async_create_entity("e2")
    await orchestrator.async_process_event("e2", "go")
    pool = scheduler.pool()
    queued = await pool.zrange(f"{token}:queue", 0, -1, withscores=True)
    job_id = scheduler.job_id("m", "e1", "A:after:0@1")
    assert [(m.decode(), s) for m, s in queued] == [(job_id, round(e1.timers[0].due * 1000))]
    assert await pool.exists(f"arq:job:{job_id}")
    assert not await pool.exists(f"arq:job:{scheduler.job_id('m', 'e2', 'A:after:0@1')}")
    assert (await scheduler.pending("m"))["records"] == 1
    await scheduler.aclose()


# arq's Worker.close() calls redis-py's deprecated close().
@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_arq_scheduler_reconcile_reenqueues_a_lost_job_and_a_worker_fires_it(
    redis_server: str, token: str
) -> None:
    import arq.worker

    from pystator.scheduler import ArqScheduler

    # The scheduler's and the orchestrator's clock: a minute behind the wall clock, so that the
    # timer is due for arq's worker (wall clock) and overdue only when the test says so.
    clock = ManualClock(time.time() - 60)
    scheduler = ArqScheduler(
        redis_server,
        prefix=f"{token}:",
        queue_name=f"{token}:queue",
        clock=clock,
        reconcile_grace=0.0,
    )
    store = InMemoryStateStore()
    orchestrator = Orchestrator(simple_machine("200ms"), store, scheduler=scheduler, clock=clock)
    await orchestrator.async_create_entity("e1")
    pool = scheduler.pool()
    job_id = scheduler.job_id("m", "e1", "A:after:0@1")
    # arq loses the job (expired, or a Redis restart that kept only the records).
    await pool.delete(f"arq:job:{job_id}")
    await pool.zrem(f"{token}:queue", job_id)
    assert await scheduler.reconcile() == 0  # not overdue yet
    clock.advance(0.3)
    assert await scheduler.reconcile() == 1
    assert await scheduler.reconcile() == 0  # queued now: nothing to do

    worker = arq.worker.Worker(**scheduler.worker_settings(burst=True, handle_signals=False))
    try:
        await worker.async_run()
    finally:
        await worker.close()
    record = await orchestrator.async_get_entity("e1")
    assert record is not None
    assert record.state == "B"
    assert (await scheduler.pending("m"))["records"] == 0
    await scheduler.aclose()


def test_arq_scheduler_sync_schedule_writes_the_same_job(redis_server: str, token: str) -> None:
    from pystator.scheduler import ArqScheduler

    scheduler = ArqScheduler(redis_server, prefix=f"{token}:", queue_name=f"{token}:queue")
    orchestrator = Orchestrator(simple_machine("5s"), InMemoryStateStore(), scheduler=scheduler)
    record = orchestrator.create_entity("e1")
    orchestrator.create_entity("e2")
    orchestrator.process_event("e2", "go")

    async def check() -> None:
        import arq.jobs

        pool = scheduler.pool()
        job_id = scheduler.job_id("m", "e1", "A:after:0@1")
        queued = await pool.zrange(f"{token}:queue", 0, -1, withscores=True)
        assert [(m.decode(), s) for m, s in queued] == [
            (job_id, round(record.timers[0].due * 1000))
        ]
        job = arq.jobs.deserialize_job(await pool.get(f"arq:job:{job_id}"))
        assert (job.function, job.args) == ("pystator_fire_timer", ("m", "e1", "A:after:0@1"))
        await scheduler.aclose()

    asyncio.run(check())


# ---------------------------------------------------------------------- worker processes
class Cluster:
    """Worker processes of one test, and this process's view of their store and timers."""

    def __init__(self, kind: str, redis_url: str, token: str, tmp_path: Path) -> None:
        self.env = {
            **os.environ,
            "SCHED_TEST_REDIS_URL": redis_url,
            "SCHED_TEST_PREFIX": f"{token}:",
            "SCHED_TEST_KIND": kind,
            "SCHED_TEST_STORE": "redis",
            "PYTHONPATH": str(ROOT),
        }
        self.settings = Settings(self.env)
        self.tmp_path = tmp_path
        self.token = token
        self.workers: list[subprocess.Popen[bytes]] = []
        self.armed_at: dict[str, float] = {}
        """Entity -> this process's clock once its timer was in Redis (``arm``)."""
        self.store = open_store(self.settings)
        # This process arms timers and never fires them.
        self.scheduler = make_scheduler(self.settings, autostart=False)
        self.ticker = Orchestrator(timer_machine(), self.store, scheduler=self.scheduler)
        import redis.asyncio

        self.redis = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)

    def start(self, **env: str) -> subprocess.Popen[bytes]:
        index = len(self.workers)
        log = (self.tmp_path / f"worker{index}.log").open("wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pystator",
                "worker",
                "--app",
                "tests.integration.scheduler_app:app",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.workers.append(proc)
        return proc

    async def ready(self, *procs: subprocess.Popen[bytes]) -> None:
        """Wait until each worker has started (the app's start-up hook logs its pid)."""

        async def started() -> bool:
            for proc in procs:
                if proc.poll() is not None:
                    raise AssertionError(f"worker exited early:\n{self.logs()}")
            pids = {int(p) for p in await self.redis.lrange(self.settings.ready, 0, -1)}
            return all(proc.pid in pids for proc in procs)

        await until(started, WAIT, "the workers to start")

    def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop_all(self) -> None:
        for proc in self.workers:
            self.stop(proc)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.tmp_path.glob("worker*.log"))
        )

    async def arm(self, count: int, delays: list[int], stem: str = "e") -> dict[str, float]:
        """Create ``count`` entities in states ``W<delay>``; returns entity -> due time."""
        due: dict[str, float] = {}

        async def one(i: int) -> None:
            entity_id = f"{self.token}-{stem}{i}"
            record = await self.ticker.async_create_entity(
                entity_id, initial_state=f"W{delays[i % len(delays)]}"
            )
            due[entity_id] = record.timers[0].due
            self.armed_at[entity_id] = time.time()  # the scheduler wrote it before returning

        for start in range(0, count, 50):
            await asyncio.gather(*(one(i) for i in range(start, min(count, start + 50))))
        return due

    async def count_in(self, state: str) -> int:
        page = await self.store.alist_entities("ticker", state=state, limit=1)
        return int(page.total)

    async def deliveries(self) -> list[dict[str, Any]]:
        raw = await self.redis.lrange(self.settings.deliveries, 0, -1)
        return [json.loads(item) for item in raw]

    async def started(self) -> list[dict[str, Any]]:
        """Every firing a worker began, in the order they began (logged before anything can
        fail, and before the sleep of ``SCHED_TEST_SLOW_FIRE``)."""
        raw = await self.redis.lrange(self.settings.started, 0, -1)
        return [json.loads(item) for item in raw]

    async def quiet(self) -> bool:
        """No timer of this test is armed, queued or being fired: no firing is still to come.

        A worker logs a firing before it acknowledges the timer's record (and, with arq,
        before the job leaves the queue), so every firing is in the log by then.
        """
        if (await self.scheduler.pending("ticker"))["records"]:
            return False
        return self.settings.kind != "arq" or not await self.redis.zcard(self.settings.queue_name)

    async def wait_done(self, count: int, timeout: float = WAIT) -> None:
        """Wait until ``count`` entities are in DONE and their firings are logged.

        A worker logs a firing after its transition commits, so an entity can be seen in DONE
        a moment before its delivery is in the log.
        """

        async def done() -> bool:
            if await self.count_in("DONE") < count:
                return False
            fired = [d for d in await self.deliveries() if d["reason"] is None]
            return len(fired) >= count

        try:
            await until(done, timeout, f"{count} entities in DONE", every=0.2)
        except AssertionError:
            logged = sum(1 for d in await self.deliveries() if d["reason"] is None)
            timers = await self.scheduler.pending("ticker")
            raise AssertionError(
                f"{await self.count_in('DONE')} of {count} in DONE, {logged} firings logged, "
                f"timer records {timers}\n{self.logs()}"
            ) from None

    async def assert_each_fired_once(self, due: dict[str, float]) -> list[dict[str, Any]]:
        deliveries = await self.deliveries()
        fired = [d for d in deliveries if d["reason"] is None]
        per_timer = collections.Counter((d["entity"], d["timer"]) for d in fired)
        assert {e for e, _ in per_timer} == set(due)
        assert max(per_timer.values()) == 1, [k for k, n in per_timer.items() if n > 1][:5]
        for entity_id in due:
            history = await self.store.aget_history("ticker", entity_id)
            assert [h.target_state for h in history] == [history[0].target_state, "DONE"]
        return fired

    async def aclose(self) -> None:
        self.stop_all()
        await self.scheduler.aclose()
        await self.store.aclose()
        await self.redis.aclose()


@pytest.fixture
async def cluster_factory(
    redis_server: str, token: str, tmp_path: Path
) -> AsyncIterator[Callable[[str], Cluster]]:
    made: list[Cluster] = []

    def make(kind: str) -> Cluster:
        cluster = Cluster(kind, redis_server, token, tmp_path)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        await cluster.aclose()


KINDS = ["redis", "arq"]


NO_RECOVERY = {
    "SCHED_TEST_LEASE": "3600",
    "SCHED_TEST_JOB_TIMEOUT": "3600",
    "SCHED_TEST_RECONCILE_GRACE": "3600",
}
"""A worker that takes a timer again only after an hour: its lease (RedisScheduler), its job's
in-progress key or ``reconcile()`` (arq). A timer that needs one of them to fire, say one taken
and then dropped, is lost for the test instead of firing late, whatever the machine's speed."""


def overtaken(
    fired: list[dict[str, Any]], due: dict[str, float], armed_at: dict[str, float]
) -> dict[str, int]:
    """For each fired timer Y, how many timers X started after it although due before it and
    armed before Y fell due (by more than arq's rounding, so they were queued ahead of Y).

    Workers take due timers in due order (RedisScheduler claims the earliest due ones in one
    script; arq takes jobs in the order of its queue, scored by due time), so such an X was
    taken no later than Y and had not started when Y started: a worker held it. However slow
    the machine and however the workers' turns interleave, workers never hold more timers
    than their slots (``held`` in the test), so no count exceeds that. Firing in arming order
    instead of due order makes counts of hundreds here, as arming order mixes all delays.
    """
    by_start = sorted(fired, key=lambda d: float(d["at"]))
    counts: dict[str, int] = {}
    for i, late in enumerate(by_start):
        cutoff = due[late["entity"]] - DUE_ROUNDING
        counts[late["entity"]] = sum(
            1
            for other in by_start[i + 1 :]
            if due[other["entity"]] < cutoff
            and armed_at[other["entity"]] < cutoff
            and float(other["at"]) > float(late["at"])
        )
    return counts


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
async def test_a_thousand_timers_across_two_workers_fire_once_and_on_time(
    kind: str, cluster_factory: Callable[[str], Cluster]
) -> None:
    """On time means: never early, each fired once on its first try, and in due order up to
    the timers the workers hold at once. Nothing here is measured in seconds, so a loaded
    machine makes timers late (shown with -s, not asserted) but cannot fail the test."""
    cluster = cluster_factory(kind)
    workers = [cluster.start(**NO_RECOVERY), cluster.start(**NO_RECOVERY)]
    await cluster.ready(*workers)
    due = await cluster.arm(1000, delays=list(range(1, 9)))
    # A timer taken and dropped, or left for its lease or reconcile() to recover, is lost
    # here (NO_RECOVERY): this times out.
    await cluster.wait_done(1000, timeout=max(due.values()) - time.time() + WAIT)
    fired = await cluster.assert_each_fired_once(due)
    assert len(await cluster.deliveries()) == 1000  # no second delivery, not even a stale one
    # No firing raised and was tried again (RedisScheduler's retry, arq's Retry): one start
    # per timer.
    tries = collections.Counter(d["entity"] for d in await cluster.started())
    assert tries.keys() == due.keys()
    assert max(tries.values()) == 1, sorted(e for e, n in tries.items() if n > 1)[:5]
    # Never before its due time (arq rounds due times to milliseconds).
    lateness = sorted(d["at"] - due[d["entity"]] for d in fired)
    shown = f"lateness p50={lateness[500]:.3f}s max={lateness[-1]:.3f}s"
    assert lateness[0] >= -DUE_ROUNDING, f"fired {-lateness[0]:.3f}s early; {shown}"
    # In due order: counted in timers, not seconds.
    held = len(workers) * (REDIS_CONCURRENCY if kind == "redis" else MAX_JOBS)
    counts = overtaken(fired, due, cluster.armed_at)
    worst = max(counts, key=counts.__getitem__)
    shown += f"; at most {counts[worst]} timers due earlier started after one (bound {held})"
    assert counts[worst] <= held, f"{worst} started before {counts[worst]} due earlier; {shown}"
    assert len({d["pid"] for d in fired}) == 2, "both workers fire timers"
    # They log at warning level: a retried or re-enqueued timer, a Redis timeout would show.
    assert not any(p.read_text().strip() for p in cluster.tmp_path.glob("worker*.log")), (
        cluster.logs()
    )
    print(f"{kind}: {shown}")  # shown with -s


# A worker whose clocks (arq's included) run an hour behind sees no timer of these tests as due.
AN_HOUR_BEHIND = {"SCHED_TEST_CLOCK_SHIFT": "-3600"}


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
async def test_timers_survive_every_worker_being_stopped(
    kind: str, cluster_factory: Callable[[str], Cluster]
) -> None:
    cluster = cluster_factory(kind)
    # The first workers run while timers are armed and are stopped before any is due to them,
    # however long arming and stopping take on this machine.
    first = [cluster.start(**AN_HOUR_BEHIND), cluster.start(**AN_HOUR_BEHIND)]
    await cluster.ready(*first)
    due = await cluster.arm(200, delays=[1], stem="a")
    for proc in first:
        cluster.stop(proc)  # SIGTERM: a clean stop
        assert proc.returncode == 0, cluster.logs()
    more = await cluster.arm(100, delays=[1], stem="b")  # armed while no worker runs
    due.update(more)
    # Every timer falls due (on the wall clock) while no worker runs.
    await until(lambda: time.time() > max(due.values()), WAIT, "every timer to fall due")
    assert await cluster.count_in("DONE") == 0
    assert await cluster.deliveries() == []
    second = [cluster.start(), cluster.start()]
    await cluster.ready(*second)
    await cluster.wait_done(300)
    fired = await cluster.assert_each_fired_once(due)
    assert {d["pid"] for d in fired} <= {p.pid for p in second}
    assert all(d["at"] >= due[d["entity"]] - DUE_ROUNDING for d in fired)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_timer_whose_entity_moved_on_does_nothing(
    kind: str, cluster_factory: Callable[[str], Cluster]
) -> None:
    cluster = cluster_factory(kind)
    due = await cluster.arm(20, delays=[1])
    entities = sorted(due)
    # Half move on through an orchestrator that cancels their timers; for the other half the
    # cancel is lost (no scheduler): their timers still fire, and must change nothing. The
    # worker starts after the moves, so that no timer fires before its entity moved on.
    forgetful = Orchestrator(timer_machine(), cluster.store)
    for i, entity_id in enumerate(entities):
        orchestrator = cluster.ticker if i % 2 == 0 else forgetful
        result = await orchestrator.async_process_event(entity_id, "move")
        assert result.success
    lost = set(entities[1::2])
    worker = cluster.start()
    await cluster.ready(worker)

    async def all_fired() -> bool:
        return len(await cluster.deliveries()) >= len(lost) and await cluster.quiet()

    await until(all_fired, WAIT, "the stale timers to fire")
    deliveries = await cluster.deliveries()
    assert sorted(d["entity"] for d in deliveries) == sorted(lost)
    assert {d["reason"] for d in deliveries} == {"stale_timer"}
    assert await cluster.count_in("MOVED") == 20
    for entity_id in entities:
        history = await cluster.store.aget_history("ticker", entity_id)
        assert [h.target_state for h in history] == ["W1", "MOVED"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
async def test_timers_held_by_a_killed_worker_still_fire_once(
    kind: str, cluster_factory: Callable[[str], Cluster]
) -> None:
    cluster = cluster_factory(kind)
    # RedisScheduler: a 2-second lease. ArqScheduler: the in-progress key of a 2-second job
    # timeout lives 12 seconds (arq adds 10), and a job that timed out is enqueued again by
    # reconcile().
    crash = {"SCHED_TEST_LEASE": "2", "SCHED_TEST_JOB_TIMEOUT": "2"}
    doomed = cluster.start(SCHED_TEST_SLOW_FIRE="60", **crash)
    await cluster.ready(doomed)
    due = await cluster.arm(20, delays=[1])

    async def all_held() -> bool:
        return {d["entity"] for d in await cluster.started()} == set(due)

    await until(all_held, WAIT, "the doomed worker to start firing every timer")
    cluster.stop(doomed, signal.SIGKILL)
    assert doomed.returncode == -signal.SIGKILL
    assert await cluster.deliveries() == []  # it finished none
    survivor = cluster.start(**crash)
    await cluster.ready(survivor)
    await cluster.wait_done(20)
    fired = await cluster.assert_each_fired_once(due)
    assert {d["pid"] for d in fired} == {survivor.pid}
    await until(cluster.quiet, WAIT, "the survivor to acknowledge every timer")


# ---------------------------------------------------------------------- events
async def test_submitted_events_apply_once_per_idempotency_key_and_dead_letters_replay(
    cluster_factory: Callable[[str], Cluster], redis_server: str
) -> None:
    from pystator.worker import EventQueue

    cluster = cluster_factory("arq")
    worker = cluster.start()
    await cluster.ready(worker)
    settings = cluster.settings
    account = f"{cluster.token}-acct"
    accounts = Orchestrator(
        StateMachine.from_dict(
            {"meta": {"machine_name": "account"}, "states": [{"name": "OPEN", "type": "initial"}]}
        ),
        cluster.store,
    )

    async def applied(entity_id: str) -> int:
        return len(await accounts.async_get_history(entity_id))

    async with EventQueue(
        redis_server, queue_name=settings.queue_name, dead_letter_prefix=settings.prefix + "dead:"
    ) as queue:
        first = await queue.submit(
            "account", account, "deposit", {"amount": 5}, idempotency_key="k1"
        )
        again = await queue.submit(
            "account", account, "deposit", {"amount": 5}, idempotency_key="k1"
        )
        assert first.enqueued
        assert not again.enqueued
        assert first.job_id == again.job_id
        # Other job ids, same key: the worker runs them, the orchestrator applies none.
        for n in range(3):
            extra = await queue.submit(
                "account",
                account,
                "deposit",
                {"amount": 5},
                idempotency_key="k1",
                job_id=f"{first.job_id}:copy{n}",
            )
            assert extra.enqueued
        other = await queue.submit("account", account, "deposit", {"amount": 7})
        assert other.enqueued
        assert other.idempotency_key != "k1"

        async def jobs_done() -> bool:
            return bool(await cluster.redis.zcard(settings.queue_name) == 0)

        await until(jobs_done, WAIT, "the event jobs to run")
        assert await applied(account) == 2

        # A failing event: retried (max_tries=3), then a dead letter; replayed once fixed.
        await cluster.redis.set(settings.broken_flag, "1")
        victim = f"{cluster.token}-victim"
        await queue.submit("account", victim, "deposit", {"amount": 1}, idempotency_key="v1")

        async def one_dead_letter() -> Any:
            return await queue.dead_letters()

        (letter,) = await until(one_dead_letter, WAIT, "a dead letter")
        assert (letter.entity_id, letter.trigger, letter.attempts) == (victim, "deposit", 3)
        assert "the account service is down" in letter.error
        assert await applied(victim) == 0

        await cluster.redis.delete(settings.broken_flag)
        listing = subprocess.run(
            [
                sys.executable,
                "-m",
                "pystator",
                "worker",
                "dead-letters",
                "--redis-url",
                redis_server,
                "--prefix",
                settings.prefix + "dead:",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env=cluster.env,
        )
        assert listing.returncode == 0, listing.stderr
        assert letter.id in listing.stdout
        replay = subprocess.run(
            [
                sys.executable,
                "-m",
                "pystator",
                "worker",
                "replay",
                letter.id,
                "--redis-url",
                redis_server,
                "--prefix",
                settings.prefix + "dead:",
                "--queue",
                settings.queue_name,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env=cluster.env,
        )
        assert replay.returncode == 0, replay.stderr

        async def victim_applied() -> bool:
            return await applied(victim) == 1

        await until(victim_applied, WAIT, "the replayed event")
        assert await queue.dead_letters() == []


def test_every_scheduler_is_a_scheduler() -> None:
    from pystator.runtime.ports import Scheduler
    from pystator.scheduler import ArqScheduler, AsyncioScheduler, RedisScheduler

    # Constructing them opens no connection.
    for scheduler in (AsyncioScheduler(), RedisScheduler(REDIS_URL), ArqScheduler(REDIS_URL)):
        assert isinstance(scheduler, Scheduler)
