"""Order lifecycle: load a machine, register guards and actions, process events, hold an entity.

Run it from anywhere:

    python examples/basic_usage.py

It walks through the three ways of using PyStator, from the purest to the most convenient:

1. ``machine.process(state, trigger, context)``: pure computation, nothing runs.
2. ``ActionExecutor``: run the actions of a result yourself, after you persisted the new state.
3. ``EntitySession``: one entity in memory; ``send`` moves it, merges the payload into its
   context and runs the bound actions; ``snapshot`` / ``from_snapshot`` store and restore it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pystator import (
    ActionExecutor,
    EntitySession,
    GuardRejectedError,
    MetricsCollector,
    StateMachine,
    TransitionResult,
)

HERE = Path(__file__).resolve().parent


def heading(title: str) -> None:
    print(f"\n=== {title} ===")


def describe(result: TransitionResult) -> str:
    """One line per result: where it went and what it asks the caller to run."""
    if result.success:
        actions = ", ".join(result.all_actions) or "no actions"
        return (
            f"{result.source_state} --{result.trigger}--> {result.target_state} "
            f"[actions: {actions}]"
        )
    return (
        f"{result.source_state} --{result.trigger}--> failed: {result.metadata['reason']} "
        f"({type(result.error).__name__})"
    )


def quick_start() -> None:
    heading("1. Quick start: current state + event -> next state")
    machine = StateMachine.from_yaml(HERE / "order_fsm.yaml")
    print(f"loaded {machine!r}")
    print(f"initial state: {machine.get_initial_state()}")
    result = machine.process("PENDING", "exchange_ack", {})
    print(describe(result))
    print(f"success={result.success} target_state={result.target_state}")


def build_workflow() -> StateMachine:
    """The richer order machine, with its guards and actions registered by decorator."""
    machine = StateMachine.from_yaml(HERE / "order_workflow_fsm.yaml")

    # Guards decide whether a transition may fire: pure functions of the context.
    # ``fill_qty`` is the cumulative quantity the exchange reports as filled.
    @machine.guard("is_full_fill")
    def is_full_fill(ctx: dict[str, Any]) -> bool:
        return bool(ctx.get("fill_qty", 0) >= ctx.get("order_qty", 1))

    @machine.guard("is_partial_fill")
    def is_partial_fill(ctx: dict[str, Any]) -> bool:
        return bool(0 < ctx.get("fill_qty", 0) < ctx.get("order_qty", 1))

    # Actions are side effects; ``params`` from the YAML arrive as keyword arguments.
    @machine.action("update_positions")
    def update_positions(ctx: dict[str, Any], book: str) -> None:
        print(
            f"    action update_positions: book={book} order={ctx.get('order_id')} "
            f"filled={ctx.get('fill_qty')}/{ctx.get('order_qty')}"
        )

    @machine.action("notify")
    def notify(ctx: dict[str, Any], channel: str) -> None:
        print(f"    action notify: channel={channel} order={ctx.get('order_id')}")

    return machine


def stateless_processing(machine: StateMachine) -> None:
    heading("2. Stateless processing: results, not exceptions")
    order = {"order_id": "A-1", "order_qty": 100}
    steps = [
        ("PENDING", "exchange_ack", order),
        ("OPEN", "execution_report", {**order, "fill_qty": 40}),
        ("PARTIALLY_FILLED", "execution_report", {**order, "fill_qty": 100}),
        ("OPEN", "execution_report", {**order, "fill_qty": 0}),  # no guard passes
        ("PENDING", "execution_report", order),  # defined, but not from PENDING
        ("OPEN", "teleport", order),  # defined nowhere
        ("FILLED", "cancel", order),  # terminal states are final
    ]
    for state, trigger, context in steps:
        print(describe(machine.process(state, trigger, context)))

    rejected = machine.process("OPEN", "execution_report", {**order, "fill_qty": 0})
    print(f"metadata of the rejection: {dict(rejected.metadata)}")
    try:
        rejected.raise_for_error()
    except GuardRejectedError as exc:
        print(f"raise_for_error(): {exc.code} guard={exc.guard_name} state={exc.current_state}")


def run_actions_yourself(machine: StateMachine) -> None:
    heading("3. Run the actions after persisting the new state")
    executor = ActionExecutor(machine.action_registry)
    context = {"order_id": "A-2", "order_qty": 10, "fill_qty": 10}
    result = machine.process("OPEN", "execution_report", context)
    print(describe(result))
    print("  (persist the new state here, then run the actions)")
    report = executor.execute(result, context)
    print(f"  ran {[o.name for o in report.outcomes]} -> success={report.success}")
    nothing = executor.execute(machine.process("FILLED", "cancel"))
    print(f"  a failed result runs nothing: outcomes={nothing.outcomes}")


def entity_session(machine: StateMachine) -> None:
    heading("4. EntitySession: one order held in memory")
    order = machine.create(context={"order_id": "A-3", "order_qty": 100})
    print(f"{order!r}: is_pending={order.is_pending} allowed={order.allowed_triggers}")

    order.send("exchange_ack")  # runs the on_enter action of OPEN
    print(f"after exchange_ack: {order.current_state}")

    order.execution_report(fill_qty=60)  # a trigger method; the payload joins the context
    print(f"after a partial fill: {order.current_state}, context={order.context}")

    # Persist the entity anywhere as JSON, then pick it up again (another process, later).
    snapshot = order.snapshot()
    print(f"snapshot keys: {sorted(snapshot)}; state={snapshot['state']}")
    stored = json.dumps(snapshot)
    restored = EntitySession.from_snapshot(machine, json.loads(stored))
    print(f"restored: {restored.current_state}, context={restored.context}")

    failed = restored.send("execution_report", fill_qty=0)
    print(
        f"a rejected event changes nothing: success={failed.success}, "
        f"still {restored.current_state}, fill_qty={restored.context['fill_qty']}"
    )

    restored.send("execution_report", fill_qty=100)
    print(f"after the last fill: {restored.current_state}, is_final={restored.is_final}")


def metrics(machine: StateMachine) -> None:
    heading("5. Hooks: metrics of every process call")
    collector = MetricsCollector()
    machine.add_hook(collector)
    for trigger in ("exchange_ack", "exchange_reject", "cancel", "execution_report"):
        machine.process("PENDING", trigger)
    summary = collector.get_summary()
    print(
        f"total_transitions={summary['total_transitions']} "
        f"success_rate={summary['success_rate']:.2f} by_reason={summary['by_reason']}"
    )
    print(f"duration keys: {sorted(summary['duration'])}")


def main() -> None:
    quick_start()
    machine = build_workflow()
    stateless_processing(machine)
    run_actions_yourself(machine)
    entity_session(machine)
    metrics(machine)
    print("\nbasic_usage: done")


if __name__ == "__main__":
    main()
