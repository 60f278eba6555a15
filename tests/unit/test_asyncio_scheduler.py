"""AsyncioScheduler through an Orchestrator with InMemoryStateStore, on a manual clock.

Time moves only when a test says so (``ManualClock``); ``run_due()`` fires what is due.
Covers: which timers are armed (initial state of a new entity, states reached by eventless
steps, compound and parallel states, state timeouts), cancelling on exit, firing order, and
timers whose state was left (or left and entered again) doing nothing. Also the scheduler
layer's one timer type, ``TimerRecord`` (alias ``ScheduledTimer``), and the JSON the Redis
schedulers store it as, which must not change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from pystator import InMemoryStateStore, Orchestrator, StateMachine
from pystator.models.snapshot import TimerSnapshot
from pystator.runtime.clock import ManualClock
from pystator.scheduler import AsyncioScheduler

T0 = 1_000.0


def machine(states: list[dict[str, Any]], transitions: list[dict[str, Any]]) -> StateMachine:
    return StateMachine.from_dict(
        {"meta": {"machine_name": "m"}, "states": states, "transitions": transitions}
    )


class Rig:
    """An orchestrator, its scheduler and the clock they share."""

    def __init__(self, sm: StateMachine, *, timer_skew: float = 1.0) -> None:
        self.clock = ManualClock(T0)
        self.scheduler = AsyncioScheduler(clock=self.clock, autostart=False)
        self.store = InMemoryStateStore()
        self.orchestrator = Orchestrator(
            sm, self.store, scheduler=self.scheduler, clock=self.clock, timer_skew=timer_skew
        )

    def pending(self) -> list[tuple[str, str, float]]:
        return [(t.entity_id, t.timer_id, t.due) for t in self.scheduler.pending]

    async def state(self, entity_id: str) -> str:
        record = await self.orchestrator.async_get_entity(entity_id)
        assert record is not None
        return record.state

    async def advance(self, seconds: float) -> int:
        self.clock.advance(seconds)
        return await self.scheduler.run_due()


ORDER = machine(
    [
        {"name": "PENDING", "type": "initial"},
        {"name": "OPEN"},
        {"name": "EXPIRED", "type": "terminal"},
        {"name": "CLOSED", "type": "terminal"},
    ],
    [
        {"trigger": "ack", "source": "PENDING", "dest": "OPEN"},
        {"trigger": "close", "source": ["PENDING", "OPEN"], "dest": "CLOSED"},
        {"trigger": "reopen", "source": "OPEN", "dest": "PENDING"},
        {"after": "30s", "source": "PENDING", "dest": "EXPIRED"},
        {"after": "1m", "source": "OPEN", "dest": "CLOSED"},
    ],
)


async def test_a_new_entity_arms_the_timers_of_its_initial_state() -> None:
    rig = Rig(ORDER)
    record = await rig.orchestrator.async_create_entity("o1")
    assert record.timers == [
        TimerSnapshot(id="PENDING:after:3@1", key="PENDING:after:3", trigger="after:3", due=T0 + 30)
    ]
    assert rig.pending() == [("o1", "PENDING:after:3@1", T0 + 30)]
    assert await rig.advance(29.9) == 0
    assert await rig.advance(0.1) == 1
    assert await rig.state("o1") == "EXPIRED"
    assert rig.pending() == []


async def test_an_entity_created_by_its_first_event_arms_the_timers_it_ends_in() -> None:
    rig = Rig(ORDER)
    await rig.orchestrator.async_process_event("o1", "ack")
    assert rig.pending() == [("o1", "OPEN:after:4@1", T0 + 60)]
    assert await rig.advance(60) == 1
    assert await rig.state("o1") == "CLOSED"


async def test_leaving_a_state_cancels_its_timers_and_entering_arms_new_ones() -> None:
    rig = Rig(ORDER)
    await rig.orchestrator.async_create_entity("o1")
    await rig.advance(10)
    await rig.orchestrator.async_process_event("o1", "ack")
    assert rig.pending() == [("o1", "OPEN:after:4@2", T0 + 70)]
    await rig.advance(10)
    await rig.orchestrator.async_process_event("o1", "reopen")  # re-enters PENDING
    assert rig.pending() == [("o1", "PENDING:after:3@3", T0 + 50)]
    assert await rig.advance(29) == 0  # the first PENDING timer (due T0 + 30) is gone
    assert await rig.state("o1") == "PENDING"
    assert await rig.advance(1) == 1
    assert await rig.state("o1") == "EXPIRED"


async def test_timers_fire_soonest_first_across_entities() -> None:
    fired: list[str] = []
    rig = Rig(ORDER)
    original = rig.orchestrator.afire_timer

    async def spy(entity_id: str, timer_id: str) -> Any:
        fired.append(entity_id)
        return await original(entity_id, timer_id)

    rig.orchestrator.afire_timer = spy  # type: ignore[method-assign]
    await rig.orchestrator.async_process_event("c", "ack")  # OPEN: due T0 + 60
    await rig.orchestrator.async_create_entity("b")  # PENDING: due T0 + 30
    rig.clock.advance(1)
    await rig.orchestrator.async_create_entity("a")  # PENDING: due T0 + 31
    assert await rig.advance(100) == 3
    assert fired == ["b", "a", "c"]


async def test_entities_with_the_same_timer_id_each_get_their_timer() -> None:
    rig = Rig(ORDER)
    for name in ("a", "b", "c"):
        await rig.orchestrator.async_create_entity(name)
    assert [t for _, t, _ in rig.pending()] == ["PENDING:after:3@1"] * 3
    assert await rig.advance(30) == 3
    assert {await rig.state(n) for n in ("a", "b", "c")} == {"EXPIRED"}


async def test_a_timer_whose_state_was_left_does_nothing_even_if_the_cancel_was_lost() -> None:
    rig = Rig(ORDER)
    await rig.orchestrator.async_create_entity("o1")
    # Another replica moves the entity on without telling this scheduler.
    elsewhere = Orchestrator(ORDER, rig.store, clock=rig.clock)
    await elsewhere.async_process_event("o1", "ack")
    assert rig.pending() == [("o1", "PENDING:after:3@1", T0 + 30)]
    result = await rig.orchestrator.async_fire_timer("o1", "PENDING:after:3@1")
    assert not result.success
    assert result.metadata["reason"] == "stale_timer"
    assert await rig.advance(30) == 1
    assert await rig.state("o1") == "OPEN"
    history = await rig.orchestrator.async_get_history("o1")
    assert [h.trigger for h in history] == ["__create__", "ack"]


async def test_a_timer_of_a_state_left_and_entered_again_does_nothing() -> None:
    rig = Rig(ORDER)
    await rig.orchestrator.async_create_entity("o1")
    elsewhere = Orchestrator(ORDER, rig.store, clock=rig.clock)
    await elsewhere.async_process_event("o1", "ack")
    await elsewhere.async_process_event("o1", "reopen")  # PENDING again, a new timer id
    record = await elsewhere.async_get_entity("o1")
    assert record is not None
    assert [t.id for t in record.timers] == ["PENDING:after:3@3"]
    assert await rig.advance(30) == 1  # the old id fires: a no-op
    assert await rig.state("o1") == "PENDING"
    result = await rig.orchestrator.async_fire_timer("o1", "PENDING:after:3@3")
    assert result.success
    assert await rig.state("o1") == "EXPIRED"


async def test_a_timer_fired_early_is_refused_as_not_due() -> None:
    rig = Rig(ORDER, timer_skew=1.0)
    await rig.orchestrator.async_create_entity("o1")
    rig.clock.advance(28.5)
    result = await rig.orchestrator.async_fire_timer("o1", "PENDING:after:3@1")
    assert result.metadata["reason"] == "timer_not_due"
    rig.clock.advance(0.6)  # within timer_skew of the due time
    result = await rig.orchestrator.async_fire_timer("o1", "PENDING:after:3@1")
    assert result.success


async def test_the_scheduler_retries_a_timer_the_orchestrator_finds_not_due() -> None:
    rig = Rig(ORDER, timer_skew=0.0)
    behind = ManualClock(T0)
    rig.orchestrator.clock = behind  # the orchestrator's clock lags the scheduler's
    await rig.orchestrator.async_create_entity("o1")
    assert await rig.advance(30) == 1
    assert await rig.state("o1") == "PENDING"
    assert len(rig.pending()) == 1  # kept, due again shortly
    behind.advance(31)
    assert await rig.advance(1) == 1
    assert await rig.state("o1") == "EXPIRED"


async def test_states_reached_by_eventless_steps_arm_their_timers() -> None:
    sm = machine(
        [
            {"name": "START", "type": "initial"},
            {"name": "ROUTE"},
            {"name": "FAST"},
            {"name": "SLOW"},
            {"name": "DONE", "type": "terminal"},
        ],
        [
            {"source": "START", "dest": "ROUTE", "auto": True},
            {"source": "ROUTE", "dest": "FAST", "auto": True, "guards": [{"expr": "fast"}]},
            {"source": "ROUTE", "dest": "SLOW", "auto": True},
            {"after": "1s", "source": "FAST", "dest": "DONE"},
            {"after": "10s", "source": "SLOW", "dest": "DONE"},
            {"after": "5s", "source": "ROUTE", "dest": "DONE"},
            {"trigger": "again", "source": ["FAST", "SLOW"], "dest": "ROUTE"},
        ],
    )
    rig = Rig(sm)
    fast = await rig.orchestrator.async_create_entity("f", {"fast": True})
    slow = await rig.orchestrator.async_create_entity("s", {"fast": False})
    assert (fast.state, [t.key for t in fast.timers]) == ("FAST", ["FAST:after:3"])
    assert (slow.state, [t.key for t in slow.timers]) == ("SLOW", ["SLOW:after:4"])
    # An event whose target is left again by an eventless step: only the final state's
    # timers are armed (ROUTE's 5 s timer never is).
    await rig.orchestrator.async_process_event("s", "again")
    assert rig.pending() == [("f", "FAST:after:3@1", T0 + 1), ("s", "SLOW:after:4@2", T0 + 10)]
    assert await rig.advance(1) == 1
    assert await rig.state("f") == "DONE"
    assert await rig.advance(9) == 1
    assert await rig.state("s") == "DONE"


async def test_compound_states_arm_parent_and_child_timers_and_keep_the_parents() -> None:
    sm = machine(
        [
            {"name": "IDLE", "type": "initial"},
            {"name": "WORKING", "initial_child": "STEP1"},
            {"name": "STEP1", "parent": "WORKING"},
            {"name": "STEP2", "parent": "WORKING"},
            {"name": "STUCK", "type": "terminal"},
            {"name": "SKIPPED", "type": "terminal"},
        ],
        [
            {"trigger": "start", "source": "IDLE", "dest": "WORKING"},
            {"trigger": "next", "source": "STEP1", "dest": "STEP2"},
            {"after": "2s", "source": "STEP1", "dest": "STEP2"},
            {"after": "10s", "source": "WORKING", "dest": "STUCK"},
            {"trigger": "skip", "source": "WORKING", "dest": "SKIPPED"},
        ],
    )
    rig = Rig(sm)
    await rig.orchestrator.async_process_event("w", "start")
    assert sorted(t for _, t, _ in rig.pending()) == ["STEP1:after:2@1", "WORKING:after:3@1"]
    await rig.advance(1)
    await rig.orchestrator.async_process_event("w", "next")  # STEP1 -> STEP2 inside WORKING
    assert rig.pending() == [("w", "WORKING:after:3@1", T0 + 10)]
    assert await rig.advance(9) == 1
    assert await rig.state("w") == "STUCK"

    await rig.orchestrator.async_process_event("x", "start")
    await rig.orchestrator.async_process_event("x", "skip")  # leaves WORKING and STEP1
    assert [e for e, _, _ in rig.pending()] == []


async def test_parallel_regions_arm_their_timers_independently() -> None:
    sm = machine(
        [
            {"name": "OFF", "type": "initial"},
            {
                "name": "ON",
                "type": "parallel",
                "regions": [
                    {"name": "feed", "initial": "CONNECTING", "states": ["CONNECTING", "LIVE"]},
                    {"name": "risk", "initial": "CALM", "states": ["CALM", "ALARM"]},
                ],
            },
        ],
        [
            {"trigger": "power", "source": "OFF", "dest": "ON"},
            {"after": "1s", "source": "CONNECTING", "dest": "LIVE"},
            {"after": "3s", "source": "CALM", "dest": "ALARM"},
            {"trigger": "halt", "source": "ON", "dest": "OFF"},
        ],
    )
    rig = Rig(sm)
    await rig.orchestrator.async_process_event("p", "power")
    assert rig.pending() == [
        ("p", "CONNECTING:after:1@1", T0 + 1),
        ("p", "CALM:after:2@1", T0 + 3),
    ]
    await rig.advance(1)
    assert await rig.state("p") == "ON(feed=LIVE, risk=CALM)"
    assert rig.pending() == [("p", "CALM:after:2@1", T0 + 3)]
    await rig.advance(2)
    assert await rig.state("p") == "ON(feed=LIVE, risk=ALARM)"
    await rig.orchestrator.async_process_event("q", "power")
    await rig.orchestrator.async_process_event("q", "halt")  # every region's timer goes
    assert rig.pending() == []


async def test_state_timeouts_are_armed_like_delayed_transitions() -> None:
    sm = machine(
        [
            {
                "name": "WAITING",
                "type": "initial",
                "timeout": {"seconds": 2.5, "destination": "LATE"},
            },
            {"name": "LATE", "type": "terminal"},
            {"name": "OK", "type": "terminal"},
        ],
        [{"trigger": "reply", "source": "WAITING", "dest": "OK"}],
    )
    rig = Rig(sm)
    await rig.orchestrator.async_create_entity("a")
    await rig.orchestrator.async_create_entity("b")
    assert rig.pending() == [
        ("a", "WAITING:timeout@1", T0 + 2.5),
        ("b", "WAITING:timeout@1", T0 + 2.5),
    ]
    await rig.orchestrator.async_process_event("b", "reply")
    assert await rig.advance(2.5) == 1
    assert (await rig.state("a"), await rig.state("b")) == ("LATE", "OK")


async def test_a_guard_on_a_delayed_transition_is_checked_when_it_fires() -> None:
    sm = machine(
        [{"name": "A", "type": "initial"}, {"name": "B"}],
        [{"after": "1s", "source": "A", "dest": "B", "guards": [{"expr": "ready"}]}],
    )
    rig = Rig(sm)
    await rig.orchestrator.async_create_entity("no", {"ready": False})
    await rig.orchestrator.async_create_entity("yes", {"ready": True})
    assert await rig.advance(1) == 2
    assert (await rig.state("no"), await rig.state("yes")) == ("A", "B")


def test_sync_orchestrator_arms_through_the_sync_schedule() -> None:
    rig = Rig(ORDER)
    rig.orchestrator.create_entity("o1")
    rig.orchestrator.process_event("o2", "ack")
    assert rig.pending() == [
        ("o1", "PENDING:after:3@1", T0 + 30),
        ("o2", "OPEN:after:4@1", T0 + 60),
    ]
    rig.orchestrator.process_event("o1", "close")
    assert rig.pending() == [("o2", "OPEN:after:4@1", T0 + 60)]


async def test_a_failing_firing_is_logged_and_the_others_still_fire(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = Rig(ORDER)
    await rig.orchestrator.async_create_entity("bad")
    await rig.orchestrator.async_create_entity("good")
    original = rig.orchestrator.afire_timer

    async def flaky(entity_id: str, timer_id: str) -> Any:
        if entity_id == "bad":
            raise RuntimeError("boom")
        return await original(entity_id, timer_id)

    rig.orchestrator.afire_timer = flaky  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="pystator.scheduler"):
        assert await rig.advance(30) == 2
    assert "boom" in caplog.text
    assert await rig.state("good") == "EXPIRED"


async def test_the_background_task_fires_on_the_wall_clock() -> None:
    sm = machine(
        [{"name": "A", "type": "initial"}, {"name": "B"}],
        [{"after": "50ms", "source": "A", "dest": "B"}],
    )
    scheduler = AsyncioScheduler(max_sleep=0.2)
    orchestrator = Orchestrator(sm, InMemoryStateStore(), scheduler=scheduler)
    await orchestrator.async_create_entity("e")
    # Wait for the firing, however busy the machine is; the deadline is only for a broken
    # scheduler (the timer is due after 50 ms).
    deadline = time.monotonic() + 60
    while scheduler.fired == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    record = await orchestrator.async_get_entity("e")
    assert record is not None
    assert record.state == "B"
    assert scheduler.fired == 1
    await orchestrator.close()


async def test_rearm_from_store_gives_a_restarted_process_its_timers_back() -> None:
    from pystator.scheduler import rearm_from_store

    rig = Rig(ORDER)
    for name in ("a", "b", "c"):
        await rig.orchestrator.async_create_entity(name)
    await rig.orchestrator.async_process_event("c", "ack")
    # The process restarts: a new scheduler, empty; the store kept the entities.
    fresh = AsyncioScheduler(clock=rig.clock, autostart=False)
    again = Orchestrator(ORDER, rig.store, scheduler=fresh, clock=rig.clock)
    assert await rearm_from_store(fresh, again, page_size=2) == 3
    assert [(t.entity_id, t.timer_id) for t in fresh.pending] == [
        ("a", "PENDING:after:3@1"),
        ("b", "PENDING:after:3@1"),
        ("c", "OPEN:after:4@2"),
    ]
    rig.clock.advance(30)
    assert await fresh.run_due() == 2
    assert await rearm_from_store(fresh, again) == 1  # only c's timer is still armed
    assert len(fresh.pending) == 1


async def test_a_scheduler_failure_after_the_commit_does_not_fail_the_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from pystator.scheduler import rearm_from_store

    class Down(AsyncioScheduler):
        def schedule(self, *args: Any, **kwargs: Any) -> None:
            raise ConnectionError("scheduler unreachable")

        async def aschedule(self, *args: Any, **kwargs: Any) -> None:
            raise ConnectionError("scheduler unreachable")

    clock = ManualClock(T0)
    store = InMemoryStateStore()
    down = Orchestrator(ORDER, store, scheduler=Down(clock=clock, autostart=False), clock=clock)
    with caplog.at_level(logging.ERROR, logger="pystator.orchestrator"):
        record = await down.async_create_entity("a")
        result = down.process_event("b", "ack")
    assert record.state == "PENDING"
    assert result.success
    failed = [r for r in caplog.records if "scheduler failed to arm" in r.message]
    assert len(failed) == 2
    assert all(r.exc_info for r in failed)  # not an outage: with its traceback

    # The timers are recorded on the entities; a working scheduler gets them back.
    scheduler = AsyncioScheduler(clock=clock, autostart=False)
    up = Orchestrator(ORDER, store, scheduler=scheduler, clock=clock)
    assert await rearm_from_store(scheduler, up) == 2
    clock.advance(60)
    assert await scheduler.run_due() == 2
    assert [(await up.async_get_entity(n)).state for n in ("a", "b")] == ["EXPIRED", "CLOSED"]  # type: ignore[union-attr]


# One timer type for the scheduler layer: ``TimerRecord`` (``ScheduledTimer`` is its alias).

# What RedisScheduler and ArqScheduler store today (the ``records`` and ``dead`` hashes):
# compact JSON, keys in this order, ``error`` only on dead timers. Stored timers outlive
# upgrades, so these exact bytes must keep loading and keep being written.
STORED_ARMED = (
    '{"machine_name":"m","entity_id":"o|1","timer_id":"PENDING:after:3@1",'
    '"trigger":"after:3","due":1030.0,"attempts":0}'
)
STORED_DEAD = (
    '{"machine_name":"m","entity_id":"o|1","timer_id":"PENDING:after:3@1",'
    '"trigger":"after:3","due":1030.0,"attempts":10,"error":"ValueError: boom"}'
)


def test_scheduled_timer_is_the_one_timer_record_under_every_import_path() -> None:
    from pystator import scheduler
    from pystator.scheduler import asyncio_scheduler, redis_timers, timer_record

    assert scheduler.ScheduledTimer is scheduler.TimerRecord is timer_record.TimerRecord
    assert asyncio_scheduler.ScheduledTimer is timer_record.TimerRecord
    assert redis_timers.TimerRecord is timer_record.TimerRecord
    assert redis_timers.member_of is timer_record.member_of
    assert {"ScheduledTimer", "TimerRecord"} <= set(scheduler.__all__)


async def test_pending_lists_timer_records() -> None:
    from pystator.scheduler import ScheduledTimer, TimerRecord

    rig = Rig(ORDER)
    await rig.orchestrator.async_create_entity("o1")
    expected = TimerRecord(
        machine_name="m",
        entity_id="o1",
        timer_id="PENDING:after:3@1",
        trigger="after:3",
        due=T0 + 30,
    )
    assert rig.scheduler.pending == [expected]
    (timer,) = rig.scheduler.pending
    assert isinstance(timer, ScheduledTimer)
    assert (timer.attempts, timer.error, timer.member) == (0, None, "PENDING:after:3@1|o1")


def test_a_record_stored_in_todays_redis_format_reads_back_equal() -> None:
    from pystator.scheduler.timer_record import TimerRecord

    armed = TimerRecord(
        machine_name="m",
        entity_id="o|1",
        timer_id="PENDING:after:3@1",
        trigger="after:3",
        due=1030.0,
    )
    dead = TimerRecord(
        machine_name="m",
        entity_id="o|1",
        timer_id="PENDING:after:3@1",
        trigger="after:3",
        due=1030.0,
        attempts=10,
        error="ValueError: boom",
    )
    for stored, record in ((STORED_ARMED, armed), (STORED_DEAD, dead)):
        assert TimerRecord.from_json(stored) == record
        assert TimerRecord.from_json(stored.encode()) == record  # redis-py returns bytes
        assert record.to_json() == stored
    assert armed.failed("ValueError: boom").failed("x") == TimerRecord(
        machine_name="m",
        entity_id="o|1",
        timer_id="PENDING:after:3@1",
        trigger="after:3",
        due=1030.0,
        attempts=2,
        error="x",
    )
    # Records written before attempts were counted load with none.
    assert TimerRecord.from_json(STORED_ARMED.replace(',"attempts":0', "")) == armed


def test_arming_in_redis_writes_todays_format() -> None:
    from pystator.scheduler.redis_timers import TimerBook

    arm = [
        TimerSnapshot(id="PENDING:after:3@1", key="PENDING:after:3", trigger="after:3", due=1030.0)
    ]
    args = TimerBook.arm_args("m", "o|1", arm, ["OPEN:after:4@2"])
    assert args == ["1", "OPEN:after:4@2|o|1", "PENDING:after:3@1|o|1", "1030.0", STORED_ARMED]


async def test_a_scheduler_outage_is_one_line_per_event_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from pystator.errors import StoreUnavailableError

    class Unreachable(AsyncioScheduler):
        def schedule(self, *args: Any, **kwargs: Any) -> None:
            raise StoreUnavailableError("Redis at 127.0.0.1:6379 refused the connection")

    clock = ManualClock(T0)
    sched = Unreachable(clock=clock, autostart=False)
    down = Orchestrator(ORDER, InMemoryStateStore(), scheduler=sched, clock=clock)
    with caplog.at_level(logging.ERROR, logger="pystator.orchestrator"):
        assert down.process_event("b", "ack").success
    [line] = [r for r in caplog.records if "scheduler failed to arm" in r.message]
    assert not line.exc_info
    assert line.getMessage().endswith("refused the connection")


async def test_deleting_an_entity_cancels_its_timers() -> None:
    """The orchestrator owns the scheduler: every caller of ``delete_entity`` (the HTTP API
    among them) gets the deleted entity's timers cancelled, sync and async alike."""
    rig = Rig(ORDER)
    await rig.orchestrator.async_create_entity("o1")
    await rig.orchestrator.async_create_entity("o2")
    assert [e for e, _, _ in rig.pending()] == ["o1", "o2"]
    assert rig.orchestrator.delete_entity("o1")
    assert [e for e, _, _ in rig.pending()] == ["o2"]
    assert await rig.orchestrator.adelete_entity("o2")
    assert rig.pending() == []
    assert not rig.orchestrator.delete_entity("o2")  # already gone: nothing to cancel
    assert await rig.advance(60) == 0


async def test_a_failed_cancel_on_delete_is_logged_and_the_delete_stands(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Down(AsyncioScheduler):
        def schedule(self, *args: Any, **kwargs: Any) -> None:
            raise ConnectionError("scheduler unreachable")

    clock = ManualClock(T0)
    store = InMemoryStateStore()
    up = Orchestrator(ORDER, store, clock=clock)
    up.create_entity("o1")
    down = Orchestrator(ORDER, store, scheduler=Down(clock=clock, autostart=False), clock=clock)
    with caplog.at_level(logging.WARNING, logger="pystator.orchestrator"):
        assert down.delete_entity("o1")
    assert down.get_entity("o1") is None
    assert "could not cancel timers ['PENDING:after:3@1']" in caplog.text
    assert "scheduler unreachable" in caplog.text
