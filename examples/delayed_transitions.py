"""Delayed transitions and state timeouts with the Orchestrator and ``AsyncioScheduler``.

    python examples/delayed_transitions.py

An order that is not acknowledged within 300 ms expires (``after``); an acknowledged order
that gets no fill within 500 ms is closed (a state ``timeout``). Entering a state arms its
timers, leaving it cancels them, and a timer fires through the orchestrator with its id, so
a timer whose state was left does nothing. The second half does the same on a manual clock,
the way tests drive timers without sleeping.

For timers that survive restarts and fire on any replica, use ``RedisScheduler`` or
``ArqScheduler`` (see docs/guides/schedulers.md): the orchestrator code stays the same.
"""

from __future__ import annotations

import asyncio

from pystator import InMemoryStateStore, Orchestrator, StateMachine
from pystator.runtime.clock import ManualClock
from pystator.scheduler import AsyncioScheduler

DEFINITION = {
    "meta": {"machine_name": "timed_order", "version": "1.0.0"},
    "states": [
        {"name": "PENDING", "type": "initial"},
        {"name": "OPEN", "timeout": {"seconds": 0.5, "destination": "CLOSED"}},
        {"name": "FILLED", "type": "terminal"},
        {"name": "EXPIRED", "type": "terminal"},
        {"name": "CLOSED", "type": "terminal"},
    ],
    "transitions": [
        {"trigger": "ack", "source": "PENDING", "dest": "OPEN"},
        {"trigger": "fill", "source": "OPEN", "dest": "FILLED"},
        {"after": "300ms", "source": "PENDING", "dest": "EXPIRED"},
    ],
}


async def state_of(orchestrator: Orchestrator, entity_id: str) -> str:
    record = await orchestrator.async_get_entity(entity_id)
    assert record is not None
    return record.state


async def on_the_wall_clock() -> None:
    machine = StateMachine.from_dict(DEFINITION)
    scheduler = AsyncioScheduler()
    orders = Orchestrator(machine, InMemoryStateStore(), scheduler=scheduler)

    for order_id in ("A-1", "A-2", "A-3"):
        record = await orders.async_create_entity(order_id)
    print(f"armed for A-3: {[t.id for t in record.timers]}")
    await orders.async_process_event("A-2", "ack")  # leaves PENDING: its timer is cancelled
    await orders.async_process_event("A-3", "ack")
    await orders.async_process_event("A-3", "fill")
    print(f"waiting timers: {sorted((t.entity_id, t.timer_id) for t in scheduler.pending)}")

    await asyncio.sleep(0.9)  # A-1 expires at 0.3 s, A-2 is closed at 0.5 s
    for order_id in ("A-1", "A-2", "A-3"):
        print(f"{order_id}: {await state_of(orders, order_id)}")
    print(f"timers fired: {scheduler.fired}")
    await orders.close()


async def on_a_manual_clock() -> None:
    clock = ManualClock(0.0)
    scheduler = AsyncioScheduler(clock=clock, autostart=False)
    orders = Orchestrator(
        StateMachine.from_dict(DEFINITION), InMemoryStateStore(), scheduler=scheduler, clock=clock
    )
    await orders.async_create_entity("B-1")
    clock.advance(0.299)
    print(f"at 0.299 s: {await scheduler.run_due()} fired, B-1 {await state_of(orders, 'B-1')}")
    clock.advance(0.001)
    print(f"at 0.300 s: {await scheduler.run_due()} fired, B-1 {await state_of(orders, 'B-1')}")

    # A timer whose state was left does nothing, even when nobody cancelled it.
    await orders.async_create_entity("B-2")
    await orders.async_process_event("B-2", "ack")
    stale = await orders.async_fire_timer("B-2", "PENDING:after:2@1")
    print(f"stale timer: success={stale.success} reason={stale.metadata['reason']}")
    await orders.close()


async def main() -> None:
    await on_the_wall_clock()
    await on_a_manual_clock()
    print("delayed_transitions: done")


if __name__ == "__main__":
    asyncio.run(main())
