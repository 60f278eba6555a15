"""A typed order: a class-defined machine with a context model, an event model and ``assign``.

Shows: a context model as the class's type parameter (guards and actions receive an
instance of it), a payload model for ``fill`` (a bad payload is refused before any guard
runs), ``assign`` adding each fill to ``filled_qty`` without mutating the input, a guard
method of the eventless transition that reads the context the assign made, the same machine
written in YAML (an equal definition, the same results), and a snapshot that keeps the
context as JSON and restores the instance.

Run: ``python examples/typed_order.py``
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from pystator import GuardSpec, Machine, State, StateMachine


class OrderContext(BaseModel):
    """What every order carries; a context that does not fit is refused."""

    order_id: str
    order_qty: int = Field(ge=1)
    filled_qty: int = 0
    fills: int = 0


class FillEvent(BaseModel):
    """The payload of ``fill``: a report from the exchange."""

    qty: int = Field(ge=1)


class TypedOrder(Machine[OrderContext]):
    """An exchange order whose fills add up until it is filled."""

    PENDING = State(initial=True)
    OPEN = State(on_enter=["announce"])
    FILLED = State(terminal=True, on_enter=["announce"])
    CANCELLED = State(terminal=True)

    exchange_ack = PENDING.to(OPEN)
    # A fill stays in OPEN (internal: no exit, no entry) and adds up; the expression guard
    # reads the payload's ``qty`` beside the context's fields.
    fill = OPEN.to(
        OPEN,
        internal=True,
        event=FillEvent,
        guards=[GuardSpec(expr="filled_qty + qty <= order_qty")],
        assign={"filled_qty": "filled_qty + qty", "fills": "fills + 1"},
    )
    # Tried after every event: its guard sees the context the fill's assign made.
    complete = OPEN.to(FILLED, auto=True, guards=["is_complete"])
    cancel = CANCELLED.from_(PENDING, OPEN)

    def is_complete(self, ctx: OrderContext) -> bool:
        return ctx.filled_qty >= ctx.order_qty

    def announce(self, ctx: OrderContext) -> None:
        print(f"  announce: order {ctx.order_id} {ctx.filled_qty}/{ctx.order_qty}")


# The same machine as a YAML document. The models are Python's, so they are given to the
# loader; a YAML-only machine would declare them in its `context:` and `events:` sections.
TYPED_ORDER_YAML = """
meta:
  machine_name: typed_order
  description: An exchange order whose fills add up until it is filled.
states:
  - {name: PENDING, type: initial}
  - {name: OPEN, on_enter: [announce]}
  - {name: FILLED, type: terminal, on_enter: [announce]}
  - {name: CANCELLED, type: terminal}
transitions:
  - {trigger: exchange_ack, source: PENDING, dest: OPEN}
  - trigger: fill
    source: OPEN
    dest: OPEN
    internal: true
    guards: [{expr: "filled_qty + qty <= order_qty"}]
    assign: {filled_qty: "filled_qty + qty", fills: "fills + 1"}
  - {source: OPEN, dest: FILLED, auto: true, guards: [is_complete]}
  - {trigger: cancel, source: [PENDING, OPEN], dest: CANCELLED}
"""


def session_walkthrough() -> None:
    order = TypedOrder.create(context={"order_id": "A-1", "order_qty": "10"})
    print("context model:", type(order.context).__name__, "order_qty:", order.context.order_qty)
    order.exchange_ack()
    print("after exchange_ack:", order.current_state)

    result = order.fill(qty=4)  # the session adopts result.context, a new instance
    print(f"fill 4: {result.target_state} filled_qty={order.context.filled_qty}", end="")
    print(f" fills={order.context.fills} adopted={order.context is result.context}")

    bad = order.fill(qty="many")
    print("bad payload:", bad.metadata["reason"], bad.metadata["errors"])
    error = bad.error
    if error is not None:
        print("error:", type(error).__name__, error.code.value)

    over = order.fill(qty=7)
    print("overfill:", over.metadata["reason"], "- still", order.context.filled_qty)

    done = order.fill(qty=6)
    print(f"fill 6: {done.target_state} filled_qty={order.context.filled_qty}", end="")
    print(f" fills={order.context.fills} final={order.is_final}")

    snapshot = order.snapshot()
    print("snapshot context:", snapshot["context"])
    restored = TypedOrder.restore(snapshot)
    print("restored:", type(restored.context).__name__, restored.context == order.context)


def stateless_process() -> None:
    machine = TypedOrder.machine()
    # ``process`` reads the payload's declared fields from the context it is given.
    given = {"order_id": "B-2", "order_qty": 5, "filled_qty": 1, "qty": 2}
    before = dict(given)
    result = machine.process("OPEN", "fill", given)
    print("process:", result.target_state, repr(result.context))
    print("input unchanged:", given == before)
    print("as JSON:", machine.context_json(result.context))


def same_machine_in_yaml() -> None:
    from_yaml = StateMachine.from_yaml_string(
        TYPED_ORDER_YAML, context_model=OrderContext, event_models={"fill": FillEvent}
    )
    print("class definition == YAML definition:", from_yaml.definition == TypedOrder.definition)
    # The class's methods are registered on its machine; the YAML machine borrows them.
    typed = TypedOrder.machine()
    from_yaml.bind_guards(typed.guard_registry)
    from_yaml.bind_actions(typed.action_registry)
    given = {"order_id": "C-3", "order_qty": 3, "filled_qty": 1, "qty": 2}
    same = from_yaml.process("OPEN", "fill", given) == typed.process("OPEN", "fill", given)
    print("same result from both:", same)
    print("payload schema of fill:", from_yaml.event_schemas()["fill"]["required"])


def main() -> None:
    session_walkthrough()
    stateless_process()
    same_machine_in_yaml()
    print("typed_order: done")


if __name__ == "__main__":
    main()
