"""A machine written as a Python class: states and transitions are attributes, guards and
actions are methods, the context model is the type parameter.

Run: python examples/python_defined_machine.py

The class builds the same ``MachineDefinition`` a YAML or JSON file loads to, so the forms
round-trip to equal models; ``Order.create()`` gives a session whose trigger methods,
``is_<state>`` properties and context mypy knows (with ``plugins = ["pystator.mypy"]``).
"""

from __future__ import annotations

from pydantic import BaseModel

from pystator import ActionSpec, Machine, State, StateMachine
from pystator.loaders import load_json_string, load_yaml_string


class OrderContext(BaseModel):
    """The context contract: a context that does not fit it is refused."""

    order_id: str
    order_qty: int
    fill_qty: int = 0


class PythonOrders(Machine[OrderContext], version="1.0.0"):
    """An exchange order, written in Python."""

    PENDING = State(initial=True)
    OPEN = State(on_enter=[ActionSpec(name="notify", params={"to": "desk"})])
    FILLED = State(terminal=True)
    CANCELLED = State(terminal=True)

    ack = PENDING.to(OPEN)
    fill = OPEN.to(FILLED, guards=["is_full_fill"])
    cancel = CANCELLED.from_(PENDING, OPEN)

    def is_full_fill(self, ctx: OrderContext) -> bool:
        return ctx.fill_qty >= ctx.order_qty

    def notify(self, ctx: OrderContext, to: str) -> None:
        print(f"  notify {to}: order {ctx.order_id} is open")


def main() -> None:
    machine = PythonOrders.machine()
    definition = PythonOrders.definition
    print("machine name:", definition.meta.machine_name, "-", definition.meta.description)

    # The class's definition, its YAML and its JSON are one and the same model.
    from_yaml = load_yaml_string(machine.to_yaml())
    from_json = load_json_string(machine.to_json())
    print("YAML and JSON round trips equal:", from_yaml == definition == from_json)
    # The definition alone works too; guards are then registered as usual.
    plain = StateMachine.from_definition(definition, context_model=OrderContext)
    acked = plain.process("PENDING", "ack", {"order_id": "A0", "order_qty": 1})
    print("from_definition:", acked.source_state, "->", acked.target_state)

    bad = machine.process("PENDING", "ack", {"order_id": "A1", "order_qty": "ten"})
    print("bad context:", bad.success, bad.metadata["reason"], bad.metadata["errors"])

    order = PythonOrders.create(context={"order_id": "A1", "order_qty": 10})
    order.ack()
    print("after ack:", order.current_state, "is_open:", order.is_open)
    partial = order.fill(fill_qty=4)
    print("partial fill:", partial.success, partial.metadata.get("reason"))
    order.fill(fill_qty=10)
    print("after full fill:", order.current_state, "final:", order.is_final)
    print("context:", order.context)


if __name__ == "__main__":
    main()
