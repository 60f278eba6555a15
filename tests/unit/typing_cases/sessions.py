# ruff: noqa: E501
# fmt: off
"""Checked by mypy (with ``plugins = pydantic.mypy, pystator.mypy``), never run.

A line whose trailing comment is ``E: <message>`` must give exactly that error, ``N: <text>``
that note; every other line must pass ``mypy --strict``.
"""

from __future__ import annotations

from typing import Any, reveal_type

from pydantic import BaseModel

from pystator import EntitySession, Machine, State, TransitionResult
from pystator.runtime.classes import History, MachineSession, Region


class OrderContext(BaseModel):
    order_qty: int
    filled_qty: int = 0


class Order(Machine[OrderContext]):
    PENDING = State(initial=True)
    OPEN = State()
    WORKING = State(parent=OPEN, initial=True)
    BACK = History(OPEN)
    FILLED = State(terminal=True)
    MONITORING = State(parallel=True)
    feed = Region(MONITORING)
    STREAMING = State(parent=feed)

    exchange_ack = PENDING.to(OPEN)
    fill = OPEN.to(FILLED, guards=["is_full_fill"]) | PENDING.to(FILLED)
    settle = OPEN.to(FILLED, auto=True)
    expire = PENDING.to(FILLED, after="5s")
    finished = OPEN.done.to(FILLED)

    def is_full_fill(self, ctx: OrderContext) -> bool:
        return ctx.filled_qty >= ctx.order_qty


def use(order: MachineSession[Order, OrderContext]) -> None:
    result: TransitionResult = order.exchange_ack()
    order.fill(filled_qty=3)
    flags: list[bool] = [order.is_pending, order.is_open, order.is_working, order.is_streaming]
    ctx: OrderContext = order.context
    session: EntitySession = order
    print(result, flags, ctx, session)
    order.exchange_akc()  # E: Session of "Order" has no attribute "exchange_akc"; maybe "exchange_ack"?  [attr-defined]
    pending: bool = order.is_pendng  # E: Session of "Order" has no attribute "is_pendng"; maybe "is_pending"?  [attr-defined]
    order.settle()  # E: Session of "Order" has no attribute "settle"  [attr-defined]
    order.expire()  # E: Session of "Order" has no attribute "expire"  [attr-defined]
    back: bool = order.is_back  # E: Session of "Order" has no attribute "is_back"  [attr-defined]
    wrong: str = order.context  # E: Incompatible types in assignment (expression has type "OrderContext", variable has type "str")  [assignment]
    print(pending, back, wrong)


order = Order.create(context={"order_qty": 1})
reveal_type(order)  # N: Revealed type is "pystator.runtime.classes.MachineSession[sessions.Order, sessions.OrderContext]"
reveal_type(Order.restore(order.snapshot()).context)  # N: Revealed type is "sessions.OrderContext"
use(order)


class Door(Machine):
    CLOSED = State(initial=True)
    OPENED = State()
    open = CLOSED.to(OPENED)


door = Door.create()
door.open()
opened: bool = door.is_opened
reveal_type(door.context)  # N: Revealed type is "dict[str, Any]"
door.opne()  # E: Session of "Door" has no attribute "opne"; maybe "open"?  [attr-defined]
untyped: Any = Door.machine().create().anything
