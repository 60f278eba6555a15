"""A machine defined directly in Python, with the same Pydantic models YAML produces.

Run: python examples/python_defined_machine.py

Building ``MachineDefinition`` and its parts in Python gives type checking and editor
completion; the result is the exact model a YAML or JSON file loads to, so the two forms
round-trip to equal models.
"""

from __future__ import annotations

from pydantic import BaseModel

from pystator import (
    ActionSpec,
    GuardSpec,
    MachineDefinition,
    MachineMeta,
    StateDefinition,
    StateMachine,
    TransitionDefinition,
)
from pystator.loaders import load_json_string, load_yaml_string


class OrderContext(BaseModel):
    """The context contract: process() refuses a context that does not fit it."""

    order_id: str
    order_qty: int
    fill_qty: int = 0


definition = MachineDefinition(
    meta=MachineMeta(machine_name="python_orders", version="1.0.0", validate_context=True),
    states=(
        StateDefinition(name="PENDING", type="initial"),
        StateDefinition(name="OPEN", on_enter=(ActionSpec(name="notify", params={"to": "desk"}),)),
        StateDefinition(name="FILLED", type="terminal"),
        StateDefinition(name="CANCELLED", type="terminal"),
    ),
    transitions=(
        TransitionDefinition(trigger="ack", source="PENDING", dest="OPEN"),
        TransitionDefinition(
            trigger="fill",
            source="OPEN",
            dest="FILLED",
            guards=(GuardSpec(name="is_full_fill"),),
        ),
        TransitionDefinition(trigger="cancel", source=("PENDING", "OPEN"), dest="CANCELLED"),
    ),
)

machine = StateMachine.from_definition(definition, context_model=OrderContext)


@machine.guard("is_full_fill")
def is_full_fill(ctx: dict[str, int]) -> bool:
    return ctx["fill_qty"] >= ctx["order_qty"]


@machine.action("notify")
def notify(ctx: dict[str, object], to: str) -> None:
    print(f"  notify {to}: order {ctx['order_id']} is open")


def main() -> None:
    # The Python-built definition, its YAML and its JSON are one and the same model.
    from_yaml = load_yaml_string(machine.to_yaml())
    from_json = load_json_string(machine.to_json())
    print("YAML and JSON round trips equal:", from_yaml == definition == from_json)

    bad = machine.process("PENDING", "ack", {"order_id": "A1", "order_qty": "ten"})
    print("bad context:", bad.success, bad.metadata["reason"], bad.metadata["errors"])

    order = machine.create(context={"order_id": "A1", "order_qty": 10})
    order.send("ack")
    print("after ack:", order.current_state)
    partial = order.send("fill", fill_qty=4)
    print("partial fill:", partial.success, partial.metadata.get("reason"))
    order.send("fill", fill_qty=10)
    print("after full fill:", order.current_state, "final:", order.is_final)


if __name__ == "__main__":
    main()
