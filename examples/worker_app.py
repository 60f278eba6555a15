"""A worker app: the machines ``pystator worker`` serves, with their guards and actions.

Run the worker (Redis on 127.0.0.1:6379; entities in a SQLite file, or set
``PYSTATOR_DATABASE_URL``):

    cd examples && pystator worker --app worker_app:app

queue events from anywhere:

    pystator worker submit order A-1 pay --context '{"amount": 20}'

or, in Python, ``await pystator.worker.submit_event("order", "A-1", "pay", {"amount": 20})``.
An order not paid within 30 seconds expires: the timer is an arq job (``ArqScheduler``), fired
by whichever worker is up when it is due, even if the process that created the order is gone.

``python examples/worker_app.py`` runs the same machine in this process instead (in-memory
store, ``AsyncioScheduler``, a 0.2 s payment window), so you can see it without Redis.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from pystator import Orchestrator, StateMachine

HERE = Path(__file__).resolve().parent


def order_machine(payment_window: str = "30s") -> StateMachine:
    """Orders wait for payment, expire if unpaid, ship when paid in full."""
    return StateMachine.from_dict(
        {
            "meta": {"machine_name": "order", "version": "1.0.0"},
            "states": [
                {"name": "AWAITING_PAYMENT", "type": "initial"},
                {"name": "PAID", "on_enter": ["send_receipt"]},
                {"name": "SHIPPED", "type": "terminal"},
                {"name": "EXPIRED", "type": "terminal", "on_enter": ["release_stock"]},
            ],
            "transitions": [
                {
                    "trigger": "pay",
                    "source": "AWAITING_PAYMENT",
                    "dest": "PAID",
                    "guards": ["covers_total"],
                },
                {"trigger": "ship", "source": "PAID", "dest": "SHIPPED"},
                {"after": payment_window, "source": "AWAITING_PAYMENT", "dest": "EXPIRED"},
            ],
        }
    )


def build(store: Any, scheduler: Any, payment_window: str = "30s") -> dict[str, Orchestrator]:
    """The registry: machine name -> Orchestrator (what ``--app`` may name directly)."""
    machine = order_machine(payment_window)

    @machine.guard("covers_total")
    def covers_total(ctx: dict[str, Any]) -> bool:
        return float(ctx.get("amount", 0)) >= float(ctx.get("total", 20))

    @machine.action("send_receipt")
    def send_receipt(ctx: dict[str, Any]) -> None:
        print(f"receipt: {ctx.get('amount')} paid for order {ctx.get('order_id', '?')}")

    @machine.action("release_stock")
    def release_stock(ctx: dict[str, Any]) -> None:
        print(f"stock released for order {ctx.get('order_id', '?')}")

    orchestrator = Orchestrator(machine, store, scheduler=scheduler)
    return {orchestrator.machine_name: orchestrator}


def app() -> Any:
    """What ``pystator worker --app worker_app:app`` calls, in the worker's event loop."""
    from pystator.scheduler import ArqScheduler
    from pystator.stores import SQLStateStore
    from pystator.worker import WorkerApp

    redis_url = os.environ.get("PYSTATOR_REDIS_URL", "redis://127.0.0.1:6379/0")
    database = os.environ.get("PYSTATOR_DATABASE_URL", f"sqlite:///{HERE / 'orders.db'}")
    orchestrators = build(SQLStateStore(database), ArqScheduler(redis_url))
    return WorkerApp(orchestrators, redis_url=redis_url, max_tries=5, retry_delay=0.5)


async def demo() -> None:
    """The same machine, in this process: no Redis, no worker."""
    from pystator import InMemoryStateStore
    from pystator.scheduler import AsyncioScheduler

    scheduler = AsyncioScheduler()
    orders = build(InMemoryStateStore(), scheduler, payment_window="200ms")["order"]
    await orders.async_create_entity("A-1", {"order_id": "A-1", "total": 20})
    await orders.async_create_entity("A-2", {"order_id": "A-2", "total": 20})
    paid = await orders.async_process_event("A-1", "pay", {"amount": 20})
    print(f"A-1 pay -> {paid.target_state}")
    await asyncio.sleep(0.4)  # A-2's payment window closes
    for entity_id in ("A-1", "A-2"):
        record = await orders.async_get_entity(entity_id)
        assert record is not None
        print(f"{entity_id}: {record.state}")
    await orders.close()
    print("worker_app: done")


if __name__ == "__main__":
    asyncio.run(demo())
