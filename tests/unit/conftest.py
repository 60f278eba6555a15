"""Small builders shared by the unit tests: plain-data machines, no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from pystator import StateMachine


def definition(
    states: list[dict[str, Any]],
    transitions: list[dict[str, Any]] | None = None,
    **meta: Any,
) -> dict[str, Any]:
    """A definition as plain data, with ``machine_name`` defaulting to ``m``."""
    return {
        "meta": {"machine_name": "m", **meta},
        "states": states,
        "transitions": transitions or [],
    }


def build(
    states: list[dict[str, Any]],
    transitions: list[dict[str, Any]] | None = None,
    **meta: Any,
) -> StateMachine:
    return StateMachine.from_dict(definition(states, transitions, **meta))


def traced(name: str, **extra: Any) -> dict[str, Any]:
    """A state whose entry and exit actions are named after it (``en_X`` / ``ex_X``)."""
    return {"name": name, "on_enter": [f"en_{name}"], "on_exit": [f"ex_{name}"], **extra}


ORDER = definition(
    [
        {"name": "PENDING", "type": "initial"},
        {"name": "OPEN", "type": "stable"},
        {"name": "FILLED", "type": "terminal"},
        {"name": "CANCELLED", "type": "terminal"},
    ],
    [
        {"trigger": "exchange_ack", "source": "PENDING", "dest": "OPEN"},
        {"trigger": "fill", "source": "OPEN", "dest": "FILLED", "guards": ["is_full_fill"]},
        {"trigger": "cancel", "source": ["PENDING", "OPEN"], "dest": "CANCELLED"},
    ],
    machine_name="order_management",
    version="1.0.0",
)


@pytest.fixture
def order_machine() -> StateMachine:
    """The quick-start order machine with its ``is_full_fill`` guard registered."""
    machine = StateMachine.from_dict(ORDER)

    @machine.guard("is_full_fill")
    def is_full_fill(ctx: Any) -> bool:
        return bool(ctx.get("fill_qty", 0) >= ctx.get("order_qty", 1))

    return machine
