"""Persistence by entity id: an order workflow kept in SQLite by the ``Orchestrator``.

Shows: events that move orders (one atomic, version-checked write each), an idempotent retry
that is replayed instead of applied twice, a rejected event that writes nothing, the
history of an order, listing orders by state, and ``recover()`` running the actions a
"crashed" process left in the outbox. The database is a file in a temporary directory, so
the script runs from anywhere and leaves nothing behind.

Run: ``python examples/orchestrator_sqlite.py``
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from pystator import ActionRegistry, GuardRegistry, Orchestrator, StateMachine
from pystator.errors import IdempotencyConflictError
from pystator.stores import SQLStateStore

ORDER_WORKFLOW: dict[str, Any] = {
    "meta": {"version": "1.0.0", "machine_name": "order_workflow", "strict_mode": True},
    "states": [
        {"name": "PENDING", "type": "initial"},
        {"name": "OPEN"},
        {"name": "PARTIALLY_FILLED"},
        {"name": "FILLED", "type": "terminal"},
        {"name": "CANCELLED", "type": "terminal"},
    ],
    "transitions": [
        {
            "trigger": "exchange_ack",
            "source": "PENDING",
            "dest": "OPEN",
            "actions": [{"name": "notify", "params": {"channel": "trading"}}],
        },
        {
            "trigger": "execution_report",
            "source": ["OPEN", "PARTIALLY_FILLED"],
            "dest": "FILLED",
            "guards": ["is_full_fill"],
            "actions": [
                {"name": "update_positions", "params": {"book": "main"}},
                {"name": "notify", "params": {"channel": "settlement"}},
            ],
        },
        {
            "trigger": "execution_report",
            "source": ["OPEN", "PARTIALLY_FILLED"],
            "dest": "PARTIALLY_FILLED",
            "actions": [{"name": "update_positions", "params": {"book": "main"}}],
        },
        {
            "trigger": "cancel",
            "source": ["PENDING", "OPEN", "PARTIALLY_FILLED"],
            "dest": "CANCELLED",
        },
    ],
}

guards = GuardRegistry()
guards.register("is_full_fill", lambda ctx: ctx.get("filled_qty", 0) >= ctx.get("order_qty", 0))

done_ids: set[str] = set()
"""Action ids already handled: actions run at least once, so they deduplicate by this id."""


def update_positions(ctx: dict[str, Any], action_id: str, book: str) -> None:
    if action_id in done_ids:
        return
    done_ids.add(action_id)
    print(f"  action update_positions [{action_id}]: book={book} filled={ctx['filled_qty']}")


def notify(ctx: dict[str, Any], action_id: str, channel: str) -> None:
    if action_id in done_ids:
        return
    done_ids.add(action_id)
    print(f"  action notify [{action_id}]: channel={channel} order={ctx['order_id']}")


actions = ActionRegistry()
actions.register("update_positions", update_positions)
actions.register("notify", notify)


def show(label: str, result: Any) -> None:
    if result.success:
        replayed = " (replayed, not applied again)" if result.metadata.get("replayed") else ""
        print(f"{label}: {result.source_state} --> {result.target_state}{replayed}")
    else:
        print(f"{label}: rejected, {result.error.code.value}: {result.error.message}")


def version_of(orders: Orchestrator, order_id: str) -> int:
    entity = orders.get_entity(order_id)
    return entity.version if entity is not None else 0


def main() -> None:
    machine = StateMachine.from_dict(ORDER_WORKFLOW)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'orders.db'}"
        store = SQLStateStore(url)
        orders = Orchestrator(machine, store, guards=guards, actions=actions)

        print("== events for order A-1 (a new id starts in the initial state)")
        ack = {"order_id": "A-1", "order_qty": 100}
        show("exchange_ack", orders.process_event("A-1", "exchange_ack", ack, idempotency_key="a1"))
        fill = {"filled_qty": 40}
        show(
            "fill 40/100",
            orders.process_event("A-1", "execution_report", fill, idempotency_key="f1"),
        )

        print("== the client retries the fill (same key, same payload)")
        retry = orders.process_event("A-1", "execution_report", fill, idempotency_key="f1")
        show("retry of f1", retry)
        print(f"version after the retry: {version_of(orders, 'A-1')}")
        try:
            orders.process_event(
                "A-1", "execution_report", {"filled_qty": 99}, idempotency_key="f1"
            )
        except IdempotencyConflictError as exc:
            print(f"same key, another payload: {type(exc).__name__}")

        full = {"filled_qty": 100}
        show(
            "fill 100/100",
            orders.process_event("A-1", "execution_report", full, idempotency_key="f2"),
        )
        before = version_of(orders, "A-1")
        show("cancel", orders.process_event("A-1", "cancel"))
        print(f"a rejected event writes nothing: version {before} -> {version_of(orders, 'A-1')}")

        print("== history of A-1")
        for row in orders.get_history("A-1"):
            print(
                f"v{row.version} {row.source_state} --{row.trigger}--> {row.target_state} "
                f"changes={row.context_changes}"
            )

        print("== a process commits B-7 and dies before running its actions")
        crashed = Orchestrator(
            machine, SQLStateStore(url), guards=guards, actions=actions, run_actions=False
        )
        show(
            "B-7 exchange_ack",
            crashed.process_event("B-7", "exchange_ack", {"order_id": "B-7", "order_qty": 5}),
        )
        pending = [item.id for item in store.pending_actions(now=1e12)]
        print(f"outbox after the crash: {pending}")
        crashed.store.close()

        print("== a new process starts and calls recover()")
        restarted = Orchestrator(machine, SQLStateStore(url), guards=guards, actions=actions)
        print(f"recover() ran {restarted.recover()} action(s)")
        print(f"recover() again ran {restarted.recover()} action(s)")

        for state in ("OPEN", "FILLED"):
            page = restarted.list_entities(state=state)
            print(f"orders in {state}: {[e.entity_id for e in page.items]} (total {page.total})")
        restarted.store.close()
        store.close()
    print("orchestrator_sqlite: done")


if __name__ == "__main__":
    main()
